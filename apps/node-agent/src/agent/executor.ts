import { imageRegistry, type InfoCode, type ReplicaAssignment, type ReplicaPhase } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import {
  type ContainerDetails,
  type ContainerDriver,
  DriverError,
  type ImageInfo,
} from '../driver/driver.js';
import { restartDecision, type RestartPolicy, retryDelay } from '../model/backoff.js';
import { containerSpecFor, type NodeFacts } from '../model/container-spec.js';
import { refreshCheck, tagMoved } from '../model/image-refresh.js';
import { framesToLines } from '../model/lines.js';
import { describeLivenessFailure, livenessDelayMs } from '../model/liveness.js';
import type { Action, ReplicaView } from '../model/plan.js';
import type { ProbeTiming } from '../model/probe-tracker.js';
import {
  describePullFailure,
  describeUncheckedPrivateImage,
  imageStep,
  type PullCredentials,
  pullCredentials,
  type PullFailure,
} from '../model/registry-auth.js';
import type { Checkpoint, ReplicaCheckpoint } from './checkpoint.js';
import type { ControlPlane } from './control-plane.js';
import { LivenessLoop } from './liveness-loop.js';
import type { LogShipper } from './log-shipper.js';
import { agentMetrics } from './metrics.js';
import { ProbeLoop, type ProbeProgress, type Prober } from './prober.js';
import type { ReportContent, Reporter } from './reporter.js';

/** What the agent knows of a replica it runs, beyond what Docker shows. */
export interface ReplicaRuntime extends ReplicaView {
  assignment: ReplicaAssignment;
  restarts: number;
  /** Exits in a row (see restartDecision). */
  streak: number;
  everReady: boolean;
  /** Transient creation failures in a row. */
  createFailures: number;
  /** When the current container run started (ms). */
  startedAt?: number;
  endpoint?: { address: string; ports: Record<string, number> };
  probe?: ProbeLoop;
  liveness?: LivenessLoop;
  /** Why `deadContainerId` is stopped: its liveness probe's failures, in words. */
  deadBecause?: string;
  /** The registry was asked for a newer image under the tag (once per replica: see refreshImage). */
  refreshChecked?: boolean;
  /** The engine's error when the last start failed. */
  startError?: string;
  /** The phase of the last report sent. */
  lastReported?: ReplicaPhase;
}

export interface ExecutorDeps {
  nodeId: string;
  driver: ContainerDriver;
  /** Where registry credentials are looked up before a pull. */
  plane: Pick<ControlPlane, 'registryAuth'>;
  reporter: Reporter;
  shipper: LogShipper;
  checkpoint: Checkpoint;
  prober: Prober;
  probeTiming: ProbeTiming;
  policy: RestartPolicy;
  pullTimeoutMs: number;
  stopGraceSeconds: number;
  /** The replicas the agent runs: the executor is the only writer. */
  replicas: Map<string, ReplicaRuntime>;
  facts: () => Promise<NodeFacts>;
  generation: () => number;
  /** Asks the controller for a pass (a liveness probe found a container dead). */
  wake: () => void;
}

const MAX_CREATE_FAILURES = 5;
const TAIL_LINES = 10;
const LOGS_FINISH_MS = 5000;
/** Time limit of asking a registry whether a tag moved (see refreshImage): far below a pull's. */
const REFRESH_TIMEOUT_MS = 30_000;

function newRuntime(assignment: ReplicaAssignment, cp: ReplicaCheckpoint | undefined): ReplicaRuntime {
  return {
    assignment,
    phase: 'STARTING',
    restarts: cp?.restarts ?? 0,
    streak: cp?.streak ?? 0,
    everReady: cp?.everReady ?? false,
    createFailures: 0,
  };
}

/** "exited with code 3", "was killed for using more than its memory (exit code 137)", "could not start: …". */
export function describeExit(
  d: Pick<ContainerDetails, 'exitCode' | 'oomKilled' | 'error'>,
  startError?: string,
): string {
  if (startError ?? d.error) return `could not start (exit code ${d.exitCode}): ${startError ?? d.error}`;
  if (d.oomKilled) return `was killed for using more than its memory limit (exit code ${d.exitCode})`;
  return `exited with code ${d.exitCode}`;
}

/**
 * Applies one planned action to the engine and reports what changed. Each action re-reads what it
 * needs (the plan may be a moment old) and is safe to repeat. Long steps honour `signal`, which the
 * controller aborts when the replica is unassigned meanwhile.
 */
export class Executor {
  private readonly log = new Logger('Executor');

  constructor(private readonly d: ExecutorDeps) {}

  async execute(action: Action, signal: AbortSignal): Promise<void> {
    switch (action.kind) {
      case 'create':
        return this.create(action.assignment, signal);
      case 'adopt':
        return this.adopt(action.assignment, action.containerId);
      case 'start':
        return this.start(action.replicaId, action.containerId);
      case 'exited':
        return this.exited(action.replicaId, action.containerId);
      case 'unhealthy':
        return this.unhealthy(action.replicaId, action.containerId);
      case 'stop':
        return this.stop(action);
      case 'forget':
        return this.forget(action.replicaId);
    }
  }

  /** Stops every probe (agent shutdown; containers keep running). */
  stopProbes(): void {
    for (const rt of this.d.replicas.values()) stopProbing(rt);
  }

  private async create(a: ReplicaAssignment, signal: AbortSignal): Promise<void> {
    const { driver, replicas } = this.d;
    let rt = replicas.get(a.replicaId);
    if (!rt) {
      rt = newRuntime(a, this.d.checkpoint.get(a.replicaId));
      replicas.set(a.replicaId, rt);
    }
    delete rt.retryAt;
    const facts = await this.d.facts();
    if (a.gpus.length && facts.gpuMode === 'none')
      return this.fail(
        rt,
        'APP_ERROR',
        `the replica needs ${a.gpus.length} GPUs but node ${this.d.nodeId} has none`,
      );

    const image = await this.imageFor(rt, a, signal);
    if (!image) return;
    if (image.architecture !== 'amd64' || image.os !== 'linux')
      return this.fail(
        rt,
        'COMPATIBILITY',
        `image "${a.image}" is built for ${image.os}/${image.architecture}; Gantry runs linux/amd64 images only ` +
          `(build it with docker buildx build --platform linux/amd64)`,
      );
    if (signal.aborted) return;
    if (rt.phase !== 'RESTARTING' && rt.lastReported !== 'STARTING') this.transition(rt, 'STARTING');

    let id: string;
    try {
      id = await driver.createContainer(containerSpecFor(a, this.d.generation(), facts));
    } catch (error) {
      if (error instanceof DriverError && error.kind === 'invalid')
        return this.fail(rt, 'APP_CREATE_ERROR', `the container cannot be created: ${error.message}`);
      return this.retryLater(rt, 'creating the container', error);
    }
    rt.createFailures = 0;
    rt.containerId = id;
    if (signal.aborted) return; // unassigned meanwhile: the next pass stops it
    await this.run(rt, id);
  }

  /**
   * The image to create the replica's container from: the node's copy when it may run as it is, else
   * pulled (see `imageStep`; and `newerImage` for a replica that starts a run of its app). Undefined
   * when there is none to run: the replica failed, waits to retry, or was unassigned meanwhile.
   */
  private async imageFor(
    rt: ReplicaRuntime,
    a: ReplicaAssignment,
    signal: AbortSignal,
  ): Promise<ImageInfo | undefined> {
    const { driver } = this.d;
    try {
      // A present image that was pulled with credentials is pulled again with this replica's project's
      // (see imageStep): another project's pull must not let this one run it.
      const step = imageStep(await driver.inspectImage(a.image), (id) => this.d.checkpoint.privateImage(id));
      if (step.kind === 'use') {
        const newer = await this.newerImage(rt, a, step.image, signal);
        if (signal.aborted) return undefined;
        if (!newer) return step.image;
        this.transition(rt, 'PULLING');
        this.logCredentials(a, newer);
        const failure = await this.pull(a, newer.auth, false, signal);
        if (signal.aborted) return undefined;
        // The registry named a newer image but would not hand it over: the node's copy still runs.
        if (failure) {
          this.log.warn(
            `replica ${a.replicaId}: pulling the newer "${a.image}" failed (${failure.message}); running the node's copy`,
          );
          return step.image;
        }
        return await this.pulled(rt, a, newer.auth);
      }
      const again = step.kind === 'repull';
      this.transition(rt, 'PULLING');
      const pull = await this.credentials(a);
      this.logCredentials(a, pull, again ? step.registry : undefined);
      if (signal.aborted) return undefined;
      // Never run a private image unchecked: without the project's credentials known, no pull can
      // tell whether it may.
      if (again && pull.lookup.outcome === 'failed') {
        this.fail(
          rt,
          'JOB_IMAGE_PULL',
          describeUncheckedPrivateImage(a.image, step.registry, pull.lookup.why),
        );
        return undefined;
      }
      const failure = await this.pull(a, pull.auth, again, signal);
      if (signal.aborted) return undefined;
      if (failure) {
        this.fail(rt, 'JOB_IMAGE_PULL', describePullFailure(a.image, failure, pull.lookup, again));
        return undefined;
      }
      return await this.pulled(rt, a, pull.auth);
    } catch (error) {
      this.retryLater(rt, `inspecting image ${a.image}`, error);
      return undefined;
    }
  }

  /** Pulls the replica's image (`verify`: see PullOptions); the failure, or undefined when it worked. */
  private async pull(
    a: ReplicaAssignment,
    auth: PullCredentials['auth'],
    verify: boolean,
    signal: AbortSignal,
  ): Promise<PullFailure | undefined> {
    const started = Date.now();
    try {
      await this.d.driver.pullImage(a.image, {
        timeoutMs: this.d.pullTimeoutMs,
        signal,
        ...(auth ? { auth } : {}),
        ...(verify ? { verify: true } : {}),
      });
      agentMetrics.pulls.inc({ node: this.d.nodeId, result: 'ok' });
      agentMetrics.pullSeconds.observe({ node: this.d.nodeId }, (Date.now() - started) / 1000);
      return undefined;
    } catch (error) {
      if (!signal.aborted) agentMetrics.pulls.inc({ node: this.d.nodeId, result: 'error' });
      return {
        message: (error as Error).message,
        ...(error instanceof DriverError ? { kind: error.kind } : {}),
      };
    }
  }

  /** The image a pull just brought, remembered as private when credentials brought it. */
  private async pulled(
    rt: ReplicaRuntime,
    a: ReplicaAssignment,
    auth: PullCredentials['auth'],
  ): Promise<ImageInfo | undefined> {
    const image = await this.d.driver.inspectImage(a.image);
    if (!image) {
      this.fail(rt, 'JOB_IMAGE_PULL', `image "${a.image}" does not exist locally and could not be pulled`);
      return undefined;
    }
    // On disk before any container of it runs (see Checkpoint.rememberPrivateImage).
    if (auth && !(await this.d.checkpoint.rememberPrivateImage(image.id, imageRegistry(a.image)))) {
      this.retryLater(
        rt,
        `recording that image ${a.image} is private`,
        new Error('the checkpoint could not be written'),
      );
      return undefined;
    }
    return image;
  }

  /**
   * For a replica that starts a run of its app (`refreshImage`), whether the registry now has another
   * image under the tag than the node's copy: the credentials to pull it with when it has. Asked once
   * per replica, never failing it: a registry that cannot be reached or refuses leaves the node's copy
   * to run, with a log line. Undefined: run the node's copy.
   */
  private async newerImage(
    rt: ReplicaRuntime,
    a: ReplicaAssignment,
    local: ImageInfo,
    signal: AbortSignal,
  ): Promise<PullCredentials | undefined> {
    if (rt.refreshChecked) return undefined;
    const check = refreshCheck(a.image, local, a.refreshImage);
    if (check.kind === 'skip') {
      if (a.refreshImage)
        this.log.log(
          `replica ${a.replicaId}: running the node's copy of "${a.image}" as it is: ${check.why}`,
        );
      return undefined;
    }
    rt.refreshChecked = true;
    const pull = await this.credentials(a);
    let digest: string;
    try {
      digest = await this.d.driver.registryDigest(a.image, {
        timeoutMs: Math.min(this.d.pullTimeoutMs, REFRESH_TIMEOUT_MS),
        signal,
        ...(pull.auth ? { auth: pull.auth } : {}),
      });
    } catch (error) {
      if (!signal.aborted)
        this.log.warn(
          `replica ${a.replicaId}: could not ask registry ${imageRegistry(a.image)} whether "${a.image}" ` +
            `changed (${(error as Error).message}); running the node's copy`,
        );
      return undefined;
    }
    if (!tagMoved(a.image, local, digest)) {
      this.log.log(`replica ${a.replicaId}: "${a.image}" is up to date (${digest})`);
      return undefined;
    }
    this.log.log(
      `replica ${a.replicaId}: the registry has ${digest} under "${a.image}", not the node's copy`,
    );
    return pull;
  }

  /**
   * The credentials to pull the replica's image with, asked of the control plane. Never throws: when
   * they cannot be looked up an absent image is pulled without any (a public image must not depend on
   * the lookup), and the failure message of that pull, if it fails, says why; a present private image
   * is not pulled at all (see `imageFor`).
   */
  private async credentials(a: ReplicaAssignment): Promise<PullCredentials> {
    let answer: Parameters<typeof pullCredentials>[1];
    try {
      answer = { stored: await this.d.plane.registryAuth({ projectId: a.projectId, image: a.image }) };
    } catch (error) {
      answer = { error: error instanceof Error ? error.message : String(error) };
    }
    return pullCredentials(a.image, answer);
  }

  /**
   * Says how the replica's image is pulled: with which registry's credentials, or why without any.
   * `privateRegistry`: the image is present, pulled from that registry with credentials before.
   */
  private logCredentials(a: ReplicaAssignment, pull: PullCredentials, privateRegistry?: string): void {
    const { lookup } = pull;
    const again = privateRegistry !== undefined;
    const subject = again
      ? `"${a.image}" (present, pulled from registry ${privateRegistry} with credentials) again`
      : `"${a.image}"`;
    if (lookup.outcome === 'failed')
      this.log.warn(
        `replica ${a.replicaId}: the registry credentials for image "${a.image}" could not be looked up ` +
          `(${lookup.why}); ${again ? 'not running this private image unchecked' : 'pulling it without credentials'}`,
      );
    else if (lookup.outcome === 'found')
      this.log.log(
        `replica ${a.replicaId}: pulling ${subject} with the credentials of registry ${lookup.url} (user ${lookup.username})`,
      );
    else if (again)
      this.log.log(
        `replica ${a.replicaId}: pulling ${subject} without credentials: project ${a.projectId} has none for it`,
      );
  }

  private async adopt(a: ReplicaAssignment, containerId: string): Promise<void> {
    const d = await this.d.driver.inspectContainer(containerId);
    if (!d) return;
    const cp = this.d.checkpoint.get(a.replicaId);
    let rt = this.d.replicas.get(a.replicaId);
    if (rt) stopProbing(rt);
    else {
      rt = newRuntime(a, cp);
      if (cp?.failed) rt.phase = 'FAILED';
      this.d.replicas.set(a.replicaId, rt);
    }
    rt.containerId = d.id;
    delete rt.retryAt;
    this.log.log(`replica ${a.replicaId}: adopted container ${d.id.slice(0, 12)} (${d.state})`);
    if (rt.phase === 'FAILED') return;
    // Ship what it wrote while no agent was following it (from the checkpoint's cursor), even when it
    // exited meanwhile; an exited one is then handled by the next pass.
    if (d.state !== 'created') this.d.shipper.follow(a.replicaId, a.appId, d.id);
    if (d.state !== 'running') return;
    rt.startedAt = d.startedAt ?? Date.now();
    rt.endpoint = { address: (await this.d.facts()).address, ports: d.ports };
    this.probe(rt, d.id);
  }

  private async start(replicaId: string, containerId: string): Promise<void> {
    const rt = this.d.replicas.get(replicaId);
    if (!rt) return;
    delete rt.retryAt;
    agentMetrics.restarts.inc({ node: this.d.nodeId });
    await this.run(rt, containerId);
  }

  private async exited(replicaId: string, containerId: string): Promise<void> {
    const rt = this.d.replicas.get(replicaId);
    if (!rt) return;
    stopProbing(rt);
    const d = await this.d.driver.inspectContainer(containerId);
    if (!d || d.state === 'running') return;
    const ranMs =
      d.startedAt && d.finishedAt ? d.finishedAt - d.startedAt : rt.startedAt ? Date.now() - rt.startedAt : 0;
    // Stopped for failing its liveness probe: that is why, whatever code it exited with then.
    const killed = rt.deadContainerId === containerId ? rt.deadBecause : undefined;
    delete rt.deadContainerId;
    delete rt.deadBecause;
    const why = killed ? `was stopped: ${killed}` : describeExit(d, rt.startError);
    const decision = restartDecision(this.d.policy, { everReady: rt.everReady, streak: rt.streak, ranMs });
    rt.streak = decision.streak;
    delete rt.endpoint;
    if (decision.action === 'fail') {
      const lines = framesToLines(
        await this.d.driver.tailLogs(containerId, TAIL_LINES).catch(() => []),
      ).slice(-TAIL_LINES);
      const tail = lines.length
        ? `; its last log lines:\n${lines.map((l) => `${l.stream}: ${l.line.slice(0, 500)}`).join('\n')}`
        : '; it wrote no log lines';
      return this.fail(
        rt,
        'APP_CRASH_LOOP',
        `the container ${why} before it was ever ready, and ${rt.restarts} restarts did not help${tail}`,
        d.exitCode,
      );
    }
    rt.restarts++;
    rt.retryAt = Date.now() + decision.delayMs;
    this.d.checkpoint.update(replicaId, { restarts: rt.restarts, streak: rt.streak });
    const next = `restart ${rt.restarts} in ${decision.delayMs / 1000} s`;
    this.transition(rt, 'RESTARTING', {
      exitCode: d.exitCode,
      message: killed ? `${killed}; restarting (${next})` : `the container ${why}; ${next}`,
    });
  }

  /**
   * Stops a running container that failed its liveness probe, as Docker stops any (SIGTERM, grace,
   * SIGKILL). Its exit is then handled as any exit (`exited`): restarted with backoff, counted as a
   * restart, failed by the crash-loop rules — with the probe as the reason.
   */
  private async unhealthy(replicaId: string, containerId: string): Promise<void> {
    const rt = this.d.replicas.get(replicaId);
    if (rt?.deadContainerId !== containerId) return;
    stopProbing(rt);
    this.log.warn(`replica ${replicaId}: ${rt.deadBecause ?? 'its liveness probe failed'}; restarting`);
    await this.d.driver.stopContainer(containerId, this.d.stopGraceSeconds);
  }

  private async stop(a: Extract<Action, { kind: 'stop' }>): Promise<void> {
    const rt = a.replicaId ? this.d.replicas.get(a.replicaId) : undefined;
    const mine = a.reason !== 'duplicate';
    if (mine && rt) stopProbing(rt);
    await this.d.driver.stopContainer(a.containerId, this.d.stopGraceSeconds);
    if (mine && a.replicaId) await this.d.shipper.finish(a.replicaId, LOGS_FINISH_MS);
    await this.d.driver.removeContainer(a.containerId);
    this.log.log(
      `removed container ${a.containerId.slice(0, 12)} of replica ${a.replicaId ?? '?'} (${a.reason})`,
    );
    if (!mine) return;
    const appId = rt?.assignment.appId ?? a.appId;
    if (a.replicaId && appId)
      this.d.reporter.report({
        replicaId: a.replicaId,
        appId,
        phase: 'STOPPED',
        restarts: rt?.restarts ?? 0,
        everReady: rt?.everReady ?? false,
        message:
          a.reason === 'orphan'
            ? 'removed: no assignment of this node accounts for the container'
            : 'stopped: the replica is no longer assigned to this node',
      });
    if (a.replicaId) {
      this.d.replicas.delete(a.replicaId);
      this.d.checkpoint.delete(a.replicaId);
    }
  }

  private async forget(replicaId: string): Promise<void> {
    const rt = this.d.replicas.get(replicaId);
    if (!rt) return;
    stopProbing(rt);
    await this.d.shipper.finish(replicaId, LOGS_FINISH_MS);
    this.report(rt, 'STOPPED', { message: 'stopped: the replica is no longer assigned to this node' });
    this.d.replicas.delete(replicaId);
    this.d.checkpoint.delete(replicaId);
  }

  /** Starts the container and watches the run (probe, logs); a failed start shows as an exit. */
  private async run(rt: ReplicaRuntime, containerId: string): Promise<void> {
    try {
      await this.d.driver.startContainer(containerId);
      delete rt.startError;
    } catch (error) {
      rt.startError = (error as Error).message;
      this.log.warn(`replica ${rt.assignment.replicaId}: ${rt.startError}`);
      return;
    }
    rt.startedAt = Date.now();
    // Follow the output before looking at the state: a container that exits at once (a crash at
    // start-up) must still have its output shipped, and that output is what explains the crash.
    this.d.shipper.follow(rt.assignment.replicaId, rt.assignment.appId, containerId);
    const d = await this.d.driver.inspectContainer(containerId);
    if (!d || d.state !== 'running') return;
    rt.endpoint = { address: (await this.d.facts()).address, ports: d.ports };
    this.probe(rt, containerId);
  }

  /** Probes the running container's readiness, reporting its changes, and its liveness. */
  private probe(rt: ReplicaRuntime, containerId: string): void {
    const a = rt.assignment;
    stopProbing(rt);
    const port = rt.endpoint?.ports[String(a.probe.port)];
    if (!rt.endpoint || !port) {
      this.log.warn(`replica ${a.replicaId}: probe port ${a.probe.port} is not published; cannot probe`);
      return;
    }
    const endpoint = rt.endpoint;
    rt.probe = new ProbeLoop(
      this.d.prober,
      { address: endpoint.address, port, path: a.probe.path },
      (ready) => {
        if (
          rt.containerId !== containerId ||
          rt.phase === 'FAILED' ||
          this.d.replicas.get(a.replicaId) !== rt
        )
          return;
        if (ready) {
          if (!rt.everReady) this.d.checkpoint.update(a.replicaId, { everReady: true });
          rt.everReady = true;
          this.transition(rt, 'READY');
        } else
          this.transition(rt, 'NOT_READY', {
            message: `${a.probe.path} on port ${a.probe.port} failed ${this.d.probeTiming.failureThreshold} times in a row`,
          });
      },
      this.d.probeTiming,
      // Until it is first ready, the replica says what its probe gets (the app's status shows it, and
      // fails it with it at its progress deadline), with the last lines it wrote.
      (p) => void this.probeProgress(rt, containerId, p),
    ).start();
    this.probeLiveness(rt, containerId);
  }

  /**
   * Once the startup grace of this run is over, probes the running container's liveness (when its
   * spec has a liveness probe); found dead, the container is marked for the controller to stop.
   */
  private probeLiveness(rt: ReplicaRuntime, containerId: string): void {
    const a = rt.assignment;
    const l = a.probe.liveness;
    if (!l || !rt.endpoint) return;
    const port = rt.endpoint.ports[String(l.port)];
    if (!port) {
      this.log.warn(`replica ${a.replicaId}: liveness probe port ${l.port} is not published; cannot probe`);
      return;
    }
    const delayMs = livenessDelayMs(rt.startedAt ?? Date.now(), a.probe.startupGraceSeconds ?? 0, Date.now());
    rt.liveness = new LivenessLoop(
      this.d.prober,
      { address: rt.endpoint.address, port, path: l.path },
      l,
      (v) => {
        if (
          rt.containerId !== containerId ||
          rt.phase === 'FAILED' ||
          this.d.replicas.get(a.replicaId) !== rt
        )
          return;
        rt.deadContainerId = containerId;
        rt.deadBecause = describeLivenessFailure(l, v);
        this.d.wake();
      },
    ).start(delayMs);
  }

  private async probeProgress(rt: ReplicaRuntime, containerId: string, p: ProbeProgress): Promise<void> {
    const a = rt.assignment;
    const lines = framesToLines(await this.d.driver.tailLogs(containerId, 3).catch(() => [])).slice(-3);
    if (rt.containerId !== containerId || rt.everReady || this.d.replicas.get(a.replicaId) !== rt) return;
    if (rt.phase !== 'STARTING' && rt.phase !== 'NOT_READY') return;
    const tail = lines.length
      ? `; its last log lines:\n${lines.map((l) => `${l.stream}: ${l.line.slice(0, 300)}`).join('\n')}`
      : '';
    this.report(rt, rt.phase, {
      message:
        `readiness probe GET ${a.probe.path} on :${a.probe.port}: ${p.detail} ` +
        `(${p.tries} ${p.tries === 1 ? 'try' : 'tries'} over ${Math.round(p.sinceMs / 1000)} s)${tail}`,
    });
  }

  private retryLater(rt: ReplicaRuntime, what: string, error: unknown): void {
    agentMetrics.errors.inc({ node: this.d.nodeId, what });
    const message = `${what} failed: ${(error as Error).message}`;
    if (++rt.createFailures >= MAX_CREATE_FAILURES)
      return this.fail(rt, 'APP_ERROR', `${message} (${rt.createFailures} attempts)`);
    rt.retryAt = Date.now() + retryDelay(rt.createFailures - 1);
    this.log.warn(`replica ${rt.assignment.replicaId}: ${message}; retrying`);
  }

  private fail(rt: ReplicaRuntime, reason: InfoCode, message: string, exitCode?: number): void {
    stopProbing(rt);
    delete rt.retryAt;
    this.d.checkpoint.update(rt.assignment.replicaId, {
      failed: { reason, message: message.slice(0, 8192), ...(exitCode !== undefined ? { exitCode } : {}) },
      restarts: rt.restarts,
      streak: rt.streak,
    });
    this.log.warn(`replica ${rt.assignment.replicaId} FAILED (${reason}): ${message.split('\n')[0]}`);
    this.transition(rt, 'FAILED', { reason, message, ...(exitCode !== undefined ? { exitCode } : {}) });
  }

  private transition(rt: ReplicaRuntime, phase: ReplicaPhase, extra: Partial<ReportContent> = {}): void {
    rt.phase = phase;
    this.report(rt, phase, extra);
  }

  private report(rt: ReplicaRuntime, phase: ReplicaPhase, extra: Partial<ReportContent>): void {
    rt.lastReported = phase;
    this.d.reporter.report({
      replicaId: rt.assignment.replicaId,
      appId: rt.assignment.appId,
      phase,
      restarts: rt.restarts,
      everReady: rt.everReady,
      ...((phase === 'READY' || phase === 'NOT_READY') && rt.endpoint ? { endpoint: rt.endpoint } : {}),
      ...extra,
    });
  }
}

/** Stops probing a replica's container, for readiness and for liveness. */
function stopProbing(rt: ReplicaRuntime): void {
  rt.probe?.stop();
  rt.liveness?.stop();
}
