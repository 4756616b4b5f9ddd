import { describe, expect, it } from '@jest/globals';

import { rolloutApp, sampleApp } from '../__fixtures__/api.js';
import { parseRolloutMessage, progressLine, type RolloutStart, RolloutWatch, runtimeKey } from './rollout.js';

const ID = 'app-1';
const WHY_SETTINGS = 'runtime settings changed (command, environment, ports, probe or resources)';

describe('parseRolloutMessage', () => {
  it("reads the scheduler's numbers: ready, wanted, updated, and why", () => {
    expect(
      parseRolloutMessage('2/3 replicas ready; rolling update (image changed to x:2): 1/3 updated'),
    ).toEqual({ ready: 2, want: 3, updated: 1, why: 'image changed to x:2', rest: [] });
  });

  it('keeps a reason that holds parentheses whole', () => {
    expect(parseRolloutMessage(`0/1 replicas ready; rolling update (${WHY_SETTINGS}): 0/1 updated`)).toEqual({
      ready: 0,
      want: 1,
      updated: 0,
      why: WHY_SETTINGS,
      rest: [],
    });
  });

  it('keeps the rest of the message in its own words', () => {
    expect(
      parseRolloutMessage(
        '1/2 replicas ready; rolling update (image changed to x:2): 0/2 updated; replica r9: still pulling its image; 1 waiting for capacity: no node has 2 CPUs free',
      ),
    ).toEqual({
      ready: 1,
      want: 2,
      updated: 0,
      why: 'image changed to x:2',
      rest: ['replica r9: still pulling its image', '1 waiting for capacity: no node has 2 CPUs free'],
    });
    expect(parseRolloutMessage('3/3 replicas ready')).toEqual({ ready: 3, want: 3, rest: [] });
  });

  it('answers undefined for a message in another form, or none', () => {
    expect(parseRolloutMessage('all replicas ready')).toBeUndefined();
    expect(parseRolloutMessage('waiting for capacity: no node')).toBeUndefined();
    expect(parseRolloutMessage('')).toBeUndefined();
    expect(parseRolloutMessage('2/3 replicas readyish')).toBeUndefined();
  });

  it('stays quick and bounded on a hostile message', () => {
    const hostile = `1/2 replicas ready; ${'rolling update ((('.repeat(20_000)}`;
    const started = Date.now();
    const p = parseRolloutMessage(hostile);
    expect(Date.now() - started).toBeLessThan(500);
    expect(p?.ready).toBe(1);
    expect(p?.rest.join('').length).toBeLessThanOrEqual(2001);
  });
});

describe('progressLine', () => {
  it('shows the state, the counts and why', () => {
    expect(
      progressLine(
        rolloutApp(
          'x:2',
          'SCALING',
          '2/3 replicas ready; rolling update (image changed to x:2): 1/3 updated',
        ),
      ),
    ).toBe('SCALING  2/3 ready, 1/3 updated  (rolling update: image changed to x:2)');
    expect(progressLine(rolloutApp('x:2', 'RUNNING', '3/3 replicas ready'))).toBe('RUNNING  3/3 ready');
  });

  it('falls back to the raw message, on one line', () => {
    expect(progressLine(rolloutApp('x:2', 'QUEUED', 'waiting for capacity:\nno node'))).toBe(
      'QUEUED  waiting for capacity: no node',
    );
    expect(progressLine(rolloutApp('x:2', 'RUNNING', ''))).toBe('RUNNING');
  });
});

describe('runtimeKey', () => {
  it('is the same for the same runtime in any key order, and differs when it changes', () => {
    const a = sampleApp().spec;
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect(runtimeKey(reordered)).toBe(runtimeKey(a));
    expect(runtimeKey({ ...a, image: 'busybox:1.38' })).not.toBe(runtimeKey(a));
    expect(runtimeKey({ ...a, envVars: [] })).not.toBe(runtimeKey(a));
    // Name, labels, scaling and deployment strategy are not what replicas run.
    expect(runtimeKey({ ...a, name: 'other', labels: {} })).toBe(runtimeKey(a));
    expect(runtimeKey(undefined)).toBe(runtimeKey({}));
  });
});

/** A watch of a change from x:1 (running 3/3) to x:2, made at 12:00. */
function watchOf(over: Partial<RolloutStart> = {}): RolloutWatch {
  return new RolloutWatch({
    id: ID,
    before: rolloutApp('x:1', 'RUNNING', '3/3 replicas ready', { updatedAt: '2026-11-23T11:00:00.000Z' }),
    target: rolloutApp('x:2', 'RUNNING', '3/3 replicas ready'),
    done: 'rolled out',
    selfRollback: false,
    ...over,
  });
}

const rolling = (ready: number, updated: number) =>
  rolloutApp(
    'x:2',
    'SCALING',
    `${ready}/3 replicas ready; rolling update (image changed to x:2): ${updated}/3 updated`,
    {
      moved: '2026-11-23T12:00:01.000Z',
    },
  );

describe('RolloutWatch', () => {
  it('follows a rolling update to its end, one line per change', () => {
    const w = watchOf();
    const stale = rolloutApp('x:2', 'RUNNING', '3/3 replicas ready');
    expect(w.observe(stale)).toEqual({ verdict: { kind: 'wait' } });
    expect(w.observe(rolling(3, 0))).toEqual({
      line: 'SCALING  3/3 ready, 0/3 updated  (rolling update: image changed to x:2)',
      verdict: { kind: 'wait' },
    });
    expect(w.observe(rolling(3, 0))).toEqual({ verdict: { kind: 'wait' } });
    expect(w.observe(rolling(2, 1)).line).toBe(
      'SCALING  2/3 ready, 1/3 updated  (rolling update: image changed to x:2)',
    );
    const done = rolloutApp('x:2', 'RUNNING', '3/3 replicas ready', {
      moved: '2026-11-23T12:00:09.000Z',
      available: 3,
    });
    const end = w.observe({ ...done, spec: { ...done.spec, scalingStrategy: { fixed: { replicas: 3 } } } });
    expect(end).toEqual({
      line: 'RUNNING  3/3 ready',
      verdict: { kind: 'done', message: 'rolled out: 3/3 replicas run x:2' },
    });
  });

  it('does not take a RUNNING read from before the scheduler moved for the end', () => {
    const w = watchOf();
    // The status changed (a replica got ready) but is older than the change: not the end.
    const older = rolloutApp('x:2', 'RUNNING', '3/3 replicas ready; replica r1: ready', {
      moved: '2026-11-23T11:59:00.000Z',
    });
    expect(w.observe(older).verdict).toEqual({ kind: 'wait' });
    // A rollout too quick to be seen: the status moved after the change.
    const after = rolloutApp('x:2', 'RUNNING', '3/3 replicas ready', { moved: '2026-11-23T12:00:05.000Z' });
    expect(w.observe(after).verdict).toEqual({ kind: 'done', message: 'rolled out: 2/2 replicas run x:2' });
  });

  it('fails with the API message on APP_ROLLOUT_FAILED, hinting a rollback unless the app rolls back by itself', () => {
    const stuck = rolloutApp(
      'x:2',
      'SCALING',
      '2/3 replicas ready; rolling update (image changed to x:2): 0/3 updated; rollout stuck: new replica r7 failed: exited with code 1; the previous replicas keep serving',
      { code: 'APP_ROLLOUT_FAILED', moved: '2026-11-23T12:00:01.000Z' },
    );
    expect(watchOf().observe(stuck).verdict).toEqual({
      kind: 'failed',
      message: stuck.status.info.message,
      hint: `undo it: gantry app rollback ${ID}`,
    });
    expect(watchOf({ selfRollback: true }).observe(stuck).verdict).toMatchObject({
      kind: 'failed',
      hint: expect.stringMatching(/by itself \(deploymentStrategy\.autoRollback\)/),
    });
  });

  it('ignores a failure status from before the change (an earlier rollout)', () => {
    const failed = rolloutApp('x:1', 'SCALING', '3/3 replicas ready; rollout stuck: new replica r1 failed', {
      code: 'APP_ROLLOUT_FAILED',
    });
    const w = watchOf({ before: failed });
    expect(w.observe({ ...failed, spec: rolloutApp('x:2', 'SCALING', '').spec }).verdict).toEqual({
      kind: 'wait',
    });
  });

  it('fails when the app went back to its previous runtime spec, or was changed by someone else', () => {
    const w = watchOf();
    expect(w.observe(rolling(3, 0)).verdict.kind).toBe('wait');
    expect(w.observe(rolloutApp('x:1', 'SCALING', '3/3 replicas ready')).verdict).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/went back to its previous runtime spec/),
    });
    expect(watchOf().observe(rolloutApp('x:3', 'SCALING', '3/3 replicas ready')).verdict).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/changed again/),
    });
  });

  it('fails when the app is FAILED or ERROR, or stops meanwhile', () => {
    expect(
      watchOf().observe(rolloutApp('x:2', 'FAILED', 'crash loop', { code: 'APP_CRASH_LOOP' })).verdict,
    ).toEqual({
      kind: 'failed',
      message: `app ${ID} is FAILED: crash loop`,
      hint: `see why: gantry app events ${ID}`,
    });
    expect(watchOf().observe(rolloutApp('x:2', 'STOPPING', 'stopping')).verdict).toMatchObject({
      kind: 'failed',
      message: `app ${ID} is STOPPING: the rollout stopped with it`,
    });
  });

  it('ends at once for a stopped app (the change applies at its next start)', () => {
    const stopped = rolloutApp('x:1', 'STOPPED', 'stopped');
    const w = watchOf({ before: stopped });
    expect(w.observe({ ...stopped, spec: rolloutApp('x:2', 'STOPPED', '').spec }).verdict).toEqual({
      kind: 'done',
      message: `app ${ID} is STOPPED: the change applies at its next start`,
    });
  });

  it('says there is nothing to roll out when the runtime did not change', () => {
    const same = rolloutApp('x:1', 'RUNNING', '3/3 replicas ready');
    const w = watchOf({ before: same, target: same });
    expect(w.rollsOut).toBe(false);
    expect(w.observe(same).verdict).toEqual({
      kind: 'done',
      message: 'nothing to roll out: 2/2 replicas run x:1',
    });
  });

  it('says rolled back for a rollback', () => {
    const w = watchOf({ done: 'rolled back' });
    expect(w.observe(rolling(3, 1)).verdict.kind).toBe('wait');
    expect(
      w.observe(rolloutApp('x:2', 'RUNNING', '3/3 replicas ready', { moved: '2026-11-23T12:00:09.000Z' }))
        .verdict,
    ).toEqual({ kind: 'done', message: 'rolled back: 2/2 replicas run x:2' });
  });

  it('survives an app of the wrong shape', () => {
    const w = watchOf();
    const garbage = { id: ID, spec: null, status: { state: 7, info: 'x' } } as never;
    expect(() => w.observe(garbage)).not.toThrow();
    expect(w.observe(garbage).verdict.kind).toBe('failed');
  });
});
