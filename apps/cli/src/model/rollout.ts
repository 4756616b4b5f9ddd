import type { App, AppSpec } from '@gantry/contracts';

import { fixedReplicas } from './views.js';

/**
 * Following a rollout (`--wait` on `app set-image`, `app update`, `app rollback`): what the app's
 * status says about it, and when it is over. Pure: the command polls and prints.
 */

/** What the scheduler's status message says of the replicas (see its "2/3 replicas ready; …"). */
export interface RolloutProgress {
  ready: number;
  want: number;
  /** During a rolling update: replicas of the new spec that are ready, out of `want`. */
  updated?: number;
  /** Why replicas are replaced ("image changed to x:2"). */
  why?: string;
  /** The rest of the message, in its own words ("replica r1: still pulling its image"). */
  rest: string[];
}

/** Characters of a status message looked at: the API is trusted for shape, not for size. */
const MAX_MESSAGE = 2000;

/** A value from the API on one line: line breaks and other control characters become spaces. */
const oneLine = (v: string): string => v.replace(/[\p{Cc}]/gu, ' ');

/** A status message made safe to print and to parse: one line, bounded. */
function clean(message: unknown): string {
  if (typeof message !== 'string') return '';
  const text = oneLine(message).trim();
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

const READY = /^(\d{1,6})\/(\d{1,6}) replicas ready(?:; |$)/;
// `why` may hold parentheses ("runtime settings changed (command, …)"): lazy, up to the "): n/m updated".
const ROLLING = /^rolling update \((.{1,500}?)\): (\d{1,6})\/(\d{1,6}) updated$/;

/**
 * The numbers of a status message like "2/3 replicas ready; rolling update (image changed to x:2):
 * 1/3 updated; replica r1: still pulling its image"; undefined for a message in another form
 * (printed as it is).
 */
export function parseRolloutMessage(message: string): RolloutProgress | undefined {
  const text = clean(message);
  const head = READY.exec(text);
  if (!head) return undefined;
  const progress: RolloutProgress = { ready: Number(head[1]), want: Number(head[2]), rest: [] };
  for (const part of text.slice(head[0].length).split('; ')) {
    const rolling = ROLLING.exec(part);
    if (rolling && progress.updated === undefined) {
      progress.why = rolling[1];
      progress.updated = Number(rolling[2]);
    } else if (part) progress.rest.push(part);
  }
  return progress;
}

/**
 * One line of progress: `SCALING  2/3 ready, 1/3 updated  (rolling update: image changed to x:2)`,
 * or the state and the message as the API wrote it when it has another form.
 */
export function progressLine(app: App): string {
  const state = clean(app.status?.state) || '?';
  const message = clean(app.status?.info?.message);
  const p = parseRolloutMessage(message);
  if (!p) return message ? `${state}  ${message}` : state;
  const counts = `${p.ready}/${p.want} ready${p.updated !== undefined ? `, ${p.updated}/${p.want} updated` : ''}`;
  const notes = [...(p.why !== undefined ? [`rolling update: ${p.why}`] : []), ...p.rest];
  return `${state}  ${counts}${notes.length ? `  (${notes.join('; ')})` : ''}`;
}

/**
 * What an app's replicas run — the fields a rolling update replaces and a rollback restores (the
 * api-gateway's RuntimeSpec) — as one comparable string, keys sorted.
 */
export function runtimeKey(spec: Partial<AppSpec> | undefined): string {
  return canonical({
    image: spec?.image ?? null,
    command: spec?.command ?? null,
    envVars: spec?.envVars ?? null,
    resources: spec?.resources ?? null,
    defaultHttpPort: spec?.defaultHttpPort ?? null,
    grpcPort: spec?.grpcPort ?? null,
    probe: spec?.probe ?? null,
  });
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** How a watch ends, or that it goes on. */
export type RolloutVerdict =
  { kind: 'wait' } | { kind: 'done'; message: string } | { kind: 'failed'; message: string; hint?: string };

/** What a watch starts from. */
export interface RolloutStart {
  id: string;
  /** The app just before the change. */
  before: App;
  /** The app as the change left it (its spec is the one to roll out). */
  target: App;
  /** `rolled out` or `rolled back`, for the last line. */
  done: string;
  /**
   * Whether a failed rollout of this change undoes itself: the app asks for it, and the change is
   * not itself a rollback (the api-gateway never rolls a rollback back).
   */
  selfRollback: boolean;
}

/** States after which nothing rolls out until someone starts the app again. */
const HALTED = new Set(['STOPPING', 'STOPPED', 'DELETING', 'DELETED']);

/**
 * Follows one app's statuses after a change, one observation per poll: the line to print when it
 * changed, and whether the rollout is over. A status that is still the one from before the change
 * says nothing about the change (the scheduler has not answered it yet), and a rollout is done only
 * once the app has been seen rolling, or has moved since the change was made — so that a RUNNING
 * read just after the change is not taken for the end.
 */
export class RolloutWatch {
  private lastLine: string | undefined;
  private seenRolling = false;
  private readonly beforeStatus: string;
  private readonly beforeRuntime: string;
  private readonly targetRuntime: string;

  constructor(private readonly start: RolloutStart) {
    this.beforeStatus = statusKey(start.before);
    this.beforeRuntime = runtimeKey(start.before.spec);
    this.targetRuntime = runtimeKey(start.target.spec);
  }

  /** Whether the change replaces replicas at all (a change of settings alone rolls nothing out). */
  get rollsOut(): boolean {
    return this.beforeRuntime !== this.targetRuntime;
  }

  /** One read of the app: the line to print when it changed, and the verdict. */
  observe(app: App): { line?: string; verdict: RolloutVerdict } {
    const verdict = this.judge(app);
    // The status from before the change is not the rollout's progress: not shown.
    if (verdict.kind === 'wait' && this.rollsOut && statusKey(app) === this.beforeStatus) return { verdict };
    const line = progressLine(app);
    const changed = line !== this.lastLine;
    this.lastLine = line;
    return { ...(changed ? { line } : {}), verdict };
  }

  private judge(app: App): RolloutVerdict {
    const { id } = this.start;
    const state = app.status?.state;
    const info = app.status?.info;
    const message = clean(info?.message);
    const runtime = runtimeKey(app.spec);
    if (runtime !== this.targetRuntime) {
      if (this.rollsOut && runtime === this.beforeRuntime)
        return {
          kind: 'failed',
          message: `the rollout failed and app ${id} went back to its previous runtime spec (deploymentStrategy.autoRollback)`,
          hint: `see why: gantry app events ${id}`,
        };
      return {
        kind: 'failed',
        message: `app ${id} was changed again while its rollout was followed: stopped following`,
        hint: `follow it with gantry app get ${id}`,
      };
    }
    if (HALTED.has(this.start.before.status?.state ?? ''))
      return {
        kind: 'done',
        message: `app ${id} is ${clean(this.start.before.status.state)}: the change applies at its next start`,
      };
    // With no new runtime to roll out, the status needs no freshness: it is about the same spec.
    const fresh = !this.rollsOut || statusKey(app) !== this.beforeStatus;
    if (!fresh) return { kind: 'wait' };
    const rolling = /\brolling update\b/.test(message);
    if (rolling || info?.code === 'APP_ROLLOUT_FAILED') this.seenRolling = true;
    if (info?.code === 'APP_ROLLOUT_FAILED')
      return {
        kind: 'failed',
        message: message || 'the rollout failed',
        hint: this.start.selfRollback
          ? `the app goes back to its previous runtime spec by itself (deploymentStrategy.autoRollback): follow it with gantry app get ${id}`
          : `undo it: gantry app rollback ${id}`,
      };
    if (state === 'FAILED' || state === 'ERROR')
      return {
        kind: 'failed',
        message: `app ${id} is ${state}${message ? `: ${message}` : ''}`,
        hint: `see why: gantry app events ${id}`,
      };
    if (state !== undefined && HALTED.has(state))
      return {
        kind: 'failed',
        message: `app ${id} is ${state}: the rollout stopped with it`,
      };
    if (state !== 'RUNNING' || rolling) return { kind: 'wait' };
    const moved = Date.parse(app.status?.lastTransitionDate) >= Date.parse(this.start.target.updatedAt);
    if (this.rollsOut && !this.seenRolling && !moved) return { kind: 'wait' };
    return {
      kind: 'done',
      message: `${this.rollsOut || this.seenRolling ? this.start.done : 'nothing to roll out'}: ${replicasRunning(app)}`,
    };
  }
}

/** `3/3 replicas run x:2`: available of desired (the fixed count, or the autoscaler's decision). */
function replicasRunning(app: App): string {
  const count = (n: unknown) => (typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined);
  const available = count(app.status?.availableReplicas) ?? 0;
  const desired =
    count(app.status?.desiredReplicas) ?? (app.spec ? fixedReplicas(app) : undefined) ?? available;
  return `${available}/${desired} ${desired === 1 ? 'replica runs' : 'replicas run'} ${clean(app.spec?.image)}`;
}

/** What of a status tells whether it changed: state, reason, message and last transition. */
function statusKey(app: App): string {
  const s = app.status;
  return JSON.stringify([s?.state, s?.info?.code, s?.info?.message, s?.lastTransitionDate]);
}
