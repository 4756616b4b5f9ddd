import { CreateAppInputSchema } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { FLAVORS } from '../__fixtures__/flavors.js';
import { defaultFlavor, resolveAppSpec } from './spec-resolver.js';
import { parseInput } from './validation.js';

const GiB = 1024 ** 3;

const APP_ID = '8d7f3c1e-5b0a-4c4e-9a57-0c2f8e1d2b3a';

function resolve(body: unknown, tokenSelector?: string) {
  const input = parseInput(CreateAppInputSchema, body);
  return resolveAppSpec(input, {
    appId: APP_ID,
    flavors: FLAVORS,
    generateName: () => 'swift-otter-0a1b',
    tokenSelector,
  });
}

/** The 400 (or other) error `fn` throws: code, message, details. */
function failure(fn: () => unknown): { code: string; status: number; message: string; details: unknown } {
  try {
    fn();
  } catch (error) {
    if (error instanceof GantryError)
      return { code: error.code, status: error.status, message: error.message, details: error.details };
    throw error;
  }
  throw new Error('expected a GantryError, got none');
}

describe('resolveAppSpec: defaults', () => {
  it('turns {image} into a full spec: 1 unit of the default CPU flavor, port 8080, 1 replica, probe /, secured', () => {
    const { spec, rate } = resolve({ image: 'registry.example.com/team/model:1.2' });
    expect(spec).toEqual({
      name: 'swift-otter-0a1b',
      image: 'registry.example.com/team/model:1.2',
      envVars: [],
      labels: { 'gantry/id': APP_ID },
      resources: {
        flavor: 'ai1-1-cpu',
        type: 'cpu',
        units: 1,
        cpu: 1,
        gpu: 0,
        memory: 4 * GiB,
        ephemeralStorage: 20 * GiB,
        publicNetwork: 31_250_000,
        privateNetwork: 0,
      },
      scalingStrategy: { fixed: { replicas: 1 } },
      defaultHttpPort: 8080,
      probe: { path: '/', port: 8080, startupGraceSeconds: 0 },
      unsecureHttp: false,
      deploymentStrategy: {
        maxSurge: '25%',
        maxUnavailable: '25%',
        progressDeadlineSeconds: 600,
        autoRollback: false,
      },
    });
    expect(rate).toEqual({ flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' });
  });

  it('keeps what the user gave: name, command, env, labels, replicas, ports, probe, strategy', () => {
    const { spec } = resolve({
      image: 'pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime',
      name: 'my model',
      command: ['python', 'serve.py'],
      envVars: [{ name: 'MODEL', value: 'resnet' }],
      labels: { team: 'vision' },
      scalingStrategy: { fixed: { replicas: 3 } },
      defaultHttpPort: 8501,
      grpcPort: 9000,
      probe: { path: '/health' },
      unsecureHttp: true,
      deploymentStrategy: {
        maxSurge: 1,
        maxUnavailable: '0%',
        progressDeadlineSeconds: 120,
        autoRollback: true,
      },
    });
    expect(spec).toMatchObject({
      name: 'my model',
      command: ['python', 'serve.py'],
      envVars: [{ name: 'MODEL', value: 'resnet' }],
      labels: { team: 'vision', 'gantry/id': APP_ID },
      scalingStrategy: { fixed: { replicas: 3 } },
      defaultHttpPort: 8501,
      grpcPort: 9000,
      probe: { path: '/health', port: 8501 },
      unsecureHttp: true,
      deploymentStrategy: {
        maxSurge: '1',
        maxUnavailable: '0%',
        progressDeadlineSeconds: 120,
        autoRollback: true,
      },
    });
  });

  it('gives a liveness probe only when asked, on the readiness path and port unless it names its own', () => {
    expect(resolve({ image: 'x:1', defaultHttpPort: 8501 }).spec.probe).toEqual({
      path: '/',
      port: 8501,
      startupGraceSeconds: 0,
    });
    expect(
      resolve({ image: 'x:1', probe: { path: '/ready', startupGraceSeconds: 120, liveness: {} } }).spec.probe,
    ).toEqual({
      path: '/ready',
      port: 8080,
      startupGraceSeconds: 120,
      liveness: { path: '/ready', port: 8080, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    });
    expect(
      resolve({
        image: 'x:1',
        probe: {
          liveness: {
            path: '/healthz',
            port: 9000,
            periodSeconds: 1,
            failureThreshold: 30,
            timeoutSeconds: 60,
          },
        },
      }).spec.probe.liveness,
    ).toEqual({ path: '/healthz', port: 9000, periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 60 });
  });

  it('refuses the reserved gantry/ label prefix with 400 naming the label', () => {
    const f = failure(() => resolve({ image: 'x:1', labels: { 'gantry/id': 'other' } }));
    expect(f).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(f.message).toBe('labels.gantry/id: the gantry/ prefix is reserved for the platform');
  });
});

describe('resolveAppSpec: resources from the flavor catalog', () => {
  it('cpu: n → n units of the default CPU flavor, resources × n', () => {
    const { spec } = resolve({ image: 'x:1', resources: { cpu: 4 } });
    expect(spec.resources).toMatchObject({ flavor: 'ai1-1-cpu', units: 4, cpu: 4, gpu: 0, memory: 16 * GiB });
  });

  it('gpu: n → n units of the default GPU flavor, with the GPU model and memory', () => {
    const { spec, rate } = resolve({ image: 'x:1', resources: { gpu: 2 } });
    expect(spec.resources).toEqual({
      flavor: 'ai1-1-gpu',
      type: 'gpu',
      units: 2,
      cpu: 26,
      gpu: 2,
      memory: 80 * GiB,
      ephemeralStorage: 1_300_000_000_000,
      publicNetwork: 312_500_000,
      privateNetwork: 0,
      gpuBrand: 'NVIDIA',
      gpuModel: 'V100S',
      gpuMemory: 64 * GiB,
    });
    expect(rate.unitPriceMicros).toBe(1_930_000);
  });

  it('a flavor alone → 1 unit of it', () => {
    const { spec, rate } = resolve({ image: 'x:1', resources: { flavor: 'h100-1-gpu' } });
    expect(spec.resources).toMatchObject({
      flavor: 'h100-1-gpu',
      units: 1,
      cpu: 28,
      memory: 350 * GiB,
      gpuModel: 'H100',
    });
    expect(spec.resources.ephemeralStorage).toBe(3 * 1024 ** 4);
    expect(rate).toEqual({ flavor: 'h100-1-gpu', unitPriceMicros: 2_990_000, currency: 'EUR' });
  });

  it.each<[string, unknown, string]>([
    ['cpu and gpu together', { cpu: 1, gpu: 1 }, 'resources: cpu and gpu cannot both be set: pick one'],
    [
      'more CPUs than the flavor allows',
      { cpu: 13 },
      'resources.cpu: at most 12 CPUs per replica with flavor ai1-1-cpu (asked for 13)',
    ],
    [
      'more GPUs than the flavor allows',
      { gpu: 5, flavor: 'h100-1-gpu' },
      'resources.gpu: at most 4 GPUs per replica with flavor h100-1-gpu',
    ],
    [
      'an unknown flavor',
      { flavor: 'ai9-tpu' },
      'resources.flavor: unknown flavor "ai9-tpu"; available: ai1-1-cpu, ai1-1-gpu, h100-1-gpu',
    ],
    [
      'CPUs of a GPU flavor',
      { flavor: 'ai1-1-gpu', cpu: 2 },
      'resources.cpu: flavor ai1-1-gpu is a GPU flavor: set resources.gpu instead',
    ],
    [
      'GPUs of a CPU flavor',
      { flavor: 'ai1-1-cpu', gpu: 1 },
      'resources.gpu: flavor ai1-1-cpu is a CPU flavor: set resources.cpu instead',
    ],
    ['zero units', { cpu: 0 }, 'resources.cpu: must be at least 1 CPU'],
    ['a fraction of a GPU', { gpu: 0.5 }, 'resources.gpu: must be a whole number of GPUs'],
    ['a wrongly typed count', { cpu: 'one' }, 'resources.cpu: must be a whole number of CPUs'],
    ['an unknown resource field', { tpu: 1 }, 'resources.tpu: is not a known field'],
  ])('%s → 400 naming the field', (_what, resources, message) => {
    const f = failure(() => resolve({ image: 'x:1', resources }));
    expect(f.status).toBe(400);
    expect(f.message).toContain(message);
  });

  it('the default flavor of a type is the flagged one, else the first by id', () => {
    expect(defaultFlavor(FLAVORS, 'gpu')?.id).toBe('ai1-1-gpu');
    expect(
      defaultFlavor(
        FLAVORS.map((f) => ({ ...f, default: false })),
        'gpu',
      )?.id,
    ).toBe('ai1-1-gpu');
    expect(
      defaultFlavor(
        FLAVORS.filter((f) => f.type === 'cpu'),
        'gpu',
      ),
    ).toBeUndefined();
    const f = failure(() =>
      resolveAppSpec(parseInput(CreateAppInputSchema, { image: 'x:1', resources: { gpu: 1 } }), {
        appId: APP_ID,
        flavors: FLAVORS.filter((x) => x.type === 'cpu'),
        generateName: () => 'n',
      }),
    );
    expect(f.message).toBe('resources.gpu: no GPU flavor is available');
  });
});

describe('CreateAppInput validation: every field named', () => {
  it.each<[string, unknown, string]>([
    ['a missing image', { name: 'x' }, 'image: is required'],
    ['a body that is not an object', ['image'], 'body: the body must be a JSON object'],
    ['no body', undefined, 'body: is required'],
    ['an unknown field', { image: 'x:1', colour: 'blue' }, 'colour: is not a known field'],
    ['a wrongly typed image', { image: 42 }, 'image: must be a string'],
    ['an image with uppercase name', { image: 'Ubuntu:22.04' }, 'image: must be an image reference'],
    ['an image with spaces', { image: 'ubuntu 22.04' }, 'image: must be an image reference'],
    ['an image with an empty tag', { image: 'ubuntu:' }, 'image: must be an image reference'],
    [
      'a port out of range',
      { image: 'x:1', defaultHttpPort: 70000 },
      'defaultHttpPort: must be at most 65535',
    ],
    ['a port of 0', { image: 'x:1', probe: { port: 0 } }, 'probe.port: must be at least 1'],
    ['a probe path without /', { image: 'x:1', probe: { path: 'health' } }, 'probe.path: must start with /'],
    [
      'a negative startup grace',
      { image: 'x:1', probe: { startupGraceSeconds: -1 } },
      'probe.startupGraceSeconds: must be at least 0',
    ],
    [
      'a startup grace over an hour',
      { image: 'x:1', probe: { startupGraceSeconds: 3601 } },
      'probe.startupGraceSeconds: must be at most 3600',
    ],
    [
      'a fractional startup grace',
      { image: 'x:1', probe: { startupGraceSeconds: 1.5 } },
      'probe.startupGraceSeconds: must be a whole number of seconds (0-3600)',
    ],
    [
      'a liveness probe that is not an object',
      { image: 'x:1', probe: { liveness: '/healthz' } },
      'probe.liveness: must be an object like {"path": "/healthz", "periodSeconds": 10, "failureThreshold": 3}',
    ],
    [
      'an unknown liveness field',
      { image: 'x:1', probe: { liveness: { initialDelaySeconds: 5 } } },
      'probe.liveness.initialDelaySeconds: is not a known field',
    ],
    [
      'a liveness path without /',
      { image: 'x:1', probe: { liveness: { path: 'healthz' } } },
      'probe.liveness.path: must start with /',
    ],
    [
      'a liveness period of 0',
      { image: 'x:1', probe: { liveness: { periodSeconds: 0 } } },
      'probe.liveness.periodSeconds: must be at least 1',
    ],
    [
      'a liveness period over 300 s',
      { image: 'x:1', probe: { liveness: { periodSeconds: 301 } } },
      'probe.liveness.periodSeconds: must be at most 300',
    ],
    [
      'a liveness failure threshold over 30',
      { image: 'x:1', probe: { liveness: { failureThreshold: 31 } } },
      'probe.liveness.failureThreshold: must be at most 30',
    ],
    [
      'a liveness threshold that is not a number',
      { image: 'x:1', probe: { liveness: { failureThreshold: '3' } } },
      'probe.liveness.failureThreshold: must be a whole number of failures (1-30)',
    ],
    [
      'a liveness timeout over 60 s',
      { image: 'x:1', probe: { liveness: { timeoutSeconds: 61 } } },
      'probe.liveness.timeoutSeconds: must be at most 60',
    ],
    [
      'a grpc port equal to the http port',
      { image: 'x:1', grpcPort: 8080 },
      'grpcPort: must differ from defaultHttpPort (8080)',
    ],
    [
      'too many replicas',
      { image: 'x:1', scalingStrategy: { fixed: { replicas: 11 } } },
      'scalingStrategy.fixed.replicas: must be at most 10',
    ],
    [
      'no replicas',
      { image: 'x:1', scalingStrategy: { fixed: { replicas: 0 } } },
      'scalingStrategy.fixed.replicas: must be at least 1',
    ],
    [
      'automatic scaling without replicasMax',
      { image: 'x:1', scalingStrategy: { automatic: { replicasMin: 1 } } },
      'scalingStrategy.automatic.replicasMax: is required',
    ],
    ['a bad label key', { image: 'x:1', labels: { '-bad': 'x' } }, 'labels.-bad: label keys are'],
    ['a bad label value', { image: 'x:1', labels: { team: 'a b' } }, 'labels.team: label values are'],
    [
      'a label value that is not a string',
      { image: 'x:1', labels: { team: 1 } },
      'labels.team: label values must be strings',
    ],
    [
      'a duplicate env var',
      {
        image: 'x:1',
        envVars: [
          { name: 'A', value: '1' },
          { name: 'A', value: '2' },
        ],
      },
      'envVars.1.name: A is set twice',
    ],
    [
      'a reserved env var',
      { image: 'x:1', envVars: [{ name: 'GANTRY_APP_ID', value: 'x' }] },
      'envVars.0.name: names starting with GANTRY_ are reserved',
    ],
    [
      'an env value with NUL',
      { image: 'x:1', envVars: [{ name: 'A', value: 'a\u0000b' }] },
      'envVars.0.value: must not contain NUL',
    ],
    [
      'a lone surrogate in a name',
      { image: 'x:1', name: 'bad \ud800' },
      'name: must not contain NUL characters or unpaired surrogates',
    ],
    ['an empty command', { image: 'x:1', command: [] }, 'command: must hold at least one argument'],
    [
      'a non-boolean unsecureHttp',
      { image: 'x:1', unsecureHttp: 'yes' },
      'unsecureHttp: must be true or false',
    ],
    [
      'a bad maxSurge',
      { image: 'x:1', deploymentStrategy: { maxSurge: '150%' } },
      'deploymentStrategy.maxSurge: must be a whole number of replicas',
    ],
    [
      'maxSurge and maxUnavailable both 0',
      { image: 'x:1', deploymentStrategy: { maxSurge: 0, maxUnavailable: '0%' } },
      'deploymentStrategy: maxSurge and maxUnavailable cannot both be 0',
    ],
  ])('%s → 400 "%s"', (_what, body, message) => {
    const f = failure(() => resolve(body));
    expect(f).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(f.message).toContain(message);
  });

  it('lists every problem in details, each unknown key on its own', () => {
    const f = failure(() => resolve({ colour: 'blue', size: 3, defaultHttpPort: 'http' }));
    expect(f.message).toMatch(/^image: is required \(and 3 more\)$/);
    expect(f.details).toEqual(
      expect.arrayContaining([
        { field: 'image', message: 'is required' },
        { field: 'defaultHttpPort', message: 'must be a number, not a string' },
        { field: 'colour', message: 'is not a known field' },
        { field: 'size', message: 'is not a known field' },
      ]),
    );
  });

  it.each([
    'ubuntu',
    'ubuntu:22.04',
    'library/ubuntu:22.04',
    'ghcr.io/org/repo/model:v1.2.3-rc1',
    'localhost:5000/team/app',
    'registry.example.com:443/a/b_c/d--e:latest',
    'ubuntu@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    'gantry-test/web:1',
  ])('accepts the image reference %s', (image) => {
    expect(resolve({ image }).spec.image).toBe(image);
  });
});

describe('resolveAppSpec: label-scoped tokens', () => {
  it('adds the token selector label so that the app stays within reach', () => {
    expect(resolve({ image: 'x:1' }, 'team=vision').spec.labels).toEqual({
      team: 'vision',
      'gantry/id': APP_ID,
    });
  });

  it('refuses a conflicting label (400) and single-app tokens (403)', () => {
    expect(failure(() => resolve({ image: 'x:1', labels: { team: 'nlp' } }, 'team=vision')).message).toBe(
      'labels.team: a token scoped to team=vision can only create apps labelled team=vision',
    );
    expect(failure(() => resolve({ image: 'x:1' }, `gantry/id=${APP_ID}`))).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
    });
  });
});
