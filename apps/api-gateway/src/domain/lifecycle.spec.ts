import { APP_STATES, type AppState } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { decideLifecycle, type Lifecycle, type UserAction } from './lifecycle.js';

const app = (state: AppState, lifecycle: Lifecycle = 'RUNNING') => ({ id: 'a1', state, lifecycle });

function outcome(
  state: AppState,
  action: UserAction,
  force = false,
  lifecycle: Lifecycle = 'RUNNING',
): string {
  try {
    const d = decideLifecycle(app(state, lifecycle), action, force);
    return d.publish ? d.lifecycle : 'nothing';
  } catch (error) {
    if (error instanceof GantryError && error.code === 'CONFLICT') return `409: ${error.message}`;
    throw error;
  }
}

describe('decideLifecycle: what stop, start and delete may do in each state', () => {
  // One row per state: stop, start, delete, delete?force=true.
  const table: Record<AppState, [string, string, string, string]> = {
    QUEUED: ['STOPPED', '409', '409', 'DELETED'],
    INITIALIZING: ['STOPPED', '409', '409', 'DELETED'],
    SCALING: ['STOPPED', '409', '409', 'DELETED'],
    RUNNING: ['STOPPED', '409', '409', 'DELETED'],
    STOPPING: ['409', 'RUNNING', 'DELETED', 'DELETED'],
    STOPPED: ['409', 'RUNNING', 'DELETED', 'DELETED'],
    FAILED: ['409', '409', 'DELETED', 'DELETED'],
    ERROR: ['409', '409', 'DELETED', 'DELETED'],
    DELETING: ['409', '409', '409', '409'],
    DELETED: ['409', '409', '409', '409'],
  };

  it.each(APP_STATES.map((s) => [s, ...table[s]] as const))(
    '%s: stop → %s, start → %s, delete → %s, force delete → %s',
    (state, stop, start, del, force) => {
      const short = (s: string) => (s.startsWith('409') ? '409' : s);
      expect(short(outcome(state, 'stop'))).toBe(stop);
      expect(short(outcome(state, 'start'))).toBe(start);
      expect(short(outcome(state, 'delete'))).toBe(del);
      expect(short(outcome(state, 'delete', true))).toBe(force);
    },
  );

  it('names the state in every refusal, and says how to delete an active app', () => {
    expect(outcome('STOPPED', 'stop')).toBe(
      '409: cannot stop app a1: it is STOPPED (only a queued or running app can be stopped)',
    );
    expect(outcome('RUNNING', 'start')).toBe(
      '409: cannot start app a1: it is RUNNING (only a STOPPED app can be started)',
    );
    expect(outcome('RUNNING', 'delete')).toBe(
      '409: cannot delete app a1: it is RUNNING; stop it first, or delete with ?force=true',
    );
    expect(outcome('DELETING', 'delete', true)).toBe(
      '409: cannot delete app a1: it is DELETING; wait until it is STOPPED, FAILED or ERROR',
    );
  });

  it('a stopping app always has a way out: start and delete are taken, and applied once it is stopped', () => {
    expect(outcome('STOPPING', 'start', false, 'STOPPED')).toBe('RUNNING');
    expect(outcome('STOPPING', 'delete', false, 'STOPPED')).toBe('DELETED');
  });

  it('an app already being deleted: delete again changes nothing, stop and start are refused', () => {
    expect(outcome('RUNNING', 'delete', false, 'DELETED')).toBe('nothing');
    expect(outcome('DELETING', 'stop', false, 'DELETED')).toBe(
      '409: app a1 is being deleted: it cannot be stopped',
    );
    expect(outcome('STOPPED', 'start', false, 'DELETED')).toBe(
      '409: app a1 is being deleted: it cannot be started',
    );
  });

  it('asking again before the scheduler reported is allowed (a new version of the same wish)', () => {
    expect(outcome('RUNNING', 'stop', false, 'STOPPED')).toBe('STOPPED');
    expect(outcome('STOPPED', 'start', false, 'RUNNING')).toBe('RUNNING');
  });
});
