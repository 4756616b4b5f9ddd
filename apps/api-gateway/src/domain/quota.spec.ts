import type { AppSpec } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { assertGpuQuota, gpusInUse, gpusOf, type QuotaView } from './quota.js';

const spec = (type: 'cpu' | 'gpu', units: number, replicas: number): AppSpec =>
  ({
    resources: { type, units },
    scalingStrategy: { fixed: { replicas } },
  }) as AppSpec;

describe('GPU quota', () => {
  it('counts units × replicas of GPU apps only', () => {
    expect(gpusOf(spec('gpu', 2, 3))).toBe(6);
    expect(gpusOf(spec('cpu', 12, 10))).toBe(0);
  });

  it('counts apps asked to run, except those that ended FAILED or ERROR', () => {
    const apps: QuotaView[] = [
      { spec: spec('gpu', 1, 1), lifecycle: 'RUNNING', state: 'RUNNING' },
      { spec: spec('gpu', 1, 2), lifecycle: 'RUNNING', state: 'QUEUED' },
      { spec: spec('gpu', 1, 1), lifecycle: 'RUNNING', state: 'STOPPED' }, // start asked, not yet seen
      { spec: spec('gpu', 4, 1), lifecycle: 'STOPPED', state: 'RUNNING' },
      { spec: spec('gpu', 4, 1), lifecycle: 'RUNNING', state: 'FAILED' },
      { spec: spec('gpu', 4, 1), lifecycle: 'RUNNING', state: 'ERROR' },
      { spec: spec('cpu', 4, 1), lifecycle: 'RUNNING', state: 'RUNNING' },
    ];
    expect(gpusInUse(apps)).toBe(4);
  });

  it('refuses with 403 QUOTA_EXCEEDED what would go past the quota, naming the figures', () => {
    expect(() => assertGpuQuota('p1', 4, 2, spec('gpu', 2, 1))).not.toThrow();
    expect(() => assertGpuQuota('p1', 4, 4, spec('cpu', 12, 10))).not.toThrow();
    try {
      assertGpuQuota('p1', 4, 2, spec('gpu', 1, 3));
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(GantryError);
      expect((error as GantryError).status).toBe(403);
      expect((error as GantryError).code).toBe('QUOTA_EXCEEDED');
      expect((error as GantryError).message).toBe(
        'project p1 may hold 4 GPUs at once; 2 are in use and this app needs 3',
      );
    }
  });
});
