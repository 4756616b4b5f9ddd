import { describe, expect, it } from '@jest/globals';

import { billedMinutesFromHistory, type HistoryEntry, runsFromHistory } from './billing.js';
import {
  checkBilling,
  checkConvergence,
  checkDuplicates,
  checkGpus,
  checkOrphans,
  checkPausedRequests,
  type ContainerView,
  formatViolations,
  type PauseWindow,
  type RequestResult,
} from './invariants.js';

const T0 = Date.parse('2026-11-02T08:00:00.000Z');
const S = 1_000;
const iso = (offset: number): string => new Date(T0 + offset).toISOString();
const h = (...steps: Array<[number, string]>): HistoryEntry[] =>
  steps.map(([o, state]) => ({ state, date: iso(o) }));

describe('billed minutes from a status history', () => {
  it.each<[string, HistoryEntry[], number, number]>([
    ['never billed', h([0, 'QUEUED'], [2 * S, 'INITIALIZING']), 10 * 60 * S, 0],
    [
      '61 s of run: 2 minutes',
      h([0, 'QUEUED'], [S, 'SCALING'], [5 * S, 'RUNNING'], [62 * S, 'STOPPING']),
      600 * S,
      2,
    ],
    ['exactly 60 s: 1 minute', h([0, 'SCALING'], [60 * S, 'STOPPING']), 600 * S, 1],
    ['open run at its first instant: 1', h([0, 'QUEUED'], [S, 'SCALING']), S, 1],
    ['open run 60 s in: the second period is touched', h([0, 'RUNNING']), 60 * S, 2],
    [
      'RUNNING → SCALING → RUNNING is one run',
      h(
        [0, 'SCALING'],
        [30 * S, 'RUNNING'],
        [90 * S, 'SCALING'],
        [100 * S, 'RUNNING'],
        [130 * S, 'STOPPING'],
      ),
      600 * S,
      3,
    ],
    [
      'two runs, each rounded up',
      h(
        [0, 'RUNNING'],
        [10 * S, 'STOPPING'],
        [20 * S, 'STOPPED'],
        [30 * S, 'QUEUED'],
        [40 * S, 'SCALING'],
        [101 * S, 'FAILED'],
      ),
      600 * S,
      3,
    ],
    [
      'same instant: only the last counts',
      h([0, 'QUEUED'], [5 * S, 'INITIALIZING'], [5 * S, 'SCALING'], [5 * S, 'STOPPING'], [9 * S, 'STOPPED']),
      600 * S,
      0,
    ],
    ['entries after asOf are not known yet', h([0, 'RUNNING'], [200 * S, 'STOPPING']), 30 * S, 1],
    ['unordered entries are ordered by date', h([62 * S, 'STOPPING'], [0, 'RUNNING']), 600 * S, 2],
  ])('%s', (_what, history, asOf, minutes) => {
    expect(billedMinutesFromHistory(history, T0 + asOf)).toBe(minutes);
  });

  it('says where each run starts and ends', () => {
    expect(
      runsFromHistory(
        h([0, 'QUEUED'], [S, 'SCALING'], [70 * S, 'STOPPING'], [80 * S, 'RUNNING']),
        T0 + 100 * S,
      ),
    ).toEqual([
      { start: T0 + S, end: T0 + 70 * S, minutes: 2 },
      { start: T0 + 80 * S, minutes: 1 },
    ]);
  });
});

describe('checkBilling', () => {
  const history = h([0, 'QUEUED'], [S, 'SCALING'], [62 * S, 'STOPPING']);
  it('passes when the minutes agree, names the app when they do not', () => {
    const base = { appId: 'app1', history, truncated: false, asOf: T0 + 600 * S };
    expect(checkBilling([{ ...base, billedMinutes: 2 }])).toEqual([]);
    const [v] = checkBilling([{ ...base, billedMinutes: 3 }]);
    expect(v).toMatchObject({ invariant: 'billing-matches-history', appId: 'app1' });
    expect(v?.details).toMatch(/billed 3 min, the history gives 2/);
  });
  it('does not judge a truncated history', () => {
    expect(checkBilling([{ appId: 'a', history, truncated: true, asOf: T0, billedMinutes: 99 }])).toEqual([]);
  });
});

describe('checkConvergence', () => {
  const running2 = { state: 'running', replicas: 2 } as const;
  it.each<[string, Parameters<typeof checkConvergence>[0][number], boolean]>([
    [
      'RUNNING with the replicas wanted',
      { appId: 'a', key: 'a0', acceptable: [running2], observed: { state: 'RUNNING', availableReplicas: 2 } },
      true,
    ],
    [
      'RUNNING with too few',
      { appId: 'a', key: 'a0', acceptable: [running2], observed: { state: 'RUNNING', availableReplicas: 1 } },
      false,
    ],
    [
      'still SCALING',
      { appId: 'a', key: 'a0', acceptable: [running2], observed: { state: 'SCALING', availableReplicas: 2 } },
      false,
    ],
    [
      'FAILED with a reason',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [running2],
        observed: { state: 'FAILED', availableReplicas: 0, info: { message: 'crash loop' } },
      },
      true,
    ],
    [
      'ERROR without a reason',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [running2],
        observed: { state: 'ERROR', availableReplicas: 0, info: { message: '' } },
      },
      false,
    ],
    [
      'STOPPED as asked',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [{ state: 'stopped' }],
        observed: { state: 'STOPPED', availableReplicas: 0 },
      },
      true,
    ],
    [
      'STOPPING for ever',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [{ state: 'stopped' }],
        observed: { state: 'STOPPING', availableReplicas: 0 },
      },
      false,
    ],
    [
      'deleted: gone',
      { appId: 'a', key: 'a0', acceptable: [{ state: 'deleted' }], observed: undefined },
      true,
    ],
    [
      'deleted: DELETED',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [{ state: 'deleted' }],
        observed: { state: 'DELETED', availableReplicas: 0 },
      },
      true,
    ],
    [
      'deleted: still DELETING',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [{ state: 'deleted' }],
        observed: { state: 'DELETING', availableReplicas: 0 },
      },
      false,
    ],
    [
      'gone though only stopped',
      { appId: 'a', key: 'a0', acceptable: [{ state: 'stopped' }], observed: undefined },
      false,
    ],
    [
      'an unanswered stop: either state',
      {
        appId: 'a',
        key: 'a0',
        acceptable: [running2, { state: 'stopped' }],
        observed: { state: 'RUNNING', availableReplicas: 2 },
      },
      true,
    ],
  ])('%s', (_what, app, ok) => {
    const vs = checkConvergence([app]);
    expect(vs.length === 0).toBe(ok);
    if (!ok) expect(vs[0]).toMatchObject({ invariant: 'converged', appId: 'a' });
  });
});

describe('orphans and duplicates', () => {
  const c = (
    id: string,
    replicaId: string | undefined,
    nodeId: string,
    state = 'running',
  ): ContainerView => ({
    id,
    ...(replicaId ? { replicaId } : {}),
    appId: 'app1',
    nodeId,
    state,
  });
  const assigned = [
    { replicaId: 'r1', appId: 'app1', nodeId: 'n1' },
    { replicaId: 'r2', appId: 'app1', nodeId: 'n2' },
  ];
  it.each<[string, ContainerView[], string[]]>([
    ['every container assigned where it runs', [c('c1', 'r1', 'n1'), c('c2', 'r2', 'n2')], []],
    [
      'a replica assigned nowhere',
      [c('c1', 'r1', 'n1'), c('c9', 'r9', 'n1')],
      ['r9 on n1: the scheduler assigns it nowhere'],
    ],
    ['a replica on the wrong node', [c('c1', 'r1', 'n2')], ['r1 on n2: the scheduler assigns it to n1']],
    ['an exited leftover counts too', [c('c9', 'r9', 'n1', 'exited')], ['(exited) of replica r9']],
    ['no replica label', [c('c7', undefined, 'n1')], ['has no replica label']],
  ])('orphans: %s', (_what, containers, found) => {
    const vs = checkOrphans(containers, assigned);
    expect(vs).toHaveLength(found.length);
    found.forEach((f, i) => expect(vs[i]?.details).toContain(f));
    vs.forEach((v) => expect(v).toMatchObject({ invariant: 'no-orphan-container', appId: 'app1' }));
  });
  it.each<[string, ContainerView[], number]>([
    ['one container each', [c('c1', 'r1', 'n1'), c('c2', 'r2', 'n2')], 0],
    ['two live on two nodes', [c('c1', 'r1', 'n1'), c('c2', 'r1', 'n2')], 1],
    ['a paused one and a running one on one node', [c('c1', 'r1', 'n1', 'paused'), c('c2', 'r1', 'n1')], 1],
    ['a live one and an exited one', [c('c1', 'r1', 'n1'), c('c2', 'r1', 'n1', 'exited')], 0],
  ])('duplicates: %s', (_what, containers, n) => {
    const vs = checkDuplicates(containers);
    expect(vs).toHaveLength(n);
    if (n) expect(vs[0]).toMatchObject({ invariant: 'no-duplicate-replica', appId: 'app1' });
  });
});

describe('checkGpus', () => {
  const node = (id: string, allocated: number, gpus: Array<[number, string?]>) => ({
    id,
    capacity: { gpus: 2 },
    allocated: { gpus: allocated },
    gpus: gpus.map(([index, replicaId]) => ({ index, ...(replicaId ? { replicaId, appId: 'g' } : {}) })),
  });
  const live = (id: string, replicaId: string, nodeId: string, state = 'running'): ContainerView => ({
    id,
    replicaId,
    appId: 'g',
    nodeId,
    state,
  });
  it('passes a fleet where each GPU has one holder', () => {
    const bound = new Map([
      ['r1', { nodeId: 'n1', indexes: [0] }],
      ['r2', { nodeId: 'n1', indexes: [1] }],
    ]);
    expect(
      checkGpus(
        [
          node('n1', 2, [
            [0, 'r1'],
            [1, 'r2'],
          ]),
        ],
        [live('c1', 'r1', 'n1'), live('c2', 'r2', 'n1')],
        bound,
      ),
    ).toEqual([]);
  });
  it('finds more allocated than the node has', () => {
    expect(
      checkGpus(
        [
          node('n1', 3, [
            [0, 'r1'],
            [1, 'r2'],
          ]),
        ],
        [],
        new Map(),
      )[0]?.details,
    ).toMatch(/3 GPUs allocated of 2/);
  });
  it('finds one replica bound on two nodes', () => {
    const vs = checkGpus([node('n1', 1, [[0, 'r1']]), node('n2', 1, [[0, 'r1']])], [], new Map());
    expect(vs[0]?.details).toMatch(/replica r1 holds GPUs on 2 nodes/);
  });
  it('finds two live containers holding the GPU: an old replica not stopped and its successor', () => {
    const bound = new Map([
      ['old', { nodeId: 'n1', indexes: [0] }],
      ['new', { nodeId: 'n1', indexes: [0] }],
    ]);
    const vs = checkGpus(
      [node('n1', 1, [[0, 'new'], [1]])],
      [live('c1', 'old', 'n1', 'paused'), live('c2', 'new', 'n1')],
      bound,
    );
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ invariant: 'no-gpu-bound-twice', appId: 'g' });
    expect(vs[0]?.details).toMatch(/GPU n1\/0 is held by 2 live containers/);
    // Once the old container has exited, the GPU has one holder.
    expect(
      checkGpus(
        [node('n1', 1, [[0, 'new'], [1]])],
        [live('c1', 'old', 'n1', 'exited'), live('c2', 'new', 'n1')],
        bound,
      ),
    ).toEqual([]);
  });
});

describe('checkPausedRequests', () => {
  const req = (start: number, ok: boolean, appId = 'a'): RequestResult => ({
    appId,
    start: T0 + start,
    end: T0 + start + 50,
    ok,
    detail: ok ? '200 hello' : 'no answer in time',
  });
  const pause: PauseWindow = {
    appId: 'a',
    replicaId: 'r1',
    from: T0 + 1_000,
    to: T0 + 6_000,
    before: { state: 'RUNNING', availableReplicas: 2 },
  };
  const stuck: RequestResult = { ...req(5_500, false), end: T0 + 15_500 };
  const reqs = [
    req(0, false),
    req(2_000, true),
    req(3_000, false),
    req(4_000, false, 'b'),
    req(7_000, false),
    stuck,
  ];
  it('counts failures of the paused app started inside the pause, one stuck past it too', () => {
    const v = checkPausedRequests(reqs, [pause], []);
    expect(v.judgedPauses).toBe(1);
    expect(v.judgedRequests).toBe(3);
    expect(v.violations).toHaveLength(1);
    expect(v.violations[0]).toMatchObject({ invariant: 'no-failed-request-while-paused', appId: 'a' });
    expect(v.violations[0]?.details).toMatch(/2 of 3 requests failed while replica r1 was paused/);
  });
  it.each<[string, PauseWindow, Parameters<typeof checkPausedRequests>[2]]>([
    ['one replica only', { ...pause, before: { state: 'RUNNING', availableReplicas: 1 } }, []],
    ['not RUNNING before', { ...pause, before: { state: 'SCALING', availableReplicas: 2 } }, []],
    ['unknown before', { ...pause, before: undefined }, []],
    [
      'the ingress was down meanwhile',
      pause,
      [{ from: T0 + 5_000, to: T0 + 9_000, why: 'ingress-router down' }],
    ],
    ['the app was being scaled', pause, [{ from: T0, to: T0 + 2_000, appId: 'a', why: 'scale a' }]],
  ])('does not judge a pause when %s', (_what, p, disturbances) => {
    expect(checkPausedRequests(reqs, [p], disturbances)).toEqual({
      violations: [],
      judgedPauses: 0,
      judgedRequests: 0,
    });
  });
  it('still judges it when another app is disturbed', () => {
    const v = checkPausedRequests(reqs, [pause], [{ from: T0, to: T0 + 9_000, appId: 'b', why: 'stop b' }]);
    expect(v.judgedPauses).toBe(1);
  });
});

describe('formatViolations', () => {
  it('prints every invariant, and each violation with its app', () => {
    const text = formatViolations([
      { invariant: 'converged', appId: 'x1', details: 'a1: STOPPING, STOPPED wanted' },
    ]);
    expect(text).toContain('FAIL converged: 1 violation\n       - app x1: a1: STOPPING, STOPPED wanted');
    expect(text).toContain('ok   no-orphan-container: 0 violations');
    expect(text.split('\n')).toHaveLength(7);
  });
});
