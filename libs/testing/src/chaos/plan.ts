/**
 * The chaos suite's schedule: a pure function of a seed. The same options and seed always give the
 * same workload (apps created, scaled, stopped, started, deleted) and the same faults (services
 * killed and restarted, replicas paused, PostgreSQL restarted, a NATS server killed), so a run that
 * found a defect can be replayed with its seed.
 */
import { rng } from '../wait.js';

/** What an app should be once everything settles. */
export type Desired =
  | { readonly state: 'running'; readonly replicas: number }
  | { readonly state: 'stopped' }
  | { readonly state: 'deleted' };

/** One request of the workload; `app` is the plan's key for the app (`a0`, `g0`…), not its id. */
export type WorkloadOp =
  | {
      readonly at: number;
      readonly kind: 'create';
      readonly app: string;
      readonly replicas: number;
      readonly gpu: number;
    }
  | { readonly at: number; readonly kind: 'scale'; readonly app: string; readonly replicas: number }
  | { readonly at: number; readonly kind: 'stop' | 'start' | 'delete'; readonly app: string };

/** One fault. `at` and the durations are milliseconds from the start of the run. */
export type Fault =
  /** kill -9 of the service (a label of the harness: `scheduler`, `node-agent:<id>`…), started again after `downMs`. */
  | { readonly at: number; readonly kind: 'kill'; readonly service: string; readonly downMs: number }
  /**
   * `docker pause` of one running replica of the app (the `pick`-th of its containers sorted by
   * replica id, modulo their number) for `durationMs`, then `docker unpause`.
   */
  | {
      readonly at: number;
      readonly kind: 'pause';
      readonly app: string;
      readonly pick: number;
      readonly durationMs: number;
    }
  /** PostgreSQL stopped (fast shutdown) and started again after `downMs`. */
  | { readonly at: number; readonly kind: 'postgres'; readonly downMs: number }
  /** NATS server `server` killed -9 and started again after `downMs`. */
  | { readonly at: number; readonly kind: 'nats'; readonly server: number; readonly downMs: number };

export interface ChaosPlanOptions {
  readonly seed: number;
  /** How long faults and workload last; every fault has ended (its restart is due) by then. */
  readonly durationMs: number;
  /** Labels of the services to kill; each is killed at least once. */
  readonly services: readonly string[];
  /**
   * Services whose loss disturbs requests to apps (the ingress, node agents): they are killed, like
   * PostgreSQL and NATS servers, in each minute's loud phase, never in the quiet phase where the
   * replicas are paused, so that pauses are judged on their own.
   */
  readonly disruptive: readonly string[];
  /** Size of the NATS cluster (0: no NATS fault). */
  readonly natsServers: number;
  /** CPU apps at the start (the first, `a0`, keeps 2 replicas throughout: the pauses' steady target). */
  readonly cpuApps: number;
  /** GPU apps (1 GPU per replica) at the start; they scale 1↔2, stop and start, never deleted. */
  readonly gpuApps: number;
  /** GPUs of the fleet: the plan never asks for more at once. */
  readonly gpuCapacity: number;
  /** Mean time between two workload requests. */
  readonly opEveryMs: number;
  /** Mean time between two kills of the same service (at least one kill each whatever this says). */
  readonly killEveryMs: number;
  /** Pauses in the run. */
  readonly pauses: number;
  /** PostgreSQL restarts in the run. */
  readonly postgresRestarts: number;
  /** NATS server kills in the run (one server down at a time). */
  readonly natsKills: number;
}

/**
 * A run's schedule. Guarantees: `ops` and `faults` are sorted by `at`; every op and fault starts in
 * [0, durationMs) and every fault ends (`at` + its duration) by `durationMs`; kills of one service
 * never overlap, nor do pauses of one app, PostgreSQL restarts, or NATS kills; every op is valid for
 * the app's planned state at its time (no start of a running app, nothing after a delete); the GPUs
 * asked for never exceed `gpuCapacity`; `final` is each app's desired state after the last op.
 */
export interface ChaosPlan {
  readonly seed: number;
  readonly durationMs: number;
  readonly ops: readonly WorkloadOp[];
  readonly faults: readonly Fault[];
  readonly final: Readonly<Record<string, Desired>>;
}

type Rand = () => number;

const between = (r: Rand, lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));

/**
 * `count` windows of `lengthOf()` ms inside [from, to), not overlapping: the span is cut into equal
 * slots and each window is placed at random inside its own slot (shortened to fit if it must).
 */
function windows(
  r: Rand,
  count: number,
  from: number,
  to: number,
  lengthOf: () => number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (count <= 0 || to <= from) return out;
  const slot = (to - from) / count;
  for (let i = 0; i < count; i++) {
    const start = from + i * slot;
    const length = Math.min(lengthOf(), Math.floor(slot * 0.8));
    const at = Math.floor(start + r() * Math.max(0, slot - length));
    out.push([at, Math.max(1, length)]);
  }
  return out;
}

/** Length of one round: a quiet phase (pauses) then a loud one (disruptive faults). */
const ROUND_MS = 60_000;
const QUIET_SHARE = 0.4;

/** The quiet or loud phases of each round of a run of `durationMs`, as [from, to) spans. */
export function phases(durationMs: number, which: 'quiet' | 'loud'): Array<[number, number]> {
  const round = Math.min(ROUND_MS, durationMs);
  const out: Array<[number, number]> = [];
  for (let start = 0; start + round <= durationMs + 1; start += round) {
    const cut = start + Math.floor(round * QUIET_SHARE);
    out.push(which === 'quiet' ? [start + Math.floor(round * 0.05), cut] : [cut, start + round]);
  }
  return out;
}

/** `count` windows spread over `spans` in turn, not overlapping (see `windows`). */
function windowsIn(
  r: Rand,
  count: number,
  spans: ReadonlyArray<[number, number]>,
  lengthOf: () => number,
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  spans.forEach(([from, to], i) => {
    const share = Math.floor(count / spans.length) + (i < count % spans.length ? 1 : 0);
    out.push(...windows(r, share, from, to, lengthOf));
  });
  return out;
}

interface AppSim {
  desired: Desired;
  gpu: number;
  steady: boolean;
  /** Replicas it runs when started: its scaling strategy, kept while it is stopped. */
  replicas: number;
}

const gpusHeld = (apps: Map<string, AppSim>): number => {
  let n = 0;
  for (const a of apps.values()) if (a.desired.state === 'running') n += a.gpu * a.desired.replicas;
  return n;
};

/** The next workload op for a random app, valid in its planned state, or undefined if none fits. */
function nextOp(r: Rand, at: number, apps: Map<string, AppSim>, gpuCapacity: number): WorkloadOp | undefined {
  const live = [...apps].filter(([, a]) => !a.steady && a.desired.state !== 'deleted');
  const picked = live[Math.floor(r() * live.length)];
  if (!picked) return undefined;
  const [app, a] = picked;
  const free = gpuCapacity - gpusHeld(apps);
  if (a.desired.state === 'stopped') {
    if (a.gpu === 0 && r() < 0.3) return { at, kind: 'delete', app };
    return a.gpu * a.replicas > free ? undefined : { at, kind: 'start', app };
  }
  if (a.desired.state !== 'running') return undefined;
  const roll = r();
  if (roll < 0.5) {
    const now = a.replicas;
    const max = a.gpu > 0 ? Math.min(2, now + Math.floor(free / a.gpu)) : 3;
    const choices = [1, 2, 3].filter((n) => n <= max && n !== now);
    if (!choices.length) return { at, kind: 'stop', app };
    return { at, kind: 'scale', app, replicas: choices[Math.floor(r() * choices.length)] ?? 1 };
  }
  if (roll < 0.8 || a.gpu > 0) return { at, kind: 'stop', app };
  return { at, kind: 'delete', app };
}

function apply(apps: Map<string, AppSim>, op: WorkloadOp): void {
  const a = apps.get(op.app);
  switch (op.kind) {
    case 'create':
      apps.set(op.app, {
        desired: { state: 'running', replicas: op.replicas },
        gpu: op.gpu,
        steady: op.app === 'a0',
        replicas: op.replicas,
      });
      return;
    case 'scale':
      if (a) {
        a.desired = { state: 'running', replicas: op.replicas };
        a.replicas = op.replicas;
      }
      return;
    case 'stop':
      if (a) a.desired = { state: 'stopped' };
      return;
    case 'start':
      if (a && a.desired.state === 'stopped') a.desired = { state: 'running', replicas: a.replicas };
      return;
    case 'delete':
      if (a) a.desired = { state: 'deleted' };
      return;
  }
}

/** The schedule of one run. Pure: see `ChaosPlan` for what it guarantees. */
export function planChaos(o: ChaosPlanOptions): ChaosPlan {
  const r = rng(o.seed);
  const apps = new Map<string, AppSim>();
  const ops: WorkloadOp[] = [];
  const push = (op: WorkloadOp): void => {
    ops.push(op);
    apply(apps, op);
  };

  // The first apps, a little apart.
  let t = 0;
  for (let i = 0; i < o.cpuApps; i++) {
    push({ at: t, kind: 'create', app: `a${i}`, replicas: i === 0 ? 2 : between(r, 1, 2), gpu: 0 });
    t += 200;
  }
  for (let i = 0; i < o.gpuApps; i++) {
    if (gpusHeld(apps) + 1 > o.gpuCapacity) break;
    push({ at: t, kind: 'create', app: `g${i}`, replicas: 1, gpu: 1 });
    t += 200;
  }
  // Then one request every opEveryMs (±50 %), the last well before the end; a deleted app is
  // replaced by a new one, so the workload keeps its size.
  let created = o.cpuApps;
  const lastOpAt = o.durationMs * 0.85;
  for (t = o.opEveryMs; t < lastOpAt; t += between(r, o.opEveryMs / 2, (o.opEveryMs * 3) / 2)) {
    const op = nextOp(r, t, apps, o.gpuCapacity);
    if (!op) continue;
    push(op);
    if (op.kind === 'delete') {
      push({ at: t + 500, kind: 'create', app: `a${created++}`, replicas: between(r, 1, 2), gpu: 0 });
    }
  }

  const faults: Fault[] = [];
  const whole: Array<[number, number]> = [[Math.floor(o.durationMs * 0.05), o.durationMs]];
  const loud = phases(o.durationMs, 'loud');
  const quiet = phases(o.durationMs, 'quiet');
  for (const service of o.services) {
    const count = Math.max(1, Math.round(o.durationMs / o.killEveryMs));
    const spans = o.disruptive.includes(service) ? loud : whole;
    for (const [at, downMs] of windowsIn(r, count, spans, () => between(r, 500, 4_000)))
      faults.push({ at, kind: 'kill', service, downMs });
  }
  for (const [at, downMs] of windowsIn(r, o.postgresRestarts, loud, () => between(r, 1_000, 5_000)))
    faults.push({ at, kind: 'postgres', downMs });
  if (o.natsServers > 0)
    for (const [at, downMs] of windowsIn(r, o.natsKills, loud, () => between(r, 2_000, 8_000)))
      faults.push({ at, kind: 'nats', server: between(r, 0, o.natsServers - 1), downMs });
  // Pauses go to the steady app (2 replicas throughout) and to others in turn, in the quiet phases;
  // one app is never paused twice at once because its pauses share its own slots.
  const targets = [...new Set(ops.filter((op) => op.kind === 'create' && op.gpu === 0).map((op) => op.app))];
  const perApp = new Map<string, number>();
  for (let i = 0; i < o.pauses; i++) {
    const app =
      i % 2 === 0 || targets.length < 2 ? 'a0' : (targets[1 + ((i >> 1) % (targets.length - 1))] ?? 'a0');
    perApp.set(app, (perApp.get(app) ?? 0) + 1);
  }
  for (const [app, count] of perApp)
    for (const [at, durationMs] of windowsIn(r, count, quiet, () => between(r, 3_000, 8_000)))
      faults.push({ at, kind: 'pause', app, pick: between(r, 0, 7), durationMs });

  faults.sort((a, b) => a.at - b.at);
  ops.sort((a, b) => a.at - b.at);
  const final: Record<string, Desired> = {};
  for (const [k, a] of apps) final[k] = a.desired;
  return { seed: o.seed, durationMs: o.durationMs, ops, faults, final };
}

/** When a fault ends: its restart or unpause is due. */
export function faultEnd(f: Fault): number {
  return f.at + (f.kind === 'pause' ? f.durationMs : f.downMs);
}

/** The seed as a whole number: `--seed` accepts decimal or hex; absent, one made from the clock. */
export function parseSeed(text: string | undefined, now = Date.now()): number {
  if (text === undefined) return now % 2 ** 31;
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new Error(`--seed must be a whole number (decimal or 0x hex), not "${text}"`);
  return n >>> 0;
}
