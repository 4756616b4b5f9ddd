/**
 * The chaos runner: plays a `ChaosPlan` against a running platform — the workload through the REST
 * API with the admin token, requests through the ingress, the faults through the harness and the
 * Docker Engine — then waits for the platform to converge and checks the invariants. It holds no
 * logic of its own beyond timing and recording: the schedule is `planChaos`, the verdicts are the
 * checks of `invariants.ts`.
 */
import type Docker from 'dockerode';

import { jsonClient, viaIngress } from '../http.js';
import { sleep } from '../wait.js';
import type { HistoryEntry } from './billing.js';
import {
  type AppBilling,
  type AppConvergence,
  type Assignment,
  checkBilling,
  checkConvergence,
  checkDuplicates,
  checkGpus,
  checkOrphans,
  checkPausedRequests,
  type ContainerView,
  convergenceGap,
  type Disturbance,
  formatViolations,
  type NodeGpuView,
  type ObservedApp,
  type PauseWindow,
  type RequestResult,
  type Violation,
} from './invariants.js';
import { type ChaosPlan, type Desired, type Fault, faultEnd, type WorkloadOp } from './plan.js';

/**
 * A platform of the run's own, and its levers. Every lever resolves once done: `start` once the
 * service answers ready, `startPostgres` once it accepts connections, `startNats` once the server
 * is back in its cluster.
 */
export interface ChaosHarness {
  readonly api: string;
  readonly ingress: string;
  readonly adminToken: string;
  readonly namespace: string;
  /** A web image every app runs (serves `GET /` on 8080). */
  readonly image: string;
  readonly docker: Docker;
  /** Labels of the services `kill`/`start` accept (`scheduler`, `node-agent:<id>`…). */
  readonly services: readonly string[];
  readonly natsServers: number;
  readonly gpuCapacity: number;
  kill(service: string): Promise<void>;
  start(service: string): Promise<void>;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  killNats(server: number): Promise<void>;
  startNats(server: number): Promise<void>;
  log(line: string): void;
}

export interface ChaosRunOptions {
  /** How long after the last fault ends the apps have to converge. Default 60 s. */
  readonly convergeTimeoutMs?: number;
  /**
   * How long after that the fleet may take to be clean (no orphan or duplicate container, no GPU
   * bound twice): a node agent back from a kill removes what it no longer runs after its orphan grace
   * period. Default 20 s.
   */
  readonly settleMs?: number;
  /** Pause between two requests of one app's request loop. Default 100 ms. */
  readonly requestEveryMs?: number;
  /** Stops the run early (SIGINT): it throws once the faults in progress are undone. */
  readonly signal?: AbortSignal;
}

export interface ChaosReport {
  readonly seed: number;
  readonly violations: readonly Violation[];
  readonly judgedPauses: number;
  readonly judgedRequests: number;
  readonly requests: number;
  readonly failedRequests: number;
  /** What the run did and saw that is no violation but worth reading (refused requests, restarts…). */
  readonly notes: readonly string[];
  /** Seconds from the end of the faults until every app had converged (undefined: never did). */
  readonly convergedAfterS?: number;
  /** The whole report as text: what ran, the notes, each invariant with its violations. */
  readonly text: string;
}

interface AppRecord {
  key: string;
  id: string;
  acceptable: Desired[];
}

interface AppBody {
  id: string;
  status: {
    state: string;
    availableReplicas: number;
    info?: { code?: string; message?: string };
    history: HistoryEntry[];
  };
}

interface NodeBody extends NodeGpuView {
  readonly replicas: ReadonlyArray<{ readonly replicaId: string; readonly appId: string }>;
}

/** Most entries of an app's status history the platform keeps (apps/scheduler HISTORY_LIMIT). */
const HISTORY_LIMIT = 100;

/** Plays `plan` on `h` and checks the invariants; see `ChaosReport`. */
export async function runChaos(
  h: ChaosHarness,
  plan: ChaosPlan,
  opts: ChaosRunOptions = {},
): Promise<ChaosReport> {
  const api = jsonClient(() => h.api, h.adminToken);
  const notes: string[] = [];
  const note = (line: string): void => {
    notes.push(line);
    h.log(line);
  };
  const apps = new Map<string, AppRecord>();
  const requests: RequestResult[] = [];
  const pauses: PauseWindow[] = [];
  const disturbances: Disturbance[] = [];
  const boundTo = new Map<string, { nodeId: string; indexes: number[] }>();
  let t0 = Date.now();
  const rel = (t: number): string => `+${((t - t0) / 1000).toFixed(1)}s`;
  let running = true;
  const until = async (ms: number): Promise<void> => {
    const wait = t0 + ms - Date.now();
    if (wait > 0) await sleep(wait);
  };

  /** A request of the workload, retried while the gateway cannot answer (down, or its dependencies). */
  const send = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; unanswered: boolean; attempts: number }> => {
    let unanswered = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await api(method, path, body === undefined ? {} : { body });
        if (r.status === 500)
          note(`${rel(Date.now())} ${method} ${path} → 500 ${JSON.stringify(r.body).slice(0, 200)}`);
        if (r.status < 500 || attempt >= 20)
          return { status: r.status, body: r.body, unanswered, attempts: attempt };
        unanswered = true; // a 5xx may have been stored before it failed
      } catch {
        unanswered = true;
        if (attempt >= 20) return { status: 0, body: undefined, unanswered, attempts: attempt };
      }
      await sleep(1_000);
    }
  };

  // ---- the workload: one chain per app, so that its requests go in order
  const chains = new Map<string, Promise<void>>();
  const runOp = async (op: WorkloadOp): Promise<void> => {
    await until(op.at);
    if (!running) return;
    const now = Date.now();
    if (op.kind === 'create') {
      const body = {
        image: h.image,
        name: `chaos-${op.app}`,
        resources: op.gpu > 0 ? { gpu: op.gpu } : { cpu: 1 },
        unsecureHttp: true,
        scalingStrategy: { fixed: { replicas: op.replicas } },
        labels: { chaos: op.app },
      };
      const r = await send('POST', '/v1/app', body);
      const id = (r.body as { id?: string } | undefined)?.id;
      if (r.status >= 300 || !id) {
        note(`${rel(now)} create ${op.app} refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        return;
      }
      if (r.attempts > 1)
        note(`${rel(now)} create ${op.app} took ${r.attempts} attempts: it may exist twice`);
      apps.set(op.app, { key: op.app, id, acceptable: [{ state: 'running', replicas: op.replicas }] });
      h.log(
        `${rel(now)} created ${op.app} = ${id} (${op.replicas} replica(s)${op.gpu ? `, ${op.gpu} GPU each` : ''})`,
      );
      startLoop(op.app);
      return;
    }
    const app = apps.get(op.app);
    if (!app) return;
    const asked: Desired =
      op.kind === 'scale'
        ? { state: 'running', replicas: op.replicas }
        : op.kind === 'stop'
          ? { state: 'stopped' }
          : op.kind === 'delete'
            ? { state: 'deleted' }
            : { state: 'running', replicas: replicasWhenStarted(plan, op) };
    disturbances.push({ from: now, to: now + 20_000, appId: app.id, why: `${op.kind} ${op.app}` });
    const r =
      op.kind === 'scale'
        ? await send('PUT', `/v1/app/${app.id}/scalingstrategy`, { fixed: { replicas: op.replicas } })
        : op.kind === 'delete'
          ? await send('DELETE', `/v1/app/${app.id}?force=true`)
          : await send('PUT', `/v1/app/${app.id}/${op.kind}`);
    const what = `${op.kind}${op.kind === 'scale' ? ` to ${op.replicas}` : ''} ${op.app}`;
    if (r.status >= 200 && r.status < 300) app.acceptable = [asked];
    else if (r.unanswered) {
      app.acceptable = [...app.acceptable, asked];
      note(
        `${rel(now)} ${what}: no clear answer (${r.status || 'no answer'} after ${r.attempts} attempts); either state counts`,
      );
    } else note(`${rel(now)} ${what} refused: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    h.log(`${rel(now)} ${what} → ${r.status}`);
  };

  // ---- request loops through the ingress, one per app while the run wants it running
  const loops: Promise<void>[] = [];
  const wantsRunning = (a: AppRecord): boolean => a.acceptable.every((d) => d.state === 'running');
  function startLoop(key: string): void {
    loops.push(
      (async () => {
        while (running) {
          const a = apps.get(key);
          if (!a || a.acceptable.some((d) => d.state === 'deleted')) return;
          if (wantsRunning(a)) {
            const start = Date.now();
            try {
              const r = await viaIngress(h.ingress, `${a.id}.app.localhost`, '/', { timeoutMs: 10_000 });
              requests.push({
                appId: a.id,
                start,
                end: Date.now(),
                ok: r.status === 200,
                detail: `${r.status} ${r.text.slice(0, 80).trim()}`,
              });
            } catch (error) {
              requests.push({
                appId: a.id,
                start,
                end: Date.now(),
                ok: false,
                detail: (error as Error).message,
              });
            }
          }
          await sleep(opts.requestEveryMs ?? 100);
        }
      })(),
    );
  }

  // ---- GPU bindings, sampled: which replica holds which GPU of which node
  const sampler = (async () => {
    while (running) {
      try {
        const r = await api<{ items: NodeBody[] }>('GET', '/v1/node');
        if (r.status === 200)
          for (const n of r.body.items)
            for (const g of n.gpus)
              if (g.replicaId) {
                const b = boundTo.get(g.replicaId);
                if (b && b.nodeId === n.id) {
                  if (!b.indexes.includes(g.index)) b.indexes.push(g.index);
                } else boundTo.set(g.replicaId, { nodeId: n.id, indexes: [g.index] });
              }
      } catch {
        // the gateway or the scheduler is down: the next sample will do
      }
      await sleep(2_000);
    }
  })();

  // ---- warm-up: the first apps are created and given time to run before the clock of faults
  // starts, so that the first pauses find replicas to pause; then the rest of the workload
  const waitAllRunning = async (ids: string[]): Promise<boolean> => {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !opts.signal?.aborted) {
      const states = await Promise.all(
        ids.map((id) =>
          api<AppBody>('GET', `/v1/app/${id}`).then(
            (r) => (r.status === 200 ? r.body.status.state : undefined),
            () => undefined,
          ),
        ),
      );
      if (states.every((s) => s === 'RUNNING')) return true;
      await sleep(500);
    }
    return false;
  };
  const initial = plan.ops.filter((op) => op.kind === 'create' && op.at < 1_000);
  for (const op of initial) await runOp(op);
  const ids = initial.map((op) => apps.get(op.app)?.id).filter((id): id is string => id !== undefined);
  if (!(await waitAllRunning(ids))) note('the first apps were not all RUNNING within 90 s of their creation');
  t0 = Date.now();
  for (const op of plan.ops) {
    if (initial.includes(op)) continue;
    const prev = chains.get(op.app) ?? Promise.resolve();
    chains.set(
      op.app,
      prev.then(() => runOp(op)),
    );
  }

  // ---- the faults
  const runFault = async (f: Fault): Promise<void> => {
    await until(f.at);
    if (opts.signal?.aborted) return;
    const start = Date.now();
    switch (f.kind) {
      case 'kill': {
        await h.kill(f.service);
        h.log(`${rel(start)} kill -9 ${f.service}`);
        await sleep(f.downMs);
        await h.start(f.service);
        h.log(`${rel(Date.now())} ${f.service} ready again`);
        if (f.service === 'ingress-router' || f.service.startsWith('node-agent'))
          disturbances.push({ from: start, to: Date.now() + 2_000, why: `${f.service} down` });
        return;
      }
      case 'postgres':
        await h.stopPostgres();
        h.log(`${rel(start)} PostgreSQL stopped`);
        await sleep(f.downMs);
        await h.startPostgres();
        h.log(`${rel(Date.now())} PostgreSQL back`);
        return;
      case 'nats':
        await h.killNats(f.server);
        h.log(`${rel(start)} kill -9 NATS server ${f.server}`);
        await sleep(f.downMs);
        await h.startNats(f.server);
        h.log(`${rel(Date.now())} NATS server ${f.server} back`);
        return;
      case 'pause':
        return pause(f);
    }
  };
  const pause = async (f: Extract<Fault, { kind: 'pause' }>): Promise<void> => {
    const app = apps.get(f.app);
    if (!app || !wantsRunning(app)) {
      h.log(`${rel(Date.now())} pause of ${f.app} skipped: not running`);
      return;
    }
    const seen = await api<AppBody>('GET', `/v1/app/${app.id}`).catch(() => undefined);
    const before =
      seen?.status === 200
        ? { state: seen.body.status.state, availableReplicas: seen.body.status.availableReplicas }
        : undefined;
    const containers = (
      await h.docker.listContainers({
        filters: { label: [`gantry.namespace=${h.namespace}`, `gantry.app=${app.id}`], status: ['running'] },
      })
    ).sort((a, b) => ((a.Labels['gantry.replica'] ?? '') < (b.Labels['gantry.replica'] ?? '') ? -1 : 1));
    const c = containers[f.pick % Math.max(1, containers.length)];
    if (!c) {
      h.log(`${rel(Date.now())} pause of ${f.app} skipped: no running container`);
      return;
    }
    const container = h.docker.getContainer(c.Id);
    try {
      await container.pause();
    } catch (error) {
      h.log(`${rel(Date.now())} pause of ${f.app} failed: ${(error as Error).message}`);
      return;
    }
    const from = Date.now();
    const replicaId = c.Labels['gantry.replica'] ?? '?';
    h.log(
      `${rel(from)} docker pause ${f.app} replica ${replicaId} (${before?.availableReplicas ?? '?'} available)`,
    );
    await sleep(f.durationMs);
    const to = Date.now();
    await container.unpause().catch(() => undefined); // gone meanwhile: the platform replaced it
    h.log(`${rel(to)} docker unpause ${f.app} replica ${replicaId}`);
    pauses.push({ appId: app.id, replicaId, from, to, before });
  };

  let faultsEndedAt = t0 + plan.durationMs;
  try {
    const faults = Promise.all(plan.faults.map(runFault));
    await until(plan.durationMs);
    await faults;
    faultsEndedAt = Math.max(Date.now(), t0 + Math.max(0, ...plan.faults.map(faultEnd)));
    await Promise.all(chains.values());
    if (opts.signal?.aborted) throw new Error('interrupted');
  } finally {
    running = false;
    await Promise.all([...loops, sampler]);
  }
  h.log(`${rel(faultsEndedAt)} faults over; waiting for the apps to converge`);

  // ---- convergence: every app in (one of) its desired states within the timeout
  const observe = async (a: AppRecord): Promise<ObservedApp | undefined> => {
    const r = await api<AppBody>('GET', `/v1/app/${a.id}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET /v1/app/${a.id} → ${r.status}`);
    return r.body.status;
  };
  const deadline = faultsEndedAt + (opts.convergeTimeoutMs ?? 60_000);
  let observed = new Map<string, ObservedApp | undefined>();
  let convergedAfterS: number | undefined;
  for (;;) {
    const next = new Map<string, ObservedApp | undefined>();
    let all = true;
    for (const a of apps.values()) {
      try {
        const o = await observe(a);
        next.set(a.id, o);
        if (a.acceptable.every((d) => convergenceGap(d, o) !== undefined)) all = false;
      } catch {
        all = false;
        next.set(a.id, observed.get(a.id));
      }
    }
    observed = next;
    if (all) {
      convergedAfterS = Math.max(0, Math.round((Date.now() - faultsEndedAt) / 100) / 10);
      break;
    }
    if (Date.now() > deadline || opts.signal?.aborted) break;
    await sleep(1_000);
  }
  const convergence: AppConvergence[] = [...apps.values()].map((a) => ({
    appId: a.id,
    key: a.key,
    acceptable: a.acceptable,
    observed: observed.get(a.id),
  }));

  // ---- the fleet as it is now: the scheduler's assignments, the engine's containers. A node agent
  // back from a kill removes what it no longer runs only after its orphan grace period: the fleet is
  // read again until it is clean or `settleMs` has passed.
  const readFleet = async () => {
    let nodes: NodeBody[] | undefined;
    let nodesError = '';
    for (let attempt = 0; attempt < 5 && !nodes; attempt++) {
      if (attempt) await sleep(2_000);
      try {
        const r = await api<{ items?: NodeBody[] }>('GET', '/v1/node');
        if (r.status === 200 && Array.isArray(r.body.items)) nodes = r.body.items;
        else nodesError = `GET /v1/node → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;
      } catch (error) {
        nodesError = `GET /v1/node: ${(error as Error).message}`;
      }
    }
    const assigned: Assignment[] = (nodes ?? []).flatMap((n) =>
      n.replicas.map((r) => ({ replicaId: r.replicaId, appId: r.appId, nodeId: n.id })),
    );
    const containers: ContainerView[] = (
      await h.docker.listContainers({ all: true, filters: { label: [`gantry.namespace=${h.namespace}`] } })
    ).map((c) => ({
      id: c.Id,
      state: c.State,
      ...(c.Labels['gantry.replica'] ? { replicaId: c.Labels['gantry.replica'] } : {}),
      ...(c.Labels['gantry.app'] ? { appId: c.Labels['gantry.app'] } : {}),
      ...(c.Labels['gantry.node'] ? { nodeId: c.Labels['gantry.node'] } : {}),
    }));
    const fleetViolations: Violation[] = nodes
      ? [
          ...checkOrphans(containers, assigned),
          ...checkDuplicates(containers),
          ...checkGpus(nodes, containers, boundTo),
        ]
      : [
          ...checkDuplicates(containers),
          ...(['no-orphan-container', 'no-gpu-bound-twice'] as const).map((invariant) => ({
            invariant,
            details: `cannot check: the scheduler's assignments are unreadable (${nodesError})`,
          })),
        ];
    return { containers, assigned, fleetViolations };
  };
  const settleUntil = Date.now() + (opts.settleMs ?? 20_000);
  let fleet = await readFleet();
  while (fleet.fleetViolations.length > 0 && Date.now() < settleUntil && !opts.signal?.aborted) {
    await sleep(1_000);
    fleet = await readFleet();
  }
  const { containers, assigned, fleetViolations } = fleet;

  // ---- billing: every app that still has a history, read again while billing may still be catching up
  const billing: AppBilling[] = [];
  for (const a of apps.values()) {
    let last: AppBilling | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt) await sleep(3_000);
      const app = await api<AppBody>('GET', `/v1/app/${a.id}`);
      if (app.status !== 200) break;
      const usage = await api<{ asOf?: string; runs?: Array<{ minutes: number }> }>(
        'GET',
        `/v1/billing/usage?appId=${a.id}`,
      );
      if (usage.status !== 200 || !usage.body.runs || !usage.body.asOf) {
        note(
          `billing usage of ${a.key} (${a.id}) → ${usage.status} ${JSON.stringify(usage.body).slice(0, 200)}`,
        );
        continue;
      }
      last = {
        appId: a.id,
        history: app.body.status.history,
        truncated: app.body.status.history.length >= HISTORY_LIMIT,
        billedMinutes: usage.body.runs.reduce((n, r) => n + r.minutes, 0),
        asOf: Date.parse(usage.body.asOf),
      };
      if (!checkBilling([last]).length) break;
    }
    if (last) billing.push(last);
    if (last?.truncated)
      note(`${a.key} (${a.id}): history truncated at ${HISTORY_LIMIT} entries, billing not checked`);
  }

  const paused = checkPausedRequests(requests, pauses, disturbances);
  const violations: Violation[] = [
    ...checkConvergence(convergence),
    ...fleetViolations,
    ...checkBilling(billing),
    ...paused.violations,
  ];
  const failed = requests.filter((r) => !r.ok).length;
  const text = [
    `chaos run, seed ${plan.seed}: ${plan.durationMs / 1000} s of faults, ${apps.size} apps, ` +
      `${plan.ops.length} workload requests, ${plan.faults.length} faults ` +
      `(${countBy(plan.faults.map((f) => (f.kind === 'kill' ? `kill ${f.service}` : f.kind)))})`,
    `requests through the ingress: ${requests.length}, failed ${failed}; pauses judged ${paused.judgedPauses} ` +
      `of ${pauses.length} (${paused.judgedRequests} requests inside them)`,
    convergedAfterS === undefined
      ? `apps did NOT all converge within ${(opts.convergeTimeoutMs ?? 60_000) / 1000} s of the faults' end`
      : `apps converged ${convergedAfterS} s after the faults' end`,
    `billing checked for ${billing.length} apps; containers seen ${containers.length}, replicas assigned ${assigned.length}`,
    ...(notes.length ? ['notes:', ...notes.map((n) => `  ${n}`)] : []),
    formatViolations(violations),
    `replay: --seed ${plan.seed}`,
  ].join('\n');
  return {
    seed: plan.seed,
    violations,
    judgedPauses: paused.judgedPauses,
    judgedRequests: paused.judgedRequests,
    requests: requests.length,
    failedRequests: failed,
    notes,
    ...(convergedAfterS === undefined ? {} : { convergedAfterS }),
    text,
  };
}

/** The replicas a started app should come back with: those of its last create or scale before `op`. */
function replicasWhenStarted(plan: ChaosPlan, op: WorkloadOp): number {
  let replicas = 1;
  for (const o of plan.ops) {
    if (o === op) break;
    if (o.app === op.app && (o.kind === 'create' || o.kind === 'scale')) replicas = o.replicas;
  }
  return replicas;
}

function countBy(items: readonly string[]): string {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n}× ${k}`).join(', ');
}
