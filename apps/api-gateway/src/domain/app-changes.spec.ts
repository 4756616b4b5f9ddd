import {
  type AppSpec,
  SetImageInputSchema,
  SetLabelInputSchema,
  SetScalingStrategyInputSchema,
  UpdateAppInputSchema,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { FLAVORS } from '../__fixtures__/flavors.js';
import { applyChange, assertChangeable, type ChangeContext, MAX_USER_LABELS } from './app-changes.js';
import { parseInput } from './validation.js';

const SPEC: AppSpec = {
  name: 'web',
  image: 'registry.example.com/team/web:1',
  envVars: [],
  labels: { team: 'vision', 'gantry/id': 'a1' },
  resources: {
    flavor: 'ai1-1-gpu',
    type: 'gpu',
    units: 1,
    cpu: 13,
    gpu: 1,
    memory: 40 * 1024 ** 3,
    ephemeralStorage: 0,
    publicNetwork: 0,
    privateNetwork: 0,
  },
  scalingStrategy: { fixed: { replicas: 1 } },
  defaultHttpPort: 8080,
  probe: { path: '/', port: 8080 },
  unsecureHttp: false,
  deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
};

const UNSCOPED: ChangeContext = { tokenSelector: null };

/** The GantryError `fn` throws. */
function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof GantryError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a GantryError, got none');
}

const label = (body: unknown, ctx = UNSCOPED, spec = SPEC) =>
  applyChange(spec, { kind: 'label', input: parseInput(SetLabelInputSchema, body) }, ctx);
const scale = (body: unknown, spec = SPEC) =>
  applyChange(spec, { kind: 'scaling', input: parseInput(SetScalingStrategyInputSchema, body) }, UNSCOPED);
const update = (body: unknown, spec = SPEC) =>
  applyChange(
    spec,
    { kind: 'update', input: parseInput(UpdateAppInputSchema, body) },
    { ...UNSCOPED, flavors: FLAVORS },
  );
const image = (body: unknown) =>
  applyChange(SPEC, { kind: 'image', input: parseInput(SetImageInputSchema, body) }, UNSCOPED);

describe('labels', () => {
  it('sets, changes and removes a label, saying what changed', () => {
    expect(label({ name: 'stage', value: 'prod' })).toEqual({
      spec: { ...SPEC, labels: { ...SPEC.labels, stage: 'prod' } },
      changes: ['label stage set to "prod"'],
    });
    expect(label({ name: 'team', value: 'nlp' }).changes).toEqual([
      'label team changed from "vision" to "nlp"',
    ]);
    const removed = label({ name: 'team' });
    expect(removed.spec.labels).toEqual({ 'gantry/id': 'a1' });
    expect(removed.changes).toEqual(['label team removed (was "vision")']);
    expect(label({ name: 'team', value: null }).spec.labels).toEqual({ 'gantry/id': 'a1' });
  });

  it('changes nothing when the label already says so', () => {
    expect(label({ name: 'team', value: 'vision' })).toEqual({ spec: SPEC, changes: [] });
    expect(label({ name: 'absent' })).toEqual({ spec: SPEC, changes: [] });
  });

  it('refuses platform labels (400 naming the key) and bad keys or values', () => {
    expect(failure(() => label({ name: 'gantry/id', value: 'x' }))).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'name: "gantry/id" is reserved: the gantry/ prefix belongs to the platform',
    });
    expect(failure(() => label({ name: 'gantry/id' })).message).toContain('"gantry/id" is reserved');
    expect(failure(() => label({ name: '-x', value: 'a' })).message).toMatch(/^name: label keys are/);
    expect(failure(() => label({ name: 'x', value: 'a b' })).message).toMatch(/^value: label values are/);
    expect(failure(() => label({ key: 'x', value: 'a' })).message).toMatch(/^key: the label body is/);
    expect(failure(() => label({ value: 'a' })).message).toBe('name: is required');
  });

  it('refuses a 65th label', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_USER_LABELS }, (_, i) => [`l${i}`, 'x']));
    const full = { ...SPEC, labels: { ...many, 'gantry/id': 'a1' } };
    expect(failure(() => label({ name: 'one-more', value: 'x' }, UNSCOPED, full)).message).toBe(
      `name: the app already has ${MAX_USER_LABELS} labels: remove one first`,
    );
    expect(label({ name: 'l0', value: 'y' }, UNSCOPED, full).changes).toHaveLength(1);
  });

  it('keeps a label-scoped token from moving the app out of its reach (403)', () => {
    const scoped = { tokenSelector: 'team=vision' };
    expect(failure(() => label({ name: 'team', value: 'nlp' }, scoped))).toEqual({
      code: 'FORBIDDEN',
      message: 'a token scoped to team=vision cannot change label team: the app would leave its reach',
    });
    expect(failure(() => label({ name: 'team' }, scoped)).message).toContain('cannot remove label team');
    expect(label({ name: 'stage', value: 'prod' }, scoped).changes).toHaveLength(1);
    expect(label({ name: 'team', value: 'vision' }, scoped).changes).toEqual([]);
  });
});

describe('scaling strategy', () => {
  it('sets a fixed replica count', () => {
    expect(scale({ fixed: { replicas: 3 } })).toEqual({
      spec: { ...SPEC, scalingStrategy: { fixed: { replicas: 3 } } },
      changes: ['replicas 1 → 3'],
    });
    expect(scale({ fixed: { replicas: 1 } }).changes).toEqual([]);
  });

  it('switches to automatic scaling with every default applied, and back', () => {
    const auto = scale({ automatic: { replicasMin: 0, replicasMax: 4 } });
    expect(auto.spec.scalingStrategy).toEqual({
      automatic: {
        replicasMin: 0,
        replicasMax: 4,
        resourceType: 'CPU',
        averageUsageTarget: 75,
        scaleUpStabilizationWindowSeconds: 0,
        scaleDownStabilizationWindowSeconds: 300,
        cooldownPeriodSeconds: 300,
      },
    });
    expect(auto.changes).toEqual(['scaling 1 → auto 0–4 on CPU 75 %']);
    // Nothing else of the spec moves: the replicas that serve keep serving.
    expect({ ...auto.spec, scalingStrategy: SPEC.scalingStrategy }).toEqual(SPEC);
    const back = scale({ fixed: { replicas: 2 } }, auto.spec);
    expect(back.changes).toEqual(['scaling auto 0–4 on CPU 75 % → 2']);
    const custom = scale({
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        customMetrics: {
          apiUrl: 'http://<SELF>:6000/metrics',
          format: 'PROMETHEUS',
          valueLocation: 'queue_depth',
          targetValue: 2.5,
        },
      },
    });
    expect(custom.spec.scalingStrategy).toEqual({
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        customMetrics: {
          apiUrl: 'http://<SELF>:6000/metrics',
          format: 'PROMETHEUS',
          valueLocation: 'queue_depth',
          targetValue: 2.5,
          aggregationType: 'AVERAGE',
        },
        scaleUpStabilizationWindowSeconds: 0,
        scaleDownStabilizationWindowSeconds: 300,
      },
    });
  });

  it.each([
    [{ fixed: { replicas: 11 } }, 'fixed.replicas: must be at most 10'],
    [{ fixed: { replicas: 0 } }, 'fixed.replicas: must be at least 1'],
    [{ fixed: { replicas: 2.5 } }, 'fixed.replicas: must be a whole number of replicas (1-10)'],
    [{ fixed: {} }, 'fixed.replicas: is required'],
    [{}, 'set exactly one of fixed and automatic'],
    [
      { fixed: { replicas: 2 }, automatic: { replicasMin: 1, replicasMax: 3 } },
      'set exactly one of fixed and automatic',
    ],
    [{ automatic: { replicasMin: 1 } }, 'automatic.replicasMax: is required'],
    [{ automatic: { replicasMin: 11, replicasMax: 3 } }, 'automatic.replicasMin: must be at most 10'],
    [
      { automatic: { replicasMin: 3, replicasMax: 2 } },
      'automatic.replicasMax: must be at least replicasMin (3)',
    ],
    [{ automatic: { replicasMin: 0, replicasMax: 0 } }, 'automatic.replicasMax: must be at least 1'],
    [
      { automatic: { replicasMin: 1, replicasMax: 2, cooldownPeriodSeconds: 60 } },
      'automatic.cooldownPeriodSeconds: applies only to an app that scales to zero (replicasMin 0)',
    ],
    [
      { automatic: { replicasMin: 1, replicasMax: 2, averageUsageTarget: 0 } },
      'automatic.averageUsageTarget: must be at least 1',
    ],
    [
      { automatic: { replicasMin: 1, replicasMax: 2, resourceType: 'GPU' } },
      'automatic.resourceType: must be one of CPU, RAM',
    ],
    [
      { automatic: { replicasMin: 1, replicasMax: 2, scaleDownStabilizationWindowSeconds: 3601 } },
      'automatic.scaleDownStabilizationWindowSeconds: must be a whole number of seconds (0-3600)',
    ],
    [
      {
        automatic: {
          replicasMin: 1,
          replicasMax: 2,
          resourceType: 'CPU',
          customMetrics: { apiUrl: 'http://m/x', valueLocation: 'a', targetValue: 1 },
        },
      },
      'automatic.resourceType: cannot be set with customMetrics',
    ],
    [
      {
        automatic: {
          replicasMin: 1,
          replicasMax: 2,
          customMetrics: { apiUrl: 'ftp://m/x', valueLocation: 'a', targetValue: 1 },
        },
      },
      'automatic.customMetrics.apiUrl: must be an http:// or https:// URL',
    ],
    [
      {
        automatic: {
          replicasMin: 1,
          replicasMax: 2,
          customMetrics: { apiUrl: 'http://host/<SELF>', valueLocation: 'a', targetValue: 1 },
        },
      },
      'automatic.customMetrics.apiUrl: <SELF> may only stand for the host',
    ],
    [
      {
        automatic: {
          replicasMin: 1,
          replicasMax: 2,
          customMetrics: { apiUrl: 'http://m/x', valueLocation: 'a', targetValue: 0 },
        },
      },
      'automatic.customMetrics.targetValue: must be above 0',
    ],
    [
      {
        automatic: {
          replicasMin: 1,
          replicasMax: 2,
          customMetrics: { apiUrl: 'http://m/x', valueLocation: 'a', targetValue: 1, format: 'CSV' },
        },
      },
      'automatic.customMetrics.format: must be one of JSON, XML, YAML, PROMETHEUS',
    ],
    [{ fixed: { replicas: 2 }, manual: true }, 'manual: is not a known field'],
  ])('refuses %j: %s', (body, message) => {
    expect(failure(() => scale(body))).toEqual({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining(message) as unknown as string,
    });
  });
});

describe('update (ports, probe, rolling update)', () => {
  it('moves the HTTP port; a probe that followed it follows it', () => {
    const r = update({ defaultHttpPort: 8501 });
    expect(r.spec).toMatchObject({ defaultHttpPort: 8501, probe: { path: '/', port: 8501 } });
    expect(r.changes).toEqual(['defaultHttpPort 8080 → 8501', 'probe / on 8080 → / on 8501']);
  });

  it('keeps an explicit probe port, and takes probe, gRPC and rolling-update fields', () => {
    const own = { ...SPEC, probe: { path: '/health', port: 9000 } };
    expect(update({ defaultHttpPort: 8501 }, own).spec.probe).toEqual({ path: '/health', port: 9000 });
    const r = update({
      grpcPort: 50051,
      probe: { path: '/ready' },
      deploymentStrategy: { maxSurge: 1, progressDeadlineSeconds: 120 },
    });
    expect(r.spec).toMatchObject({
      grpcPort: 50051,
      probe: { path: '/ready', port: 8080 },
      deploymentStrategy: { maxSurge: '1', maxUnavailable: '25%', progressDeadlineSeconds: 120 },
    });
    expect(r.changes).toEqual([
      'grpcPort none → 50051',
      'probe / on 8080 → /ready on 8080',
      'deploymentStrategy.maxSurge 25% → 1',
      'deploymentStrategy.progressDeadlineSeconds 600 → 120',
    ]);
    const dropped = update({ grpcPort: null }, r.spec);
    expect(dropped.spec.grpcPort).toBeUndefined();
    expect('grpcPort' in dropped.spec).toBe(false);
    expect(dropped.changes).toEqual(['grpcPort 50051 → none']);
  });

  it('adds a liveness probe on the readiness path and port with the defaults, then merges field by field', () => {
    const r = update({ probe: { startupGraceSeconds: 60, liveness: { failureThreshold: 5 } } });
    expect(r.spec.probe).toEqual({
      path: '/',
      port: 8080,
      startupGraceSeconds: 60,
      liveness: { path: '/', port: 8080, periodSeconds: 10, failureThreshold: 5, timeoutSeconds: 2 },
    });
    expect(r.changes).toEqual([
      'probe.startupGraceSeconds 0 → 60',
      'liveness probe none → GET / on 8080 every 10 s (restart after 5 failures, 2 s timeout)',
    ]);
    const again = update({ probe: { liveness: { path: '/healthz', periodSeconds: 30 } } }, r.spec);
    expect(again.spec.probe).toEqual({
      path: '/',
      port: 8080,
      startupGraceSeconds: 60,
      liveness: { path: '/healthz', port: 8080, periodSeconds: 30, failureThreshold: 5, timeoutSeconds: 2 },
    });
    expect(again.changes).toEqual([
      'liveness probe GET / on 8080 every 10 s (restart after 5 failures, 2 s timeout) → ' +
        'GET /healthz on 8080 every 30 s (restart after 5 failures, 2 s timeout)',
    ]);
    const removed = update({ probe: { liveness: null } }, again.spec);
    expect(removed.spec.probe).toEqual({ path: '/', port: 8080, startupGraceSeconds: 60 });
    expect(removed.changes).toEqual([
      'liveness probe GET /healthz on 8080 every 30 s (restart after 5 failures, 2 s timeout) → none',
    ]);
  });

  it('moves a liveness path and port that followed the readiness probe with it, and keeps its own', () => {
    const following = update({ probe: { liveness: {} } }).spec;
    const moved = update({ defaultHttpPort: 8501, probe: { path: '/ready' } }, following);
    expect(moved.spec.probe).toEqual({
      path: '/ready',
      port: 8501,
      liveness: { path: '/ready', port: 8501, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    });
    const own = update({ probe: { liveness: { path: '/healthz', port: 9000 } } }).spec;
    expect(update({ defaultHttpPort: 8501, probe: { path: '/ready' } }, own).spec.probe.liveness).toEqual({
      path: '/healthz',
      port: 9000,
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 2,
    });
  });

  it('changes nothing when every value is already so', () => {
    expect(update({ defaultHttpPort: 8080, probe: { path: '/' } })).toEqual({ spec: SPEC, changes: [] });
    // A spec from before the startup grace existed: 0 is what it had.
    expect(update({ probe: { startupGraceSeconds: 0, liveness: null } })).toEqual({
      spec: SPEC,
      changes: [],
    });
    expect(update({ envVars: [], deploymentStrategy: { autoRollback: false } })).toEqual({
      spec: SPEC,
      changes: [],
    });
    const two = update({ resources: { gpu: 2 } }).spec;
    expect(update({ resources: { gpu: 2 } }, two)).toEqual({ spec: two, changes: [] });
  });

  it.each([
    [
      {},
      'must change at least one of envVars, command, resources, defaultHttpPort, grpcPort, probe, deploymentStrategy',
    ],
    [{ defaultHttpPort: 0 }, 'defaultHttpPort: must be at least 1'],
    [{ defaultHttpPort: '80' }, 'defaultHttpPort: must be a number, not a string'],
    [{ grpcPort: 8080 }, 'grpcPort: must differ from defaultHttpPort (8080)'],
    [{ probe: { path: 'health' } }, 'probe.path: must start with /'],
    [{ probe: { port: 70000 } }, 'probe.port: must be at most 65535'],
    [{ probe: { startupGraceSeconds: 4000 } }, 'probe.startupGraceSeconds: must be at most 3600'],
    [{ probe: { liveness: { timeoutSeconds: 0 } } }, 'probe.liveness.timeoutSeconds: must be at least 1'],
    [
      { deploymentStrategy: { maxSurge: 0, maxUnavailable: '0%' } },
      'deploymentStrategy: maxSurge and maxUnavailable cannot both be 0',
    ],
    [{ deploymentStrategy: { maxSurge: '150%' } }, 'deploymentStrategy.maxSurge: must be a whole number'],
    [{ url: 'x:2' }, 'url: change the image with PUT /v1/app/{id}/image'],
    [{ image: 'x:2' }, 'image: change the image with PUT /v1/app/{id}/image'],
    [{ volumes: [] }, 'volumes: is not a known field'],
  ])('refuses %j: %s', (body, message) => {
    expect(failure(() => update(body))).toEqual({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining(message) as unknown as string,
    });
  });

  it('refuses like create: bad env names, duplicates, reserved names, too many arguments, cpu and gpu', () => {
    expect(failure(() => update({ envVars: [{ name: '1X', value: 'a' }] })).message).toBe(
      'envVars.0.name: must start with a letter or _ and hold only letters, digits, _ . -',
    );
    expect(
      failure(() =>
        update({
          envVars: [
            { name: 'A', value: '1' },
            { name: 'A', value: '2' },
          ],
        }),
      ).message,
    ).toBe('envVars.1.name: A is set twice');
    expect(failure(() => update({ envVars: [{ name: 'GANTRY_X', value: 'a' }] })).message).toContain(
      'envVars.0.name: names starting with GANTRY_ are reserved',
    );
    expect(
      failure(() => update({ envVars: [{ name: 'BIG', value: 'x'.repeat(40_000) }] })).message,
    ).toContain('envVars.0.value');
    expect(failure(() => update({ command: [] })).message).toContain(
      'command: must hold at least one argument',
    );
    expect(failure(() => update({ command: Array.from({ length: 65 }, () => 'a') })).message).toBe(
      'command: must hold at most 64 arguments',
    );
    expect(failure(() => update({ command: 'serve' })).message).toContain('command: ');
    expect(failure(() => update({ resources: { cpu: 1, gpu: 1 } })).message).toContain(
      'resources: cpu and gpu cannot both be set',
    );
    expect(failure(() => update({ deploymentStrategy: { autoRollback: 'yes' } })).message).toBe(
      'deploymentStrategy.autoRollback: must be true or false',
    );
  });

  it('names defaultHttpPort when it would take the gRPC port', () => {
    const withGrpc = { ...SPEC, grpcPort: 9000 };
    expect(failure(() => update({ defaultHttpPort: 9000 }, withGrpc)).message).toBe(
      "defaultHttpPort: must differ from the app's grpcPort (9000)",
    );
  });

  it('refuses a rolling update that would move nothing, counting what the spec already has', () => {
    const still = { ...SPEC, deploymentStrategy: { ...SPEC.deploymentStrategy, maxSurge: '0' } };
    expect(failure(() => update({ deploymentStrategy: { maxUnavailable: 0 } }, still)).message).toContain(
      'deploymentStrategy: maxSurge and maxUnavailable cannot both be 0',
    );
  });
});

describe('update (environment, command, resources)', () => {
  const withEnv = {
    ...SPEC,
    envVars: [
      { name: 'API_KEY', value: 'old-secret' },
      { name: 'MODEL', value: 'resnet' },
      { name: 'LEGACY', value: '1' },
    ],
  };

  it('replaces the environment, naming the variables, never their values', () => {
    const r = update(
      {
        envVars: [
          { name: 'API_KEY', value: 'new-secret' },
          { name: 'MODEL', value: 'resnet' },
          { name: 'DEBUG', value: 'true' },
        ],
      },
      withEnv,
    );
    expect(r.spec.envVars).toEqual([
      { name: 'API_KEY', value: 'new-secret' },
      { name: 'MODEL', value: 'resnet' },
      { name: 'DEBUG', value: 'true' },
    ]);
    expect(r.changes).toEqual(['envVars: API_KEY changed, DEBUG added, LEGACY removed']);
    for (const secret of ['old-secret', 'new-secret', 'resnet', 'true'])
      expect(r.changes.join(' ')).not.toContain(secret);
    expect(r.rate).toBeUndefined();
    // The rest of the spec stays.
    expect({ ...r.spec, envVars: withEnv.envVars }).toEqual(withEnv);
  });

  it('counts the variables beyond the first 20 it names, and says when only the order changed', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ name: `V${i}`, value: String(i) }));
    expect(update({ envVars: many }).changes).toEqual([
      `envVars: ${many
        .slice(0, 20)
        .map((v) => `${v.name} added`)
        .join(', ')} and 5 more`,
    ]);
    expect(update({ envVars: [...withEnv.envVars].reverse() }, withEnv).changes).toEqual([
      'envVars: order changed',
    ]);
  });

  it('sets the command, and null gives the image its own command back', () => {
    const r = update({ command: ['python', 'serve.py', '--port', '8080'] });
    expect(r.spec.command).toEqual(['python', 'serve.py', '--port', '8080']);
    expect(r.changes).toEqual([`command the image's own → ["python","serve.py","--port","8080"]`]);
    const back = update({ command: null }, r.spec);
    expect('command' in back.spec).toBe(false);
    expect(back.spec).toEqual(SPEC);
    expect(back.changes).toEqual([`command ["python","serve.py","--port","8080"] → the image's own`]);
    expect(update({ command: null }).changes).toEqual([]);
    expect(update({ command: ['x'.repeat(300)] }).changes[0]).toMatch(
      /^command the image's own → \["x{198}…$/,
    );
  });

  it('resolves resources through the catalog as create does, with the rate of the new flavor', () => {
    const two = update({ resources: { gpu: 2 } });
    expect(two.spec.resources).toMatchObject({ flavor: 'ai1-1-gpu', type: 'gpu', units: 2, gpu: 2, cpu: 26 });
    expect(two.changes).toEqual(['resources 1 GPU of ai1-1-gpu → 2 GPU of ai1-1-gpu']);
    expect(two.rate).toEqual({ flavor: 'ai1-1-gpu', unitPriceMicros: 1_930_000, currency: 'EUR' });
    const h100 = update({ resources: { flavor: 'h100-1-gpu', gpu: 1 } });
    expect(h100.spec.resources).toMatchObject({ flavor: 'h100-1-gpu', gpuModel: 'H100', units: 1 });
    expect(h100.rate).toEqual({ flavor: 'h100-1-gpu', unitPriceMicros: 2_990_000, currency: 'EUR' });
    const cpu = update({ resources: { cpu: 4 } });
    expect(cpu.spec.resources).toMatchObject({ flavor: 'ai1-1-cpu', type: 'cpu', units: 4, gpu: 0 });
    expect(cpu.changes).toEqual(['resources 1 GPU of ai1-1-gpu → 4 CPU of ai1-1-cpu']);
  });

  it('refuses what only the catalog can judge, naming the field as create does', () => {
    expect(failure(() => update({ resources: { flavor: 'nope' } })).message).toBe(
      'resources.flavor: unknown flavor "nope"; available: ai1-1-cpu, ai1-1-gpu, h100-1-gpu',
    );
    expect(failure(() => update({ resources: { gpu: 5 } })).message).toBe(
      'resources.gpu: at most 4 GPUs per replica with flavor ai1-1-gpu (asked for 5)',
    );
    expect(failure(() => update({ resources: { flavor: 'ai1-1-cpu', gpu: 1 } })).message).toContain(
      'resources.gpu: flavor ai1-1-cpu is a CPU flavor',
    );
  });

  it('lists every change of one update, runtime first, and takes autoRollback', () => {
    const r = update({
      envVars: [{ name: 'MODEL', value: 'vit' }],
      command: ['serve'],
      defaultHttpPort: 8501,
      deploymentStrategy: { autoRollback: true, progressDeadlineSeconds: 30 },
    });
    expect(r.changes).toEqual([
      `command the image's own → ["serve"]`,
      'envVars: MODEL added',
      'defaultHttpPort 8080 → 8501',
      'probe / on 8080 → / on 8501',
      'deploymentStrategy.progressDeadlineSeconds 600 → 30',
      'deploymentStrategy.autoRollback false → true',
    ]);
    expect(r.spec.deploymentStrategy).toEqual({
      maxSurge: '25%',
      maxUnavailable: '25%',
      progressDeadlineSeconds: 30,
      autoRollback: true,
    });
  });
});

describe('image', () => {
  it('stores the new image', () => {
    expect(image({ url: 'registry.example.com/team/web:2' })).toEqual({
      spec: { ...SPEC, image: 'registry.example.com/team/web:2' },
      changes: ['image registry.example.com/team/web:1 → registry.example.com/team/web:2'],
    });
    expect(image({ url: SPEC.image }).changes).toEqual([]);
  });

  it.each([
    [{}, 'url: is required'],
    [{ url: 'Not An Image' }, 'url: must be an image reference'],
    [{ image: 'x:1' }, 'image: the body is {"url": image}: use url'],
  ])('refuses %j: %s', (body, message) => {
    expect(failure(() => image(body)).message).toContain(message);
  });
});

describe('assertChangeable', () => {
  const app = (state: string, lifecycle = 'RUNNING') =>
    ({ id: 'a1', state, lifecycle }) as Parameters<typeof assertChangeable>[0];

  it('takes changes on queued, running, stopping and stopped apps', () => {
    for (const state of ['QUEUED', 'INITIALIZING', 'SCALING', 'RUNNING', 'STOPPING', 'STOPPED'])
      for (const kind of ['label', 'scaling', 'update', 'image', 'rollback'] as const)
        expect(() => assertChangeable(app(state), kind)).not.toThrow();
  });

  it('refuses any change to an app being deleted (409)', () => {
    expect(failure(() => assertChangeable(app('RUNNING', 'DELETED'), 'label'))).toEqual({
      code: 'CONFLICT',
      message: 'cannot change app a1: it is being deleted',
    });
    expect(failure(() => assertChangeable(app('DELETING', 'DELETED'), 'scaling')).code).toBe('CONFLICT');
  });

  it('refuses all but labels on a FAILED or ERROR app (409 naming the state)', () => {
    expect(failure(() => assertChangeable(app('FAILED'), 'image')).message).toBe(
      'cannot change app a1: it is FAILED, and a FAILED app can only be deleted (then created again)',
    );
    expect(failure(() => assertChangeable(app('ERROR'), 'scaling')).code).toBe('CONFLICT');
    expect(failure(() => assertChangeable(app('FAILED'), 'rollback')).code).toBe('CONFLICT');
    expect(() => assertChangeable(app('FAILED'), 'label')).not.toThrow();
  });
});
