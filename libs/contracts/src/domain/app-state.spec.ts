import { describe, expect, it } from '@jest/globals';

import {
  APP_STATES,
  APP_TRIGGERS,
  type AppState,
  type AppTrigger,
  BILLED_STATES,
  lifecycleEdges,
  transition,
} from './app-state.js';

describe('app lifecycle', () => {
  it.each<[AppState, AppTrigger, AppState]>([
    ['QUEUED', 'placed', 'INITIALIZING'],
    ['INITIALIZING', 'initialized', 'SCALING'],
    ['SCALING', 'converged', 'RUNNING'],
    ['RUNNING', 'replicasChanged', 'SCALING'],
    ['RUNNING', 'stop', 'STOPPING'],
    ['SCALING', 'stop', 'STOPPING'],
    ['QUEUED', 'stop', 'STOPPING'],
    ['STOPPING', 'drained', 'STOPPED'],
    ['STOPPED', 'start', 'QUEUED'],
    ['STOPPED', 'delete', 'DELETING'],
    ['FAILED', 'delete', 'DELETING'],
    ['ERROR', 'delete', 'DELETING'],
    ['RUNNING', 'delete', 'STOPPING'],
    ['DELETING', 'purged', 'DELETED'],
    ['INITIALIZING', 'userFailure', 'FAILED'],
    ['SCALING', 'userFailure', 'FAILED'],
    ['RUNNING', 'platformError', 'ERROR'],
    ['DELETING', 'platformError', 'ERROR'],
  ])('%s --%s--> %s', (from, trigger, to) => {
    expect(transition(from, trigger)).toEqual({ ok: true, to });
  });

  it.each<[AppState, AppTrigger]>([
    ['RUNNING', 'start'],
    ['QUEUED', 'start'],
    ['FAILED', 'start'],
    ['STOPPED', 'stop'],
    ['DELETED', 'stop'],
    ['DELETED', 'delete'],
    ['DELETING', 'delete'],
    ['STOPPING', 'delete'],
    ['RUNNING', 'placed'],
    ['STOPPED', 'userFailure'],
    ['DELETED', 'platformError'],
  ])('refuses %s --%s--> with a reason naming the state', (from, trigger) => {
    const result = transition(from, trigger);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(from);
  });

  it('is total: every state × trigger has an answer, and DELETED is terminal', () => {
    for (const s of APP_STATES)
      for (const t of APP_TRIGGERS) {
        const r = transition(s, t);
        if (s === 'DELETED') expect(r.ok).toBe(false);
        if (r.ok) expect(APP_STATES).toContain(r.to);
      }
  });

  it('reaches every state from QUEUED', () => {
    const seen = new Set<AppState>(['QUEUED']);
    let grew = true;
    while (grew) {
      grew = false;
      for (const e of lifecycleEdges())
        if (seen.has(e.from) && !seen.has(e.to)) {
          seen.add(e.to);
          grew = true;
        }
    }
    expect([...seen].sort()).toEqual([...APP_STATES].sort());
  });

  it('bills exactly SCALING and RUNNING', () => {
    expect([...BILLED_STATES].sort()).toEqual(['RUNNING', 'SCALING']);
  });
});
