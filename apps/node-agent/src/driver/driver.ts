/**
 * The container-runtime driver: everything the agent asks of a container engine, and nothing of
 * any one engine's types (like Nomad's `DriverPlugin`). The Docker driver implements it on
 * dockerode; the fake driver implements it in memory for unit tests and simulated nodes.
 */

/** Which containers belong to one agent: the labels every one of them carries. */
export interface Owner {
  namespace: string;
  nodeId: string;
}

/** Facts about the engine's host. */
export interface RuntimeInfo {
  /** CPU cores the engine can schedule on (the real count, not what the node advertises). */
  cpus: number;
  /** Memory of the host, in bytes. */
  memory: number;
  /** Engine name and version, for logs and the heartbeat. */
  version: string;
}

export interface ImageInfo {
  id: string;
  /** `amd64`, `arm64`… as the image declares it. */
  architecture: string;
  os: string;
  /**
   * Where registries hold it: `repository@sha256:…`, as the engine records them when it pulls or
   * pushes the image. Empty for an image built on the node and never pushed.
   */
  repoDigests: string[];
}

/** How a container is given GPUs. */
export type GpuAttachment =
  | { kind: 'none' }
  /** Real GPUs, by UUID, through the engine's device requests. */
  | { kind: 'devices'; uuids: string[] };

/** What to run: engine-neutral. The driver guarantees every field is applied or creation fails. */
export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  /** `uid:gid`. */
  user: string;
  env: Record<string, string>;
  /** Overrides the image's CMD when set. */
  command?: string[];
  /** CPU limit in cores (fractions allowed). */
  cpus: number;
  /** Memory limit in bytes; 0 = unlimited. */
  memory: number;
  pidsLimit: number;
  /** Container ports to publish, each on `hostIp` with an ephemeral host port. */
  ports: number[];
  hostIp: string;
  gpus: GpuAttachment;
  /** The process cannot gain privileges (setuid binaries, file capabilities). */
  noNewPrivileges: boolean;
}

export type ContainerState = 'created' | 'running' | 'exited';

/** A container the driver lists: enough to converge without inspecting each one. */
export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: ContainerState;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

/** A container inspected. */
export interface ContainerDetails extends ContainerSummary {
  /** Exit code of the last run (meaningful when exited). */
  exitCode: number;
  /** The engine's error for the last start, if it failed. */
  error?: string;
  oomKilled: boolean;
  /** ms since the epoch; undefined when never started / not finished. */
  startedAt?: number;
  finishedAt?: number;
  /** Published ports: container port → host port (only while running). */
  ports: Record<string, number>;
  /** The container's own IP on its network (only while running; undefined when it has none). */
  address?: string;
}

export type StreamName = 'stdout' | 'stderr';

/**
 * One frame of a container's output as the engine delivers it with timestamps: the RFC 3339 stamp,
 * a space, then the bytes of one write (a whole line ending in `\n`, or a partial line).
 */
export interface LogFrame {
  stream: StreamName;
  data: Buffer;
}

/**
 * A running container's resource counters, raw: rates are the caller's to compute, from two samples
 * (see model/usage.ts).
 */
export interface ContainerStats {
  /** When the engine read the counters: ms since the epoch, sub-millisecond digits kept. */
  readAt: number;
  /** CPU time used since the container started, ns (a counter, reset when it restarts). */
  cpuNs: number;
  /** The cgroup's memory usage, bytes, page cache included. */
  memoryUsage: number;
  /**
   * The cgroup's inactive file cache, by the kernel's names: `total_inactive_file` (cgroup v1, the
   * hierarchy's) and `inactive_file` (v1: this cgroup's; v2), whichever it reports.
   */
  memoryCounters: { total_inactive_file?: number; inactive_file?: number };
}

/** What the engine says happened to one of the owner's containers. */
export type RuntimeEvent =
  | { type: 'start' | 'die' | 'destroy' | 'oom'; containerId: string; exitCode?: number }
  /** The event stream (re)connected: events may have been missed, resync. */
  | { type: 'connected' };

/**
 * Credentials for the registry an image is pulled from. Secret: the driver hands them to the engine
 * and nowhere else (never in an error message, a log line or a label).
 */
export interface RegistryCredentials {
  /** The registry host (`host[:port]`) they authenticate against. */
  serverAddress: string;
  username: string;
  password: string;
}

/**
 * `unauthorized`: the registry refused the pull for want of credentials, or refused the ones given
 * (including the ambiguous "access denied" a registry answers for a repository that does not exist).
 */
export type DriverErrorKind =
  'not-found' | 'conflict' | 'invalid' | 'unauthorized' | 'unavailable' | 'timeout' | 'unknown';

/** Every driver failure: a kind the agent can act on, and the engine's own message. */
export class DriverError extends Error {
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts);
    this.name = 'DriverError';
  }
}

export interface PullOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  auth?: RegistryCredentials;
  /**
   * The registry must authorize the pull (with `auth`) even when the engine holds the image already.
   * A pull by tag always asks the registry (to resolve the tag), but Docker answers a pull by digest
   * of an image it holds from its own store without asking: with `verify`, the driver asks the
   * registry for the manifest first.
   */
  verify?: boolean;
}

export interface RegistryDigestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  auth?: RegistryCredentials;
}

export interface ContainerDriver {
  /** Engine facts. Throws DriverError('unavailable') when the engine does not answer. */
  info(): Promise<RuntimeInfo>;
  /** True when the engine answers. Never throws. */
  ping(): Promise<boolean>;

  /** The local image, or undefined when it is not present. */
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  /**
   * Pulls `ref`, with `auth` when given (else anonymously); rejects with the engine's error —
   * DriverError('unauthorized') when the registry refuses the pull for want of (valid) credentials —
   * or DriverError('timeout') after `timeoutMs`. See `PullOptions.verify` for an image present.
   */
  pullImage(ref: string, opts: PullOptions): Promise<void>;
  /**
   * The digest the registry gives `ref` now (`sha256:…`, what a pull of it would fetch), asking the
   * registry (with `auth` when given) and never the engine's store. Rejects as a pull does —
   * DriverError('unauthorized') when the registry refuses, 'not-found' for a tag it does not have —
   * and with DriverError('timeout') after `timeoutMs`.
   */
  registryDigest(ref: string, opts: RegistryDigestOptions): Promise<string>;

  /** Creates (does not start) a container. Rejects with 'conflict' when the name is taken. */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** Starts a container; starting a running one is not an error. */
  startContainer(id: string): Promise<void>;
  /** Stops with SIGTERM, then SIGKILL after `graceSeconds`. Stopping a stopped or missing one is not an error. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  /** Removes a container (forcefully). Removing a missing one is not an error. */
  removeContainer(id: string): Promise<void>;
  /** The container, or undefined when it does not exist. */
  inspectContainer(id: string): Promise<ContainerDetails | undefined>;
  /** Every container carrying the owner's labels, in any state. */
  listContainers(owner: Owner): Promise<ContainerSummary[]>;

  /**
   * Calls `onEvent` for each start/die/destroy/oom of the owner's containers until `signal` aborts,
   * reconnecting on its own; `{type: 'connected'}` after every (re)connection. Never throws.
   */
  watchEvents(owner: Owner, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): void;

  /**
   * The container's output from `since` (RFC 3339, inclusive) or the beginning, following it until the
   * container stops or `signal` aborts. The iterator ends instead of throwing when the container goes away.
   */
  followLogs(id: string, opts: { since?: string; signal: AbortSignal }): AsyncIterable<LogFrame>;
  /** The last `lines` frames of output. */
  tailLogs(id: string, lines: number): Promise<LogFrame[]>;
  /**
   * One reading of the container's counters, taken now (not waiting for a second reading), or
   * undefined when the container is not running or does not exist. Rejects when the engine does
   * not answer, or with DriverError('timeout') once `signal` aborts.
   */
  stats(id: string, opts?: { signal?: AbortSignal }): Promise<ContainerStats | undefined>;
}
