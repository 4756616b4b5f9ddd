import {
  type AppSpec,
  SetImageInputSchema,
  SetLabelInputSchema,
  SetScalingStrategyInputSchema,
  UpdateAppInputSchema,
} from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

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
  applyChange(spec, { kind: 'update', input: parseInput(UpdateAppInputSchema, body) }, UNSCOPED);
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

  it.each([
    [{ fixed: { replicas: 11 } }, 'fixed.replicas: must be at most 10'],
    [{ fixed: { replicas: 0 } }, 'fixed.replicas: must be at least 1'],
    [{ fixed: { replicas: 2.5 } }, 'fixed.replicas: must be a whole number of replicas (1-10)'],
    [{ fixed: {} }, 'fixed.replicas: is required'],
    [{}, 'fixed: is required'],
    [{ automatic: { replicasMin: 1, replicasMax: 3 } }, 'automatic: automatic scaling is not available yet'],
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

  it('changes nothing when every value is already so', () => {
    expect(update({ defaultHttpPort: 8080, probe: { path: '/' } })).toEqual({ spec: SPEC, changes: [] });
  });

  it.each([
    [{}, 'must change at least one of defaultHttpPort, grpcPort, probe, deploymentStrategy'],
    [{ defaultHttpPort: 0 }, 'defaultHttpPort: must be at least 1'],
    [{ defaultHttpPort: '80' }, 'defaultHttpPort: must be a number, not a string'],
    [{ grpcPort: 8080 }, 'grpcPort: must differ from defaultHttpPort (8080)'],
    [{ probe: { path: 'health' } }, 'probe.path: must start with /'],
    [{ probe: { port: 70000 } }, 'probe.port: must be at most 65535'],
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
      for (const kind of ['label', 'scaling', 'update', 'image'] as const)
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
    expect(() => assertChangeable(app('FAILED'), 'label')).not.toThrow();
  });
});
