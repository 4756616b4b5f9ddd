import {
  ACTIVE_STATES,
  type AppEvent,
  type AppState,
  type AppTrigger,
  type Info,
  PLATFORM_INFO_CODES,
  STATE_INFO_CODE,
  transition,
} from '@gantry/contracts';

import { type FreeCapacity, type PlacementResult, placeReplica, reserve } from './placement.js';
import { rolloutBounds, runtimeHash } from './rollout.js';
import { wantedReplicas } from './scaling.js';
import type { AppView, NodeView, ReplicaRequest, ReplicaView } from './types.js';

export type PlannedEvent = Pick<AppEvent, 'type' | 'reason' | 'message' | 'replicaId' | 'nodeId'>;

export interface ReconcileInput {
  app: AppView;
  /** This app's replicas. */
  replicas: readonly ReplicaView[];
  /** Free capacity of the cluster; placements made here are reserved in it. */
  free: FreeCapacity;
  nodes: ReadonlyMap<string, NodeView>;
  now: string;
  newReplicaId: () => string;
  /** Chooses a node for one replica (default: `placeReplica` on `free`); reservations stay here. */
  place?: (req: ReplicaRequest) => PlacementResult;
}

export interface ReconcilePlan {
  /** The app after this pass. */
  app: AppView;
  /** True when what `app.status.v1` carries changed (state, info, availability, allocation). */
  statusChanged: boolean;
  create: ReplicaView[];
  /** Replicas to take off their node (they keep their resources until reported stopped). */
  stop: string[];
  /** Replicas to drop at once: their node is lost, nothing will report them stopped. */
  forget: string[];
  events: PlannedEvent[];
  /** The app reached DELETED: its route and rows can go. */
  deleted: boolean;
  /** Replicas it wants found no room: what blocks them (placed as soon as capacity appears). */
  blocked?: string;
}

/** Transitions an app's status keeps, newest last. */
export const HISTORY_LIMIT = 100;

/** What one replica of this app needs from a host. */
export function replicaRequest(app: AppView): ReplicaRequest {
  const r = app.spec.resources;
  return {
    appId: app.id,
    type: r.type,
    cpu: r.cpu,
    memory: r.memory,
    gpus: r.gpu,
    ...(r.gpuModel ? { gpuModel: r.gpuModel } : {}),
  };
}

/**
 * One convergence step for one app, as a pure function of a snapshot: it moves the app through the
 * lifecycle (only by `transition`), places missing replicas, takes surplus, failed or lost ones away,
 * and says what to record and announce. Running it again on its own result changes nothing.
 */
export function reconcileApp(input: ReconcileInput): ReconcilePlan {
  const { app, nodes, now } = input;
  let state = app.state;
  const history = [...app.history];
  let lastTransitionDate = app.lastTransitionDate;
  let info: Info = app.info;
  const events: PlannedEvent[] = [];
  const create: ReplicaView[] = [];
  const stop = new Set<string>();
  const forget = new Set<string>();
  let rolloutCap = 0;
  let blocked: string | undefined;

  const go = (trigger: AppTrigger, why?: Info): boolean => {
    const r = transition(state, trigger);
    if (!r.ok) return false;
    state = r.to;
    history.push({ state, date: now });
    lastTransitionDate = now;
    info = why ?? { code: STATE_INFO_CODE[state], message: defaultMessage(state) };
    events.push({ type: 'STATE_CHANGED', reason: info.code, message: `${state}: ${info.message}` });
    return true;
  };

  // Replicas on a lost node are gone: forget them so that they are replaced elsewhere.
  for (const r of input.replicas) {
    if (nodes.get(r.nodeId)?.health === 'LOST' || !nodes.has(r.nodeId)) {
      forget.add(r.id);
      events.push({
        type: 'REPLICA_REMOVED',
        reason: 'APP_INTERRUPTED_BY_PLATFORM',
        message: `replica ${r.id} was on node ${r.nodeId}, which is lost`,
        replicaId: r.id,
        nodeId: r.nodeId,
      });
    }
  }
  // (Nothing is forgotten past this point: what is present is known once.)
  const presentOnce = forget.size === 0 ? input.replicas : input.replicas.filter((r) => !forget.has(r.id));
  const present = () => presentOnce;
  const live = () => [...present().filter((r) => r.desired === 'RUN' && !stop.has(r.id)), ...create];
  const stopAll = () => {
    for (const r of present()) if (r.desired === 'RUN') stop.add(r.id);
  };

  switch (app.lifecycle) {
    case 'RUNNING': {
      if (state === 'STOPPING') {
        stopAll();
        if (present().length === 0) go('drained');
      }
      if (state === 'STOPPED') go('start');
      if (!ACTIVE_STATES.has(state)) break;

      // A replica bound to a GPU its node no longer has (the host came back with fewer, or one fell
      // off the bus) is the platform's doing: replaced elsewhere, never the app failing.
      for (const r of present()) {
        if (r.desired !== 'RUN' || r.gpus.length === 0) continue;
        const has = nodes.get(r.nodeId)?.capacity.gpus ?? [];
        const gone = r.gpus.find((g) => !has.some((h) => h.uuid === g.uuid));
        if (!gone) continue;
        stop.add(r.id);
        events.push({
          type: 'REPLICA_REMOVED',
          reason: 'APP_INTERRUPTED_BY_PLATFORM',
          message: `replica ${r.id} was bound to GPU ${gone.uuid}, which node ${r.nodeId} no longer has`,
          replicaId: r.id,
          nodeId: r.nodeId,
        });
      }

      const hash = runtimeHash(app.spec);
      // A replica created for another runtime spec (image, command, env, ports, probe, resources).
      const outdated = (r: ReplicaView) => r.specHash !== undefined && r.specHash !== hash;
      const oldServing = present().some(
        (r) => r.desired === 'RUN' && r.phase === 'READY' && !stop.has(r.id) && outdated(r),
      );
      const failed = present().find(
        (r) => r.desired === 'RUN' && !stop.has(r.id) && r.phase === 'FAILED' && !r.everReady && !outdated(r),
      );
      // A new replica that fails while old ones still serve stalls the rollout but fails nothing: it
      // stays (saying why) and holds its surge slot until the spec changes again.
      const stuck = failed && oldServing ? failed : undefined;
      // A new replica neither ready nor failed `progressDeadlineSeconds` after it was placed: the
      // rollout makes no progress. Reported, like a failed one; the previous replicas keep serving.
      const deadlineS = app.spec.deploymentStrategy.progressDeadlineSeconds;
      const late =
        oldServing && !stuck
          ? present().find(
              (r) =>
                r.desired === 'RUN' &&
                !outdated(r) &&
                r.phase !== 'READY' &&
                r.phase !== 'FAILED' &&
                r.createdAt !== undefined &&
                Date.parse(now) - Date.parse(r.createdAt) > deadlineS * 1000,
            )
          : undefined;
      if (failed && !stuck) {
        // The platform's own failures (an engine that cannot create containers, a node without the
        // GPUs it advertised) put the app in ERROR; the rest are the app's (FAILED).
        const platform = failed.reason !== undefined && PLATFORM_INFO_CODES.has(failed.reason);
        go(platform ? 'platformError' : 'userFailure', {
          code: failed.reason ?? 'APP_FAILED',
          message: failed.message ?? `replica ${failed.id} failed before it was ever ready`,
        });
        break;
      }
      // A first deployment (nothing has served since it was placed) whose replica is still not ready
      // `progressDeadlineSeconds` after it was placed fails, saying what its readiness probe got.
      const overdue = firstDeploymentOverdue(present(), now, deadlineS);
      if (overdue && (state === 'SCALING' || state === 'INITIALIZING')) {
        go('userFailure', {
          code: 'APP_PROGRESS_DEADLINE_EXCEEDED',
          message:
            `no replica became ready within ${deadlineS} s of being placed (progressDeadlineSeconds): ` +
            `replica ${overdue.id}: ${overdue.message ?? describePhase(overdue)}`,
        });
        break;
      }
      // A replica that failed after having served, or that runs an outdated spec, is replaced.
      for (const r of present())
        if (r.desired === 'RUN' && !stop.has(r.id) && r.phase === 'FAILED' && (r.everReady || outdated(r))) {
          stop.add(r.id);
          events.push({
            type: 'REPLICA_FAILED',
            reason: r.reason ?? 'APP_CRASH_LOOP',
            message: `replacing replica ${r.id}: ${r.message ?? 'it failed'}`,
            replicaId: r.id,
            nodeId: r.nodeId,
          });
        }

      const want = wantedReplicas(app);
      // Replicas on a draining node are moving: they keep serving until a replacement is ready.
      const moving = (r: ReplicaView) => nodes.get(r.nodeId)?.draining === true;
      const counted = () => live().filter((r) => !moving(r));
      const rolling = live().some(outdated);
      const why = rolling ? rolloutReason(app, live().filter(outdated)) : '';
      const byPreference = (rs: ReplicaView[]) =>
        [...rs].sort((a, b) => Number(a.phase === 'READY') - Number(b.phase === 'READY'));
      let surplus = 0;
      if (!rolling) {
        surplus = counted().length - want;
        if (surplus > 0) for (const r of byPreference(counted()).slice(0, surplus)) stop.add(r.id);
      } else {
        const bounds = rolloutBounds(app.spec.deploymentStrategy, want);
        const current = counted().filter((r) => !outdated(r));
        surplus = current.length - want;
        if (surplus > 0) for (const r of byPreference(current).slice(0, surplus)) stop.add(r.id);
        // Outdated replicas go, not-ready ones first, while `want - maxUnavailable` stay ready.
        let available = counted().filter((r) => r.phase === 'READY').length;
        for (const r of byPreference(counted().filter(outdated))) {
          if (r.phase === 'READY') {
            if (available - 1 < want - bounds.maxUnavailable) break;
            available -= 1;
          }
          stop.add(r.id);
          events.push({
            type: 'REPLICA_REMOVED',
            reason: 'APP_SCALING',
            message: `replica ${r.id} replaced: ${why}`,
            replicaId: r.id,
            nodeId: r.nodeId,
          });
        }
        rolloutCap = want + bounds.maxSurge;
      }
      const req = replicaRequest(app);
      const movers = () => live().filter(moving);
      // Missing replicas are placed at once; replacements for moving ones one at a time; during a
      // rolling update, new ones up to `maxSurge` beyond the desired count.
      const replacementInFlight = () => counted().some((r) => r.phase !== 'READY');
      const target = () =>
        Math.max(0, want - movers().length) + (movers().length > 0 && !replacementInFlight() ? 1 : 0);
      // Replicas told to stop hold their resources (and are billed) until their node reports them
      // gone: a rolling update counts them against `maxSurge` too.
      const held = () => present().filter((r) => !moving(r)).length + create.length;
      const needsMore = () =>
        rolling
          ? counted().length < rolloutCap &&
            held() < rolloutCap &&
            counted().filter((r) => !outdated(r)).length < want
          : counted().length < Math.min(want, target());
      while (needsMore()) {
        const placed = input.place ? input.place(req) : placeReplica(req, input.free);
        if (!placed.ok) {
          blocked = placed.reason;
          break;
        }
        reserve(input.free, req, placed);
        const replica: ReplicaView = {
          id: input.newReplicaId(),
          appId: app.id,
          nodeId: placed.nodeId,
          specVersion: app.desiredVersion,
          specHash: hash,
          image: app.spec.image,
          desired: 'RUN',
          cpu: req.cpu,
          memory: req.memory,
          units: app.spec.resources.units,
          gpus: placed.gpus,
          phase: 'PENDING',
          everReady: false,
          restarts: 0,
          reportSeq: 0,
        };
        create.push(replica);
        events.push({
          type: 'REPLICA_PLACED',
          reason: 'APP_SCALING',
          message: `replica ${replica.id} placed on node ${placed.nodeId}${placed.gpus.length ? ` with GPUs ${placed.gpus.map((g) => g.index).join(',')}` : ''}${movers().length ? ' (moving off a draining node)' : ''}${rolling ? ` (rolling update: ${why})` : ''}`,
          replicaId: replica.id,
          nodeId: placed.nodeId,
        });
      }
      // A moving replica stops once the app keeps `want` ready replicas without it.
      const readyNow = live().filter((r) => r.phase === 'READY').length;
      const firstMover = movers()[0];
      if (firstMover && readyNow - (firstMover.phase === 'READY' ? 1 : 0) >= want) {
        stop.add(firstMover.id);
        events.push({
          type: 'REPLICA_REMOVED',
          reason: 'APP_SCALING',
          message: `replica ${firstMover.id} leaves draining node ${firstMover.nodeId}: its replacement is ready`,
          replicaId: firstMover.id,
          nodeId: firstMover.nodeId,
        });
      }

      if (state === 'QUEUED') {
        if (live().length > 0) {
          go('placed');
          go('initialized');
        } else {
          const message = `waiting for capacity: ${blocked ?? 'no replica placed yet'}`;
          if (info.message !== message)
            events.push({ type: 'UNSCHEDULABLE', reason: 'APP_NO_CAPACITY', message });
          info = { code: 'APP_QUEUED', message };
          break;
        }
      }
      // Replicas are missing (lost with their node, none placed instead): the app is SCALING again,
      // and its info says what blocks them, until they are placed and ready.
      const missing = live().length < want;
      if (state === 'RUNNING' && (create.length > 0 || surplus > 0 || rolling || missing))
        go(
          'replicasChanged',
          rolling ? { code: 'APP_SCALING', message: `rolling update: ${why}` } : undefined,
        );

      const ready = live().filter((r) => r.phase === 'READY').length;
      const leaving = present().some((r) => r.desired === 'STOP' || stop.has(r.id)) || movers().length > 0;
      const stillOutdated = live().some(outdated);
      if (state === 'SCALING' && ready >= want && live().length === want && !leaving && !stillOutdated)
        go('converged');
      if (state === 'SCALING' || state === 'RUNNING') {
        const waiting = rolling
          ? Math.min(rolloutCap - counted().length, want - counted().filter((r) => !outdated(r)).length)
          : want - counted().length - movers().length;
        const updated = live().filter((r) => !outdated(r) && r.phase === 'READY').length;
        const lateWhy = late
          ? `; rollout failed: new replica ${late.id} not ready ${deadlineS} s after it was placed (progressDeadlineSeconds); the previous replicas keep serving`
          : '';
        const stuckWhy = stuck
          ? `; rollout stuck: new replica ${stuck.id} failed: ${stuck.message ?? stuck.reason ?? 'it failed'}; the previous replicas keep serving`
          : lateWhy;
        // While nothing is ready yet, what the first waiting replica last said (its readiness probe).
        const waitingOn =
          ready === 0 && !stuckWhy
            ? live().find((r) => r.phase !== 'READY' && r.phase !== 'FAILED' && r.message)
            : undefined;
        // An automatic app's metric that cannot be read holds its count: its status says so.
        const problem = app.scaling?.problem;
        info = {
          // A failed rollout has its own code: the api-gateway rolls back an app that asks for it.
          code: stuckWhy
            ? 'APP_ROLLOUT_FAILED'
            : problem && state === 'RUNNING'
              ? 'APP_METRICS_UNAVAILABLE'
              : STATE_INFO_CODE[state],
          message:
            (want === 0 && ready === 0 && live().length === 0
              ? 'scaled to zero replicas while idle: the next request wakes the app'
              : `${ready}/${want} replicas ready`) +
            (problem ? `; autoscaling holds: ${problem}` : '') +
            (stillOutdated ? `; rolling update (${why}): ${updated}/${want} updated` : '') +
            stuckWhy +
            (waitingOn ? `; replica ${waitingOn.id}: ${waitingOn.message}` : '') +
            (waiting > 0 && blocked ? `; ${waiting} waiting for capacity: ${blocked}` : ''),
        };
        if (stuck && !app.info.message.includes(`rollout stuck: new replica ${stuck.id}`))
          events.push({
            type: 'REPLICA_FAILED',
            reason: stuck.reason ?? 'APP_CRASH_LOOP',
            message: `rolling update stuck (${why}): new replica ${stuck.id} failed: ${stuck.message ?? 'it failed'}; the previous replicas keep serving`,
            replicaId: stuck.id,
            nodeId: stuck.nodeId,
          });
        if (late && !app.info.message.includes(`rollout failed: new replica ${late.id}`))
          events.push({
            type: 'REPLICA_FAILED',
            reason: 'APP_PROGRESS_DEADLINE_EXCEEDED',
            message: `rolling update failed (${why}): new replica ${late.id} not ready ${deadlineS} s after it was placed (progressDeadlineSeconds); the previous replicas keep serving`,
            replicaId: late.id,
            nodeId: late.nodeId,
          });
      }
      break;
    }
    case 'STOPPED': {
      if (ACTIVE_STATES.has(state)) go('stop');
      if (state === 'STOPPING') {
        stopAll();
        if (present().length === 0) go('drained');
      }
      break;
    }
    case 'DELETED': {
      if (ACTIVE_STATES.has(state)) go('delete');
      if (state === 'STOPPING') {
        stopAll();
        if (present().length === 0) go('drained');
      }
      if (state === 'STOPPED' || state === 'FAILED' || state === 'ERROR') go('delete');
      if (state === 'DELETING') {
        stopAll();
        if (present().length === 0) go('purged');
      }
      break;
    }
  }
  // Nothing keeps running once the app is failed, in error, or on its way out.
  if (!ACTIVE_STATES.has(state)) stopAll();

  const remaining = [...present(), ...create];
  const availableReplicas = remaining.filter(
    (r) => r.desired === 'RUN' && !stop.has(r.id) && r.phase === 'READY',
  ).length;
  const allocatedUnits = remaining.reduce((sum, r) => sum + r.units, 0);
  // The oldest transitions go first: a long-lived app's status (and every event carrying it) stays small.
  if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
  const next: AppView = {
    ...app,
    state,
    info,
    history,
    lastTransitionDate,
    availableReplicas,
    allocatedUnits,
  };
  const statusChanged =
    state !== app.state ||
    info.code !== app.info.code ||
    info.message !== app.info.message ||
    availableReplicas !== app.availableReplicas ||
    allocatedUnits !== app.allocatedUnits;
  if (statusChanged) next.statusVersion = app.statusVersion + 1;
  return {
    app: next,
    statusChanged,
    create,
    stop: [...stop],
    forget: [...forget],
    events,
    deleted: state === 'DELETED',
    ...(blocked !== undefined ? { blocked } : {}),
  };
}

/**
 * The replica that makes a first deployment overdue: nothing among `replicas` has ever been ready,
 * and one placed more than `deadlineS` ago is still not ready (nor failed, which fails on its own).
 */
export function firstDeploymentOverdue(
  replicas: readonly ReplicaView[],
  now: string,
  deadlineS: number,
): ReplicaView | undefined {
  if (replicas.some((r) => r.everReady || r.phase === 'READY')) return undefined;
  const limit = Date.parse(now) - deadlineS * 1000;
  return replicas.find(
    (r) =>
      r.desired === 'RUN' &&
      r.phase !== 'FAILED' &&
      r.createdAt !== undefined &&
      Date.parse(r.createdAt) < limit,
  );
}

function describePhase(r: ReplicaView): string {
  switch (r.phase) {
    case 'PENDING':
      return 'its node never reported it started';
    case 'PULLING':
      return 'still pulling its image';
    default:
      return `still ${r.phase.toLowerCase().replace('_', ' ')}`;
  }
}

/** Why a rolling update replaces replicas, for events and info ("image changed to …"). */
function rolloutReason(app: AppView, outdated: readonly ReplicaView[]): string {
  if (outdated.some((r) => r.image !== undefined && r.image !== app.spec.image))
    return `image changed to ${app.spec.image}`;
  return 'runtime settings changed (command, environment, ports, probe or resources)';
}

function defaultMessage(state: AppState): string {
  switch (state) {
    case 'QUEUED':
      return 'waiting to be scheduled';
    case 'INITIALIZING':
      return 'preparing the app';
    case 'SCALING':
      return 'allocating resources and starting replicas';
    case 'RUNNING':
      return 'all replicas ready';
    case 'STOPPING':
      return 'stopping replicas and freeing resources';
    case 'STOPPED':
      return 'stopped; start it again at the same URL';
    case 'FAILED':
      return 'the app failed';
    case 'ERROR':
      return 'the platform failed the app';
    case 'DELETING':
      return 'releasing everything the app held';
    case 'DELETED':
      return 'deleted';
  }
}
