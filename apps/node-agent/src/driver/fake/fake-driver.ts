import { stampKey } from '../../model/lines.js';
import { LABELS } from '../../model/ownership.js';
import {
  type ContainerDetails,
  type ContainerDriver,
  type ContainerSpec,
  type ContainerState,
  type ContainerStats,
  type ContainerSummary,
  DriverError,
  type ImageInfo,
  type LogFrame,
  type Owner,
  type PullOptions,
  type RegistryCredentials,
  type RuntimeEvent,
  type RuntimeInfo,
  type StreamName,
} from '../driver.js';

/** How a fake image's containers behave once started. */
export interface FakeBehaviour {
  /** Answers readiness probes while running (default true). */
  serves?: boolean;
  /** Exits on its own this long after each start. */
  exitAfterMs?: number;
  exitCode?: number;
  /** Lines written at each start: `stdout:` / `stderr:` prefixes pick the stream (default stdout). */
  output?: string[];
  /** What it uses while running: CPUs busy on average, memory bytes (default 0.1 CPU, 32 MiB). */
  usage?: { cpus: number; memory: number };
  /** Its IP on its network while running (default none: nothing can reach it directly). */
  address?: string;
}

interface FakeContainer {
  id: string;
  spec: ContainerSpec;
  state: ContainerState;
  exitCode: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  ports: Record<string, number>;
  frames: Array<{ key: string; frame: LogFrame }>;
  exitTimer?: NodeJS.Timeout;
  /** Answers every probe with 500 until it is started again (see `sicken`). */
  sick?: boolean;
  waiters: Set<() => void>;
}

/**
 * An in-memory container engine: for unit tests, and for the simulated nodes of scheduler benchmarks
 * (thousands of "containers" without Docker). Images are registered up front (`addImage`) or made
 * pullable (`allowPull`; with given credentials only, after `requireAuth`); a container's behaviour
 * comes from its image. Probes through `prober()` succeed for running containers whose image serves.
 * Same guarantees as the Docker driver, minus resource enforcement.
 */
export class FakeDriver implements ContainerDriver {
  private readonly images = new Map<string, ImageInfo>();
  private readonly pullable = new Map<string, ImageInfo>();
  /** What the registry has under each pullable tag: its digest, when it has one. */
  private readonly published = new Map<string, string>();
  private readonly guarded = new Map<string, Array<{ username: string; password: string }>>();
  private readonly behaviours = new Map<string, FakeBehaviour>();
  private readonly containers = new Map<string, FakeContainer>();
  private readonly listeners = new Set<{ owner: Owner; onEvent: (e: RuntimeEvent) => void }>();
  private nextId = 1;
  private nextPort = 40_000;
  private lastStampMs = 0;
  /** Every pull attempted, in order. */
  readonly pulls: string[] = [];
  /** The credentials each pull of `pulls` carried (same order; undefined: anonymous). */
  readonly pullAuth: Array<RegistryCredentials | undefined> = [];
  /** Every registry digest asked (`registryDigest`), in order. */
  readonly digestQueries: string[] = [];
  /** When false, every call fails as if the engine were down. */
  available = true;
  /** When false, the registries cannot be reached: pulls and digest queries fail. */
  registryUp = true;

  constructor(readonly facts: RuntimeInfo = { cpus: 8, memory: 64 * 1024 ** 3, version: 'fake 1' }) {}

  addImage(ref: string, behaviour: FakeBehaviour = {}, architecture = 'amd64'): this {
    this.images.set(ref, { id: `sha256:${ref}`, architecture, os: 'linux', repoDigests: [] });
    this.behaviours.set(ref, behaviour);
    return this;
  }

  /**
   * `ref` is absent but a pull will fetch it. With a `digest` (`sha256:…`), the registry has it under
   * that digest: a pulled copy records it in its RepoDigests, and `registryDigest` answers it. Called
   * again with another digest, it plays a push of another image under the same tag.
   */
  allowPull(ref: string, behaviour: FakeBehaviour = {}, architecture = 'amd64', digest?: string): this {
    const repository = ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref.replace(/:[\w][\w.-]*$/, '');
    this.pullable.set(ref, {
      id: `sha256:${ref}${digest ? `-${digest}` : ''}`,
      architecture,
      os: 'linux',
      repoDigests: digest ? [`${repository}@${digest}`] : [],
    });
    if (digest) this.published.set(ref, digest);
    this.behaviours.set(ref, behaviour);
    return this;
  }

  /**
   * `ref` (pullable, or present) is in a private registry: a pull without these credentials is
   * refused, as Docker refuses it (`no basic auth credentials`; `unauthorized: authentication
   * required`), even when the image is present. Each call adds a user the registry accepts.
   */
  requireAuth(ref: string, credentials: { username: string; password: string }): this {
    this.guarded.set(ref, [...(this.guarded.get(ref) ?? []), { ...credentials }]);
    return this;
  }

  /** Makes a running container exit now with `code`. */
  crash(id: string, code = 1): void {
    const c = this.containers.get(id);
    if (c?.state === 'running') this.exit(c, code);
  }

  /** Makes a running container answer every probe with 500 until it is started again. */
  sicken(id: string): void {
    const c = this.containers.get(id);
    if (c?.state === 'running') c.sick = true;
  }

  /** Writes a line to a running container's output. */
  write(id: string, stream: StreamName, line: string): void {
    const c = this.containers.get(id);
    if (c) this.emit(c, stream, line);
  }

  /** Every container, whoever owns it (for assertions). */
  all(): Array<{ id: string; spec: ContainerSpec; state: ContainerState }> {
    return [...this.containers.values()].map((c) => ({ id: c.id, spec: c.spec, state: c.state }));
  }

  prober(): {
    probe(target: { address: string; port: number; path: string }): Promise<{ ok: boolean; detail: string }>;
  } {
    return {
      probe: (target) => {
        for (const c of this.containers.values()) {
          if (c.state !== 'running' || !Object.values(c.ports).includes(target.port)) continue;
          if (c.sick) return Promise.resolve({ ok: false, detail: 'answered 500' });
          const ok = this.behaviours.get(c.spec.image)?.serves !== false;
          return Promise.resolve({ ok, detail: ok ? 'answered 200' : 'answered 503' });
        }
        return Promise.resolve({ ok: false, detail: 'connection refused' });
      },
    };
  }

  info(): Promise<RuntimeInfo> {
    return this.guard(() => this.facts);
  }

  ping(): Promise<boolean> {
    return Promise.resolve(this.available);
  }

  inspectImage(ref: string): Promise<ImageInfo | undefined> {
    return this.guard(() => this.images.get(ref));
  }

  async pullImage(ref: string, opts: PullOptions): Promise<void> {
    await this.guard(() => undefined);
    this.pulls.push(ref);
    this.pullAuth.push(opts.auth ? { ...opts.auth } : undefined);
    // Like Docker: a pull by digest of an image it holds does not ask the registry (PullOptions.verify).
    if (ref.includes('@') && this.images.has(ref) && !opts.verify) return;
    const image = this.askRegistry(ref, opts.auth);
    this.images.set(ref, image);
  }

  async registryDigest(ref: string, opts: { auth?: RegistryCredentials }): Promise<string> {
    await this.guard(() => undefined);
    this.digestQueries.push(ref);
    this.askRegistry(ref, opts.auth);
    const digest = this.published.get(ref);
    if (!digest) throw new DriverError('not-found', `manifest for ${ref} not found: manifest unknown`);
    return digest;
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    await this.guard(() => undefined);
    if (!this.images.has(spec.image)) throw new DriverError('not-found', `No such image: ${spec.image}`);
    for (const c of this.containers.values())
      if (c.spec.name === spec.name) throw new DriverError('conflict', `name ${spec.name} is in use`);
    const id = `fake${String(this.nextId++).padStart(8, '0')}`;
    this.containers.set(id, {
      id,
      spec,
      state: 'created',
      exitCode: 0,
      createdAt: Date.now(),
      ports: {},
      frames: [],
      waiters: new Set(),
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.guard(() => undefined);
    const c = this.get(id);
    if (c.state === 'running') return;
    c.state = 'running';
    c.sick = false;
    c.startedAt = Date.now();
    c.ports = Object.fromEntries(c.spec.ports.map((p) => [String(p), this.nextPort++]));
    const b = this.behaviours.get(c.spec.image) ?? {};
    for (const line of b.output ?? []) {
      const err = line.startsWith('stderr:');
      this.emit(c, err ? 'stderr' : 'stdout', line.replace(/^std(out|err):/, ''));
    }
    this.notify(c, 'start');
    if (b.exitAfterMs !== undefined)
      c.exitTimer = setTimeout(() => this.exit(c, b.exitCode ?? 1), b.exitAfterMs);
  }

  async stopContainer(id: string, _graceSeconds: number): Promise<void> {
    await this.guard(() => undefined);
    const c = this.containers.get(id);
    if (c?.state === 'running') this.exit(c, 143);
  }

  async removeContainer(id: string): Promise<void> {
    await this.guard(() => undefined);
    const c = this.containers.get(id);
    if (!c) return;
    if (c.state === 'running') this.exit(c, 137);
    this.containers.delete(id);
    this.notify(c, 'destroy');
  }

  inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    return this.guard(() => {
      const c = this.containers.get(id);
      return c ? this.details(c) : undefined;
    });
  }

  listContainers(owner: Owner): Promise<ContainerSummary[]> {
    return this.guard(() =>
      [...this.containers.values()]
        .filter((c) => owns(owner, c.spec.labels))
        .map((c) => {
          const {
            exitCode: _e,
            oomKilled: _o,
            ports: _p,
            startedAt: _s,
            finishedAt: _f,
            address: _a,
            ...summary
          } = this.details(c);
          return summary;
        }),
    );
  }

  watchEvents(owner: Owner, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): void {
    const entry = { owner, onEvent };
    this.listeners.add(entry);
    signal.addEventListener('abort', () => this.listeners.delete(entry), { once: true });
    queueMicrotask(() => onEvent({ type: 'connected' }));
  }

  async *followLogs(id: string, opts: { since?: string; signal: AbortSignal }): AsyncIterable<LogFrame> {
    const c = this.containers.get(id);
    if (!c) return;
    const since = opts.since ? stampKey(opts.since) : undefined;
    let next = 0;
    for (;;) {
      while (next < c.frames.length) {
        const f = c.frames[next++];
        if (f && (!since || f.key >= since)) yield f.frame;
      }
      if (opts.signal.aborted || c.state !== 'running' || !this.containers.has(id)) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          c.waiters.delete(done);
          opts.signal.removeEventListener('abort', done);
          resolve();
        };
        c.waiters.add(done);
        opts.signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  tailLogs(id: string, lines: number): Promise<LogFrame[]> {
    return this.guard(() => (this.containers.get(id)?.frames ?? []).slice(-lines).map((f) => f.frame));
  }

  stats(id: string): Promise<ContainerStats | undefined> {
    return this.guard(() => {
      const c = this.containers.get(id);
      if (c?.state !== 'running') return undefined;
      const usage = this.behaviours.get(c.spec.image)?.usage ?? { cpus: 0.1, memory: 32 * 1024 ** 2 };
      const now = Date.now();
      return {
        readAt: now,
        // The counter grows at the behaviour's rate from the start of this run, as a cgroup's does.
        cpuNs: usage.cpus * (now - (c.startedAt ?? now)) * 1e6,
        memoryUsage: usage.memory,
        memoryCounters: {},
      };
    });
  }

  /** What the registry answers for `ref` with `auth`: its image, or the refusal Docker reports. */
  private askRegistry(ref: string, auth: RegistryCredentials | undefined): ImageInfo {
    if (!this.registryUp)
      throw new DriverError('unavailable', `Get "https://${ref}/v2/": dial tcp: connection refused`);
    const wanted = this.guarded.get(ref);
    if (wanted && !auth)
      throw new DriverError('unauthorized', `Head "https://${ref}": no basic auth credentials`);
    if (wanted && !wanted.some((w) => auth?.username === w.username && auth.password === w.password))
      throw new DriverError('unauthorized', 'unauthorized: authentication required');
    const image = this.pullable.get(ref);
    if (!image) throw new DriverError('not-found', `manifest for ${ref} not found: manifest unknown`);
    return image;
  }

  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new DriverError('not-found', `No such container: ${id}`);
    return c;
  }

  private details(c: FakeContainer): ContainerDetails {
    const address = this.behaviours.get(c.spec.image)?.address;
    return {
      id: c.id,
      name: c.spec.name,
      labels: c.spec.labels,
      state: c.state,
      createdAt: c.createdAt,
      exitCode: c.exitCode,
      oomKilled: false,
      ...(c.startedAt !== undefined ? { startedAt: c.startedAt } : {}),
      ...(c.finishedAt !== undefined ? { finishedAt: c.finishedAt } : {}),
      ports: c.state === 'running' ? { ...c.ports } : {},
      ...(c.state === 'running' && address ? { address } : {}),
    };
  }

  private exit(c: FakeContainer, code: number): void {
    clearTimeout(c.exitTimer);
    c.state = 'exited';
    c.exitCode = code;
    c.finishedAt = Date.now();
    this.wakeReaders(c);
    this.notify(c, 'die', code);
  }

  private emit(c: FakeContainer, stream: StreamName, line: string): void {
    // Strictly increasing stamps, like a real log file's.
    const ms = Math.max(Date.now(), this.lastStampMs + 1);
    this.lastStampMs = ms;
    const ts = new Date(ms).toISOString().replace('Z', '000000Z');
    c.frames.push({ key: stampKey(ts) ?? ts, frame: { stream, data: Buffer.from(`${ts} ${line}\n`) } });
    this.wakeReaders(c);
  }

  private wakeReaders(c: FakeContainer): void {
    for (const w of [...c.waiters]) w();
  }

  private notify(c: FakeContainer, type: 'start' | 'die' | 'destroy', exitCode?: number): void {
    for (const l of this.listeners)
      if (owns(l.owner, c.spec.labels))
        queueMicrotask(() =>
          l.onEvent({ type, containerId: c.id, ...(exitCode !== undefined ? { exitCode } : {}) }),
        );
  }

  private async guard<T>(fn: () => T): Promise<T> {
    await Promise.resolve();
    if (!this.available) throw new DriverError('unavailable', 'the fake engine is down');
    return fn();
  }
}

const owns = (owner: Owner, labels: Record<string, string>): boolean =>
  labels[LABELS.namespace] === owner.namespace && labels[LABELS.node] === owner.nodeId;
