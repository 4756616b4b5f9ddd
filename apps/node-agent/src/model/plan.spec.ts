import type { NodeAssignments, ReplicaAssignment } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import type { ObservedContainer } from './ownership.js';
import { type Action, judgeAssignments, planConvergence, type PlanInput, type ReplicaView } from './plan.js';

const NOW = 1_000_000;
const GRACE = 30_000;

const assignment = (replicaId: string): ReplicaAssignment => ({
  replicaId,
  appId: `app-${replicaId}`,
  projectId: 'p1',
  image: 'registry.example/app:1',
  envVars: [],
  ports: [8080],
  probe: { path: '/', port: 8080 },
  resources: { cpu: 1, memory: 1 << 30, pids: 1024 },
  gpus: [],
});
const container = (
  id: string,
  replicaId: string | undefined,
  state: ObservedContainer['state'] = 'running',
  createdAt = 0,
): ObservedContainer => ({
  id,
  ...(replicaId ? { replicaId, appId: `app-${replicaId}` } : {}),
  state,
  createdAt,
});
const tracked = (phase: ReplicaView['phase'], containerId?: string, retryAt?: number): ReplicaView => ({
  phase,
  ...(containerId ? { containerId } : {}),
  ...(retryAt !== undefined ? { retryAt } : {}),
});

interface Case {
  name: string;
  desired?: string[] | null;
  containers?: ObservedContainer[];
  replicas?: Record<string, ReplicaView>;
  busy?: string[];
  orphanSince?: Record<string, number>;
  actions: Array<Partial<Action>>;
  wakeAt?: number;
}

const cases: Case[] = [
  {
    name: 'creates a desired replica that has no container',
    desired: ['r1'],
    actions: [{ kind: 'create', replicaId: 'r1' }],
  },
  {
    name: 'does nothing for a tracked replica whose container runs',
    desired: ['r1'],
    containers: [container('c1', 'r1')],
    replicas: { r1: tracked('READY', 'c1') },
    actions: [],
  },
  {
    name: 'stops the running container its liveness probe found dead',
    desired: ['r1'],
    containers: [container('c1', 'r1')],
    replicas: { r1: { ...tracked('NOT_READY', 'c1'), deadContainerId: 'c1' } },
    actions: [{ kind: 'unhealthy', replicaId: 'r1', containerId: 'c1' }],
  },
  {
    name: 'handles the exit of a container stopped for its liveness probe as any exit',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: { ...tracked('NOT_READY', 'c1'), deadContainerId: 'c1' } },
    actions: [{ kind: 'exited', replicaId: 'r1', containerId: 'c1' }],
  },
  {
    name: 'leaves a container alone that is not the one found dead (adopted meanwhile)',
    desired: ['r1'],
    containers: [container('c2', 'r1')],
    replicas: { r1: { ...tracked('READY', 'c2'), deadContainerId: 'c1' } },
    actions: [],
  },
  {
    name: 'adopts the running container of a desired replica it does not track (after a restart)',
    desired: ['r1'],
    containers: [container('c1', 'r1')],
    actions: [{ kind: 'adopt', replicaId: 'r1', containerId: 'c1', state: 'running' }],
  },
  {
    name: 'adopts an exited container too (its exit is handled by the next pass)',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    actions: [{ kind: 'adopt', replicaId: 'r1', containerId: 'c1', state: 'exited' }],
  },
  {
    name: 'adopts the container found when it is not the one it tracked',
    desired: ['r1'],
    containers: [container('c2', 'r1')],
    replicas: { r1: tracked('READY', 'c1') },
    actions: [{ kind: 'adopt', replicaId: 'r1', containerId: 'c2' }],
  },
  {
    name: 'handles the exit of a tracked container that stopped on its own',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: tracked('READY', 'c1') },
    actions: [{ kind: 'exited', replicaId: 'r1', containerId: 'c1' }],
  },
  {
    name: 'waits for a restart that is not due yet, and says when to wake',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: tracked('RESTARTING', 'c1', NOW + 2000) },
    actions: [],
    wakeAt: NOW + 2000,
  },
  {
    name: 'starts the container once its restart is due',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: tracked('RESTARTING', 'c1', NOW) },
    actions: [{ kind: 'start', replicaId: 'r1', containerId: 'c1' }],
  },
  {
    name: 'starts a container that was created but never started',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'created')],
    replicas: { r1: tracked('STARTING', 'c1') },
    actions: [{ kind: 'start', replicaId: 'r1', containerId: 'c1' }],
  },
  {
    name: 're-creates a tracked replica whose container vanished',
    desired: ['r1'],
    replicas: { r1: tracked('READY', 'c1') },
    actions: [{ kind: 'create', replicaId: 'r1' }],
  },
  {
    name: 'waits to retry a creation that failed',
    desired: ['r1'],
    replicas: { r1: tracked('STARTING', undefined, NOW + 4000) },
    actions: [],
    wakeAt: NOW + 4000,
  },
  {
    name: 'leaves a FAILED replica alone, keeping its container for the logs',
    desired: ['r1', 'r2'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: tracked('FAILED', 'c1'), r2: tracked('FAILED') },
    actions: [],
  },
  {
    name: 'skips a replica with an action in flight',
    desired: ['r1'],
    containers: [container('c1', 'r1', 'exited')],
    replicas: { r1: tracked('READY', 'c1') },
    busy: ['r1'],
    actions: [],
  },
  {
    name: 'removes the extra containers of a replica, keeping the running one',
    desired: ['r1'],
    containers: [container('old', 'r1', 'exited', 5), container('run', 'r1', 'running', 1), container('new', 'r1', 'created', 9)],
    replicas: { r1: tracked('READY', 'run') },
    actions: [
      { kind: 'stop', containerId: 'new', replicaId: 'r1', reason: 'duplicate' },
      { kind: 'stop', containerId: 'old', replicaId: 'r1', reason: 'duplicate' },
    ],
  },
  {
    name: 'stops at once the container of a replica it ran that is no longer assigned',
    desired: ['r2'],
    containers: [container('c1', 'r1'), container('c2', 'r2')],
    replicas: { r1: tracked('READY', 'c1'), r2: tracked('READY', 'c2') },
    actions: [{ kind: 'stop', containerId: 'c1', replicaId: 'r1', appId: 'app-r1', reason: 'unassigned' }],
  },
  {
    name: 'an empty assignment list stops everything it ran',
    desired: [],
    containers: [container('c1', 'r1'), container('c2', 'r2', 'exited')],
    replicas: { r1: tracked('READY', 'c1'), r2: tracked('FAILED', 'c2') },
    actions: [
      { kind: 'stop', containerId: 'c1', reason: 'unassigned' },
      { kind: 'stop', containerId: 'c2', reason: 'unassigned' },
    ],
  },
  {
    name: 'forgets (reports stopped) an unassigned replica that has no container',
    desired: [],
    replicas: { r1: tracked('FAILED') },
    actions: [{ kind: 'forget', replicaId: 'r1' }],
  },
  {
    name: 'does not touch an unassigned replica whose stop is in flight',
    desired: [],
    containers: [container('c1', 'r1')],
    replicas: { r1: tracked('READY', 'c1') },
    busy: ['r1'],
    actions: [],
  },
  {
    name: 'leaves a container no assignment accounts for alone during the grace period',
    desired: [],
    containers: [container('c9', 'r9')],
    orphanSince: { c9: NOW - 1000 },
    actions: [],
    wakeAt: NOW - 1000 + GRACE,
  },
  {
    name: 'starts the grace period of a newly seen orphan',
    desired: ['r1'],
    containers: [container('c9', 'r9')],
    actions: [{ kind: 'create', replicaId: 'r1' }],
    wakeAt: NOW + GRACE,
  },
  {
    name: 'removes an orphan once its grace period has passed',
    desired: [],
    containers: [container('c9', 'r9')],
    orphanSince: { c9: NOW - GRACE },
    actions: [{ kind: 'stop', containerId: 'c9', replicaId: 'r9', appId: 'app-r9', reason: 'orphan' }],
  },
  {
    name: 'never removes orphans before the assignments are known',
    desired: null,
    containers: [container('c9', 'r9')],
    orphanSince: { c9: NOW - 10 * GRACE },
    actions: [],
  },
  {
    name: 'treats a container without a usable replica label as an orphan',
    desired: ['r1'],
    containers: [container('bad', undefined), container('c1', 'r1')],
    replicas: { r1: tracked('READY', 'c1') },
    orphanSince: { bad: NOW - GRACE - 1 },
    actions: [{ kind: 'stop', containerId: 'bad', reason: 'orphan' }],
  },
];

describe('planConvergence', () => {
  it.each(cases)('$name', (c) => {
    const input: PlanInput = {
      now: NOW,
      desired: c.desired === null ? undefined : (c.desired ?? []).map(assignment),
      containers: c.containers ?? [],
      replicas: new Map(Object.entries(c.replicas ?? {})),
      busy: new Set(c.busy ?? []),
      orphanSince: new Map(Object.entries(c.orphanSince ?? {})),
      orphanGraceMs: GRACE,
    };
    const plan = planConvergence(input);
    expect(plan.actions).toHaveLength(c.actions.length);
    c.actions.forEach((expected, i) => expect(plan.actions[i]).toMatchObject(expected));
    expect(plan.wakeAt).toBe(c.wakeAt);
  });

  it('is idempotent: the same input plans the same actions', () => {
    const input: PlanInput = {
      now: NOW,
      desired: [assignment('r1'), assignment('r2')],
      containers: [container('c2', 'r2', 'exited'), container('c9', 'r9')],
      replicas: new Map([['r2', tracked('READY', 'c2')]]),
      busy: new Set(),
      orphanSince: new Map(),
      orphanGraceMs: GRACE,
    };
    expect(planConvergence(input)).toEqual(planConvergence(input));
  });

  it('carries the orphan clock forward and drops containers that are gone', () => {
    const first = planConvergence({
      now: NOW,
      desired: [],
      containers: [container('c9', 'r9'), container('c8', 'r8')],
      replicas: new Map(),
      busy: new Set(),
      orphanSince: new Map([['gone', NOW - 5]]),
      orphanGraceMs: GRACE,
    });
    expect([...first.orphanSince]).toEqual([
      ['c9', NOW],
      ['c8', NOW],
    ]);
    const later = planConvergence({
      now: NOW + GRACE,
      desired: [],
      containers: [container('c9', 'r9')],
      replicas: new Map(),
      busy: new Set(),
      orphanSince: first.orphanSince,
      orphanGraceMs: GRACE,
    });
    expect(later.actions).toEqual([{ kind: 'stop', containerId: 'c9', replicaId: 'r9', appId: 'app-r9', reason: 'orphan' }]);
  });
});

describe('judgeAssignments (fencing)', () => {
  const list = (generation: number, ids: string[], nodeId = 'n1'): NodeAssignments => ({
    nodeId,
    generation,
    updatedAt: '2026-11-23T09:00:00Z',
    replicas: ids.map(assignment),
  });

  it.each([
    { name: 'accepts the first list', applied: undefined, value: list(3, ['r1']), accept: true },
    { name: 'accepts a newer generation', applied: 3, value: list(4, ['r1']), accept: true },
    { name: 'accepts the same generation again', applied: 4, value: list(4, ['r1']), accept: true },
    { name: 'rejects an older generation', applied: 4, value: list(3, []), accept: false },
    { name: 'rejects a list for another node', applied: 1, value: list(9, [], 'n2'), accept: false },
  ])('$name', ({ applied, value, accept }) => {
    expect(judgeAssignments('n1', applied, value).accept).toBe(accept);
  });

  it('reads a deleted key as "run nothing" at the applied generation', () => {
    expect(judgeAssignments('n1', 7, null)).toEqual({ accept: true, generation: 7, replicas: [] });
  });

  it('keeps the first of replicas listed twice', () => {
    const v = judgeAssignments('n1', undefined, list(1, ['r1', 'r2', 'r1']));
    expect(v.accept && v.replicas.map((r) => r.replicaId)).toEqual(['r1', 'r2']);
  });
});
