import { ACTIVE_STATES, type AppDesired, type AppState, transition } from '@gantry/contracts';
import { conflict } from '@gantry/errors';

export type Lifecycle = AppDesired['lifecycle'];
export type UserAction = 'stop' | 'start' | 'delete';

export interface LifecycleView {
  id: string;
  /** Last state the scheduler reported (QUEUED until it reports). */
  state: AppState;
  /** What the user last asked for. */
  lifecycle: Lifecycle;
}

/** What a user action does: publish a new desired lifecycle, or nothing (already asked). */
export type LifecycleDecision = { publish: true; lifecycle: Lifecycle } | { publish: false };

/**
 * Decides what stop, start and delete may do to an app, from the lifecycle table
 * (`transition(state, trigger)`) and what was already asked. Pure. Throws 409 CONFLICT naming the
 * state when the action cannot apply.
 *
 * - stop: from QUEUED, INITIALIZING, SCALING, RUNNING → lifecycle STOPPED.
 * - start: from STOPPED → lifecycle RUNNING; also from STOPPING (the scheduler finishes stopping it,
 *   then starts it), so that an app whose stop cannot complete yet always has a way out.
 * - delete: from STOPPED, FAILED, ERROR and STOPPING → lifecycle DELETED; from an active state only
 *   with `force` (the scheduler stops it first). Deleting an app already being deleted changes nothing.
 */
export function decideLifecycle(app: LifecycleView, action: UserAction, force = false): LifecycleDecision {
  if (app.lifecycle === 'DELETED') {
    if (action === 'delete') return { publish: false };
    throw conflict(
      `app ${app.id} is being deleted: it cannot be ${action === 'stop' ? 'stopped' : 'started'}`,
      {
        state: app.state,
      },
    );
  }
  // A stopping app goes on to STOPPED whatever is asked; the scheduler then applies what was.
  if (app.state === 'STOPPING' && action !== 'stop')
    return { publish: true, lifecycle: action === 'start' ? 'RUNNING' : 'DELETED' };
  const result = transition(app.state, action);
  switch (action) {
    case 'stop':
      if (!result.ok)
        throw conflict(
          `cannot stop app ${app.id}: it is ${app.state} (only a queued or running app can be stopped)`,
          {
            state: app.state,
          },
        );
      return { publish: true, lifecycle: 'STOPPED' };
    case 'start':
      if (!result.ok)
        throw conflict(`cannot start app ${app.id}: it is ${app.state} (only a STOPPED app can be started)`, {
          state: app.state,
        });
      return { publish: true, lifecycle: 'RUNNING' };
    case 'delete':
      if (!result.ok)
        throw conflict(
          `cannot delete app ${app.id}: it is ${app.state}; wait until it is STOPPED, FAILED or ERROR`,
          { state: app.state },
        );
      if (ACTIVE_STATES.has(app.state) && !force)
        throw conflict(
          `cannot delete app ${app.id}: it is ${app.state}; stop it first, or delete with ?force=true`,
          { state: app.state },
        );
      return { publish: true, lifecycle: 'DELETED' };
  }
}
