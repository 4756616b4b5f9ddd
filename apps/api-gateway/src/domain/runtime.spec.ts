import type { AppSpec, Rate } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import {
  afterChange,
  autoRollbackDue,
  type AutoRollbackView,
  describeRuntimeChanges,
  type PreviousRuntime,
  rollBack,
  runtimeOf,
  sameRuntime,
} from './runtime.js';

const V1: AppSpec = {
  name: 'web',
  image: 'registry.example.com/team/web:1',
  envVars: [{ name: 'API_KEY', value: 'k1' }],
  labels: { team: 'vision', 'gantry/id': 'a1' },
  resources: {
    flavor: 'ai1-1-cpu',
    type: 'cpu',
    units: 1,
    cpu: 1,
    gpu: 0,
    memory: 4 * 1024 ** 3,
    ephemeralStorage: 0,
    publicNetwork: 0,
    privateNetwork: 0,
  },
  scalingStrategy: { fixed: { replicas: 2 } },
  defaultHttpPort: 8080,
  grpcPort: 9000,
  probe: { path: '/', port: 8080 },
  unsecureHttp: false,
  deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
};
const CPU_RATE: Rate = { flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' };
const CPU2_RATE: Rate = { flavor: 'ai1-1-cpu', unitPriceMicros: 35_000, currency: 'EUR' };

/** V1 updated: a new image, another key, a command, no gRPC port, 2 CPUs. */
const V2: AppSpec = (() => {
  const { grpcPort: _dropped, ...rest } = V1;
  return {
    ...rest,
    image: 'registry.example.com/team/web:2',
    command: ['serve', '--fast'],
    envVars: [{ name: 'API_KEY', value: 'k2' }],
    resources: { ...V1.resources, units: 2, cpu: 2, memory: 8 * 1024 ** 3 },
  };
})();

const T1 = new Date('2026-11-23T10:00:00.000Z');
const T2 = new Date('2026-11-23T10:05:00.000Z');

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

describe('the runtime spec', () => {
  it('is what the replicas run: image, command, environment, resources, ports, probe', () => {
    expect(runtimeOf(V1)).toEqual({
      image: V1.image,
      envVars: V1.envVars,
      resources: V1.resources,
      defaultHttpPort: 8080,
      grpcPort: 9000,
      probe: V1.probe,
    });
    // Labels, scaling, name and the deployment strategy are not part of it.
    const relabelled: AppSpec = {
      ...V1,
      name: 'other',
      labels: {},
      scalingStrategy: { fixed: { replicas: 5 } },
      deploymentStrategy: { ...V1.deploymentStrategy, autoRollback: true },
    };
    expect(sameRuntime(V1, relabelled)).toBe(true);
    expect(sameRuntime(V1, { ...V1, resources: { ...V1.resources } })).toBe(true);
    expect(sameRuntime(V1, V2)).toBe(false);
  });

  it('describes its changes, environment variables by name only', () => {
    expect(describeRuntimeChanges(V1, V2)).toEqual([
      'image registry.example.com/team/web:1 → registry.example.com/team/web:2',
      `command the image's own → ["serve","--fast"]`,
      'envVars: API_KEY changed',
      'resources 1 CPU of ai1-1-cpu → 2 CPU of ai1-1-cpu',
      'grpcPort 9000 → none',
    ]);
    expect(describeRuntimeChanges(V1, V1)).toEqual([]);
  });
});

describe('afterChange: what a change keeps to roll back to', () => {
  it('keeps the runtime spec and rate the app ran before a runtime change, rollable automatically', () => {
    expect(afterChange({ spec: V1, rate: CPU_RATE, previousRuntime: null }, V2, T1)).toEqual({
      runtime: runtimeOf(V1),
      rate: CPU_RATE,
      since: T1.toISOString(),
      autoRollbackable: true,
    });
  });

  it('keeps what it had on a change that runs nothing new (labels, scaling, deployment strategy)', () => {
    const kept: PreviousRuntime = {
      runtime: runtimeOf(V2),
      rate: CPU2_RATE,
      since: T1.toISOString(),
      autoRollbackable: false,
    };
    const scaled: AppSpec = { ...V1, scalingStrategy: { fixed: { replicas: 4 } } };
    expect(afterChange({ spec: V1, rate: CPU_RATE, previousRuntime: kept }, scaled, T2)).toBe(kept);
    expect(afterChange({ spec: V1, rate: CPU_RATE, previousRuntime: null }, scaled, T2)).toBeNull();
  });
});

describe('rollBack', () => {
  const updated = {
    id: 'a1',
    spec: V2,
    rate: CPU2_RATE,
    previousRuntime: afterChange({ spec: V1, rate: CPU_RATE, previousRuntime: null }, V2, T1),
  };

  it('makes the previous runtime spec current, and the current one previous; the rest of the spec stays', () => {
    const scaled = { ...updated, spec: { ...V2, scalingStrategy: { fixed: { replicas: 3 } } } };
    const back = rollBack(scaled, T2);
    expect(back.spec).toEqual({ ...V1, scalingStrategy: { fixed: { replicas: 3 } } });
    expect(back.rate).toEqual(CPU_RATE);
    expect(back.previousRuntime).toEqual({
      runtime: runtimeOf(V2),
      rate: CPU2_RATE,
      since: T2.toISOString(),
      autoRollbackable: false,
    });
    expect(back.changes).toEqual([
      'image registry.example.com/team/web:2 → registry.example.com/team/web:1',
      `command ["serve","--fast"] → the image's own`,
      'envVars: API_KEY changed',
      'resources 2 CPU of ai1-1-cpu → 1 CPU of ai1-1-cpu',
      'grpcPort none → 9000',
    ]);
    expect(back.changes.join(' ')).not.toMatch(/k1|k2/);
    expect('command' in back.spec).toBe(false);
  });

  it('a second rollback returns to where the first started', () => {
    const back = rollBack(updated, T2);
    const again = rollBack({ id: 'a1', ...back }, new Date('2026-11-23T10:06:00.000Z'));
    expect(again.spec).toEqual(V2);
    expect(again.rate).toEqual(CPU2_RATE);
    expect(again.previousRuntime.runtime).toEqual(runtimeOf(V1));
    expect(again.previousRuntime.autoRollbackable).toBe(false);
  });

  it('409 when the app has nothing to roll back to', () => {
    expect(
      failure(() => rollBack({ id: 'a1', spec: V1, rate: CPU_RATE, previousRuntime: null }, T2)),
    ).toEqual({
      code: 'CONFLICT',
      message:
        'cannot roll app a1 back: it has no previous runtime spec (its image, command, environment, resources, ports and probe have not changed since it was created)',
    });
  });
});

describe('autoRollbackDue', () => {
  const previous: PreviousRuntime = {
    runtime: runtimeOf(V1),
    rate: CPU_RATE,
    since: T1.toISOString(),
    autoRollbackable: true,
  };
  const asking: AutoRollbackView = {
    lifecycle: 'RUNNING',
    desiredVersion: 4,
    info: { code: 'APP_ROLLOUT_FAILED', message: '2/2 replicas ready; rollout stuck: …' },
    spec: { ...V2, deploymentStrategy: { ...V2.deploymentStrategy, autoRollback: true } },
    previousRuntime: previous,
  };
  const after = '2026-11-23T10:01:00.000Z';

  it('is due when the app asks for it and its current runtime spec, from an update, failed its rollout', () => {
    expect(autoRollbackDue(asking, { at: after })).toBe(true);
    expect(autoRollbackDue(asking, { at: after, desiredVersion: 4 })).toBe(true);
  });

  it('goes by the desired version a status was decided under, when the scheduler says it, not by clocks', () => {
    // Decided under version 3, before the update that made version 4: about the older runtime.
    expect(autoRollbackDue(asking, { at: after, desiredVersion: 3 })).toBe(false);
    // A scheduler clock behind the gateway's still counts when the version says it is current.
    expect(autoRollbackDue(asking, { at: '2026-11-23T09:00:00.000Z', desiredVersion: 4 })).toBe(true);
  });

  it.each<[string, AutoRollbackView, string]>([
    [
      'the app does not ask for it',
      { ...asking, spec: { ...asking.spec, deploymentStrategy: V2.deploymentStrategy } },
      after,
    ],
    [
      'autoRollback is false',
      {
        ...asking,
        spec: { ...asking.spec, deploymentStrategy: { ...V2.deploymentStrategy, autoRollback: false } },
      },
      after,
    ],
    ['there is nothing to roll back to', { ...asking, previousRuntime: null }, after],
    [
      'the current runtime spec came from a rollback (or was already rolled back)',
      { ...asking, previousRuntime: { ...previous, autoRollbackable: false } },
      after,
    ],
    [
      'its newest status no longer says the rollout failed',
      { ...asking, info: { code: 'APP_RUNNING', message: '' } },
      after,
    ],
    ['it is asked to stop', { ...asking, lifecycle: 'STOPPED' }, after],
    ['the failure was reported before the current runtime spec was made', asking, '2026-11-23T09:59:59.000Z'],
  ])('is not due when %s', (_why, app, failedAt) => {
    expect(autoRollbackDue(app, { at: failedAt })).toBe(false);
  });
});
