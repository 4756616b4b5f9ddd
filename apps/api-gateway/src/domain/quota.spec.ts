import type { AppSpec, QuotaLimits, QuotaUsage, ScalingStrategy } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import {
  assertWithinQuota,
  bytes,
  growth,
  type Holdings,
  holdingsInUse,
  holdingsOf,
  type QuotaView,
} from './quota.js';

const GiB = 1024 ** 3;

/** A spec of `units` per replica: ai1-1-cpu (1 vCPU, 4 GiB per unit) or ai1-1-gpu (13 vCPU, 40 GiB per GPU). */
const spec = (type: 'cpu' | 'gpu', units: number, scaling: number | ScalingStrategy = 1): AppSpec =>
  ({
    resources:
      type === 'gpu'
        ? { type, units, gpu: units, cpu: 13 * units, memory: 40 * GiB * units }
        : { type, units, gpu: 0, cpu: units, memory: 4 * GiB * units },
    scalingStrategy: typeof scaling === 'number' ? { fixed: { replicas: scaling } } : scaling,
  }) as AppSpec;

const automatic = (replicasMin: number, replicasMax: number): ScalingStrategy => ({
  automatic: {
    replicasMin,
    replicasMax,
    resourceType: 'CPU',
    averageUsageTarget: 75,
    scaleUpStabilizationWindowSeconds: 0,
    scaleDownStabilizationWindowSeconds: 300,
  },
});

const LIMITS: QuotaLimits = { CPU: 32, GPU: 4, memory: 128 * GiB, apps: 50, tokens: 100 };

/** The error `fn` throws, or a failure when it throws none. */
function refusal(fn: () => void): GantryError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GantryError) return error;
    throw error;
  }
  throw new Error('expected a QUOTA_EXCEEDED error, got none');
}

describe('holdingsOf: what an app holds with all its replicas running', () => {
  it.each<[string, AppSpec, Holdings]>([
    ['a CPU app: CPUs and memory × replicas', spec('cpu', 4, 3), { CPU: 12, GPU: 0, memory: 48 * GiB }],
    ['a GPU app: GPUs × replicas only', spec('gpu', 2, 3), { CPU: 0, GPU: 6, memory: 0 }],
    [
      'an automatic app: at replicasMax',
      spec('cpu', 2, automatic(0, 5)),
      { CPU: 10, GPU: 0, memory: 40 * GiB },
    ],
    ['an automatic GPU app: at replicasMax', spec('gpu', 1, automatic(1, 4)), { CPU: 0, GPU: 4, memory: 0 }],
    ['a fixed app at 0 replicas: nothing', spec('cpu', 4, 0), { CPU: 0, GPU: 0, memory: 0 }],
  ])('%s', (_name, s, expected) => {
    expect(holdingsOf(s)).toEqual(expected);
  });

  it('counts fractional CPUs without floating-point dust', () => {
    const s = spec('cpu', 1, 3);
    s.resources.cpu = 0.1;
    expect(holdingsOf(s).CPU).toBe(0.3);
  });
});

describe('holdingsInUse: the apps that count', () => {
  it('counts apps asked to run, except those that ended FAILED or ERROR', () => {
    const apps: QuotaView[] = [
      { spec: spec('gpu', 1, 1), lifecycle: 'RUNNING', state: 'RUNNING' },
      { spec: spec('gpu', 1, 2), lifecycle: 'RUNNING', state: 'QUEUED' },
      { spec: spec('gpu', 1, 1), lifecycle: 'RUNNING', state: 'STOPPED' }, // start asked, not yet seen
      { spec: spec('gpu', 4, 1), lifecycle: 'STOPPED', state: 'RUNNING' },
      { spec: spec('gpu', 4, 1), lifecycle: 'RUNNING', state: 'FAILED' },
      { spec: spec('gpu', 4, 1), lifecycle: 'RUNNING', state: 'ERROR' },
      { spec: spec('cpu', 4, 2), lifecycle: 'RUNNING', state: 'RUNNING' },
      { spec: spec('cpu', 12, 1), lifecycle: 'STOPPED', state: 'STOPPED' },
      { spec: spec('cpu', 1, automatic(0, 3)), lifecycle: 'RUNNING', state: 'RUNNING' },
    ];
    expect(holdingsInUse(apps)).toEqual({ CPU: 11, GPU: 4, memory: 44 * GiB });
  });

  it('is nothing for no app', () => {
    expect(holdingsInUse([])).toEqual({ CPU: 0, GPU: 0, memory: 0 });
  });
});

describe('growth: what a change must be checked for', () => {
  const h = (CPU: number, GPU: number, memory: number): Holdings => ({ CPU, GPU, memory });
  it.each<[string, Holdings | undefined, Holdings, Partial<Holdings>]>([
    ['an app not counted yet: all it holds', undefined, h(4, 0, 16), { CPU: 4, memory: 16 }],
    ['more replicas: CPU and memory', h(4, 0, 16), h(8, 0, 32), { CPU: 8, memory: 32 }],
    ['fewer replicas: nothing', h(8, 0, 32), h(4, 0, 16), {}],
    ['the same: nothing', h(0, 2, 0), h(0, 2, 0), {}],
    ['more CPUs, less memory: only the CPUs', h(4, 0, 32), h(6, 0, 24), { CPU: 6 }],
    ['CPU to GPU: the GPUs', h(4, 0, 16), h(0, 1, 0), { GPU: 1 }],
  ])('%s', (_name, current, next, expected) => {
    expect(growth(current, next)).toEqual(expected);
  });
});

describe('assertWithinQuota', () => {
  const used: QuotaUsage = { CPU: 30, GPU: 2, memory: 120 * GiB, apps: 50, tokens: 100 };

  it.each<[string, Partial<QuotaUsage>, Partial<QuotaUsage>]>([
    ['GPUs up to the quota', { GPU: 2 }, { GPU: 2 }],
    ['CPUs up to the quota', { CPU: 30 }, { CPU: 2 }],
    ['memory up to the quota', { memory: 120 * GiB }, { memory: 8 * GiB }],
    ['fractional CPUs that add up to the quota', { CPU: 30.1 }, { CPU: 1.9 }],
    ['what needs none of an exceeded quota', { GPU: 9, CPU: 40 }, { memory: GiB }],
    ['an apps quota not reached', { apps: 49 }, { apps: 1 }],
    ['a tokens quota not reached', { tokens: 99 }, { tokens: 1 }],
    ['nothing needed', used, {}],
  ])('lets through %s', (_name, inUse, needed) => {
    expect(() => assertWithinQuota('p1', LIMITS, inUse, needed)).not.toThrow();
  });

  it.each<[string, Partial<QuotaUsage>, Partial<QuotaUsage>, string, Record<string, unknown>]>([
    [
      'GPUs',
      { GPU: 2 },
      { GPU: 3 },
      'project p1 may hold 4 GPUs at once; 2 are in use and this app needs 3',
      { quota: 'GPU', limit: 4, inUse: 2, needed: 3 },
    ],
    [
      'CPUs',
      { CPU: 30 },
      { CPU: 4 },
      'project p1 may hold 32 CPUs at once; 30 are in use and this app needs 4',
      { quota: 'CPU', limit: 32, inUse: 30, needed: 4 },
    ],
    [
      'memory',
      { CPU: 0, memory: 120 * GiB },
      { CPU: 2, memory: 16 * GiB },
      'project p1 may hold 128 GiB of memory at once; 120 GiB are in use and this app needs 16 GiB',
      { quota: 'memory', limit: 128 * GiB, inUse: 120 * GiB, needed: 16 * GiB },
    ],
    [
      'apps',
      { apps: 50 },
      { apps: 1, CPU: 1 },
      'project p1 may have 50 apps; it has 50: delete one before creating another',
      { quota: 'apps', limit: 50, inUse: 50, needed: 1 },
    ],
    [
      'tokens',
      { tokens: 100 },
      { tokens: 1 },
      'project p1 may have 100 tokens; it has 100: revoke one before creating another',
      { quota: 'tokens', limit: 100, inUse: 100, needed: 1 },
    ],
    [
      'a quota of 0',
      {},
      { GPU: 1 },
      'project p1 may hold 0 GPUs at once; 0 are in use and this app needs 1',
      { quota: 'GPU', limit: 0, inUse: 0, needed: 1 },
    ],
  ])(
    'refuses too many %s with 403 QUOTA_EXCEEDED naming the figures',
    (name, inUse, needed, message, details) => {
      const limits = name === 'a quota of 0' ? { ...LIMITS, GPU: 0 } : LIMITS;
      const error = refusal(() => assertWithinQuota('p1', limits, inUse, needed));
      expect(error.status).toBe(403);
      expect(error.code).toBe('QUOTA_EXCEEDED');
      expect(error.message).toBe(message);
      expect(error.details).toEqual(details);
    },
  );

  it('names the first quota exceeded when several are', () => {
    const error = refusal(() => assertWithinQuota('p1', LIMITS, used, { CPU: 4, memory: 16 * GiB, apps: 1 }));
    expect(error.details).toMatchObject({ quota: 'CPU' });
  });
});

describe('bytes', () => {
  it.each([
    [0, '0 bytes'],
    [512, '512 bytes'],
    [1536, '1.5 KiB'],
    [1.5 * GiB, '1.5 GiB'],
    [128 * GiB, '128 GiB'],
    [350 * GiB, '350 GiB'],
    [1024 ** 5, '1 PiB'],
  ])('%d → %s', (n, text) => {
    expect(bytes(n)).toBe(text);
  });
});
