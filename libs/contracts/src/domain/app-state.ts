/**
 * The app lifecycle (DESIGN.md "App lifecycle"): one table-driven transition function.
 * Every state change of an app goes through `transition`; nothing else decides what may follow what.
 * The diagram in docs/app-lifecycle.md is generated from the same table (see `lifecycleMermaid`).
 */

export const APP_STATES = [
  'QUEUED',
  'INITIALIZING',
  'SCALING',
  'RUNNING',
  'STOPPING',
  'STOPPED',
  'FAILED',
  'ERROR',
  'DELETING',
  'DELETED',
] as const;
export type AppState = (typeof APP_STATES)[number];

/** What can happen to an app. Commands come from users; the rest are observations of the scheduler. */
export const APP_TRIGGERS = [
  'placed', // every replica the app needs right now has a host (or enough to start)
  'initialized', // volumes synced (none yet): allocation and image pull begin
  'converged', // the observed replicas match the desired ones
  'replicasChanged', // desired replica count or image changed on a running app
  'stop', // user asked to stop
  'drained', // every replica of a stopping app is gone
  'start', // user asked to start a stopped app
  'delete', // user asked to delete (force stops first)
  'purged', // everything the app held is released
  'userFailure', // bad image, wrong architecture, registry auth, crash loop before ready, quota
  'platformError', // the platform failed the app
] as const;
export type AppTrigger = (typeof APP_TRIGGERS)[number];

/** States in which an app is billed (DESIGN.md "Billing"). */
export const BILLED_STATES: ReadonlySet<AppState> = new Set<AppState>(['SCALING', 'RUNNING']);
/** States in which an app holds, or is acquiring, compute. */
export const ACTIVE_STATES: ReadonlySet<AppState> = new Set<AppState>([
  'QUEUED',
  'INITIALIZING',
  'SCALING',
  'RUNNING',
]);
/** States from which an app can only be deleted or (STOPPED) started. */
export const RESTING_STATES: ReadonlySet<AppState> = new Set<AppState>(['STOPPED', 'FAILED', 'ERROR']);

const ACTIVE = ['QUEUED', 'INITIALIZING', 'SCALING', 'RUNNING'] as const;
const RESTING = ['STOPPED', 'FAILED', 'ERROR'] as const;
const LIVE = [...ACTIVE, 'STOPPING'] as const;

type Table = Record<AppTrigger, ReadonlyArray<readonly [from: readonly AppState[], to: AppState]>>;

/** The lifecycle table: for each trigger, the states it applies in and the state it leads to. */
const TABLE: Table = {
  placed: [[['QUEUED'], 'INITIALIZING']],
  initialized: [[['INITIALIZING'], 'SCALING']],
  converged: [[['SCALING'], 'RUNNING']],
  replicasChanged: [[['RUNNING'], 'SCALING']],
  stop: [[ACTIVE, 'STOPPING']],
  drained: [[['STOPPING'], 'STOPPED']],
  start: [[['STOPPED'], 'QUEUED']],
  delete: [
    [RESTING, 'DELETING'],
    [ACTIVE, 'STOPPING'], // force: stop first, then delete once drained
  ],
  purged: [[['DELETING'], 'DELETED']],
  userFailure: [[LIVE, 'FAILED']],
  platformError: [[[...LIVE, 'DELETING'], 'ERROR']],
};

export type TransitionResult = { ok: true; to: AppState } | { ok: false; reason: string };

/** Where `trigger` takes an app in `from`, or why it cannot. Pure and total. */
export function transition(from: AppState, trigger: AppTrigger): TransitionResult {
  for (const [froms, to] of TABLE[trigger]) {
    if (froms.includes(from)) return { ok: true, to };
  }
  return { ok: false, reason: `cannot ${describeTrigger(trigger)} an app that is ${from}` };
}

export function canTransition(from: AppState, trigger: AppTrigger): boolean {
  return transition(from, trigger).ok;
}

function describeTrigger(trigger: AppTrigger): string {
  switch (trigger) {
    case 'stop':
      return 'stop';
    case 'start':
      return 'start';
    case 'delete':
      return 'delete';
    case 'placed':
      return 'place';
    case 'initialized':
      return 'initialize';
    case 'converged':
      return 'mark as running';
    case 'replicasChanged':
      return 'rescale';
    case 'drained':
      return 'mark as stopped';
    case 'purged':
      return 'mark as deleted';
    case 'userFailure':
      return 'fail';
    case 'platformError':
      return 'mark in error';
  }
}

/** Every edge of the lifecycle, for documentation and exhaustive tests. */
export function lifecycleEdges(): Array<{ from: AppState; trigger: AppTrigger; to: AppState }> {
  const edges: Array<{ from: AppState; trigger: AppTrigger; to: AppState }> = [];
  for (const trigger of APP_TRIGGERS) {
    for (const [froms, to] of TABLE[trigger]) for (const from of froms) edges.push({ from, trigger, to });
  }
  return edges;
}

/** The lifecycle as a mermaid state diagram (docs/app-lifecycle.md is checked against it). */
export function lifecycleMermaid(): string {
  const lines = ['stateDiagram-v2', '  [*] --> QUEUED: create'];
  for (const e of lifecycleEdges()) lines.push(`  ${e.from} --> ${e.to}: ${e.trigger}`);
  lines.push('  DELETED --> [*]');
  return lines.join('\n');
}
