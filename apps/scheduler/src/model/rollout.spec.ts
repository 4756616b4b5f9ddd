import type { AppSpec } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { runtimeHash } from './rollout.js';

const spec = (): AppSpec =>
  ({
    name: 'pinned',
    image: 'registry.example/team/model:2.1',
    command: ['serve', '--port', '8080'],
    envVars: [
      { name: 'MODE', value: 'fast' },
      { name: 'ÉTÉ', value: 'ünïcode' },
    ],
    labels: { team: 'a' },
    resources: {
      flavor: 'h100-1-gpu',
      type: 'gpu',
      units: 2,
      cpu: 56,
      gpu: 2,
      memory: 751619276800,
      ephemeralStorage: 1099511627776,
      publicNetwork: 4000000000,
      privateNetwork: 0,
      gpuBrand: 'NVIDIA',
      gpuModel: 'H100',
      gpuMemory: 163840,
    },
    scalingStrategy: { fixed: { replicas: 2 } },
    defaultHttpPort: 8080,
    grpcPort: 9000,
    probe: { path: '/health', port: 8080 },
    unsecureHttp: false,
    deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
  }) as AppSpec;

/** The same value with every object's keys in reverse order (as PostgreSQL's jsonb may return them). */
function reversed<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversed) as T;
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .reverse()
      .map(([k, x]) => [k, reversed(x)]),
  ) as T;
}

describe('runtime hash', () => {
  // Replicas carry the hash of the spec they run, in the database: if the same spec hashed
  // differently after an upgrade, every app would roll its replicas for nothing.
  it('is stable across releases: a fixed spec has a fixed hash', () => {
    expect(runtimeHash(spec())).toBe('eb21516dd974d44ec893ed4de8815c54');
  });

  it('does not depend on key order, and ignores what replicas do not run', () => {
    const s = spec();
    expect(runtimeHash(reversed(s))).toBe(runtimeHash(s));
    expect(
      runtimeHash({
        ...s,
        name: 'renamed',
        labels: {},
        scalingStrategy: { fixed: { replicas: 5 } },
        unsecureHttp: true,
      }),
    ).toBe(runtimeHash(s));
  });

  it('changes with what replicas run: image, command, env, ports, probe, resources', () => {
    const s = spec();
    const variants: AppSpec[] = [
      { ...s, image: 'registry.example/team/model:2.2' },
      { ...s, command: ['serve'] },
      { ...s, envVars: [{ name: 'MODE', value: 'slow' }] },
      { ...s, defaultHttpPort: 8081 },
      { ...s, grpcPort: 9001 },
      { ...s, probe: { path: '/ready', port: 8080 } },
      { ...s, resources: { ...s.resources, units: 1, gpu: 1 } },
    ];
    const hashes = new Set([runtimeHash(s), ...variants.map(runtimeHash)]);
    expect(hashes.size).toBe(variants.length + 1);
  });
});
