import {
  type LogBatch,
  type NodeAssignmentIndex,
  type NodeAssignments,
  type NodeHeartbeat,
  type NodeUsage,
  type QueryRequest,
  type QueryResponse,
  type RegistryAuthQuery,
  type RegistryAuthResult,
  type ReplicaAssignment,
  replicaAssignmentKey,
  type ReplicaReport,
} from '@gantry/contracts';
import type { MessageBus } from '@gantry/messaging';

export interface AssignmentWatch {
  /** Resolves once the value present when the watch started (if any) has been delivered. */
  readonly ready: Promise<void>;
  stop(): void;
}

/**
 * Everything the agent says to and hears from the control plane. The NATS implementation is the
 * real one; tests and simulated nodes may use another.
 */
export interface ControlPlane {
  /** Calls `onChange` with the node's assignment list now and on every change (null: key deleted). */
  watchAssignments(
    nodeId: string,
    onChange: (value: NodeAssignments | null) => void,
    onInvalid: (error: unknown) => void,
  ): Promise<AssignmentWatch>;
  /** The node's assignment list as stored now (null: none). Rejects when it is unreadable. */
  getAssignments(nodeId: string): Promise<NodeAssignments | null>;
  /** Publishes a replica report durably (deduplicated by its id). */
  publishReport(report: ReplicaReport): Promise<void>;
  /** Publishes a log batch durably (deduplicated by its id). */
  publishLogs(batch: LogBatch): Promise<void>;
  /**
   * The credentials stored in the project for the registry `image` is pulled from (undefined: none).
   * Rejects when they cannot be looked up — nobody answers, no answer in time, an answer that breaks
   * the contract — with an error whose message says why and holds no secret.
   */
  registryAuth(query: RegistryAuthQuery): Promise<RegistryAuthResult['auth']>;
  /** Sends a heartbeat; may be lost. Never throws. */
  heartbeat(hb: NodeHeartbeat): void;
  /** Sends the node's replicas' usage; may be lost. Never throws. */
  publishUsage(usage: NodeUsage): void;
  /**
   * Answers the replica scrapes addressed to `nodeId` with `handler` (a GantryError it throws is the
   * answer) until the returned function is called.
   */
  serveScrapes(
    nodeId: string,
    handler: (
      query: QueryRequest<'query.replica-scrape.v1'>,
    ) => Promise<QueryResponse<'query.replica-scrape.v1'>>,
  ): () => void;
  connected(): boolean;
}

/**
 * The control plane over NATS: KV `assignments`, `node.report.v1`, `logs.batch.v1`,
 * `node.heartbeat.v1`, `node.usage.v1`, the `query.registry-auth.v1` question to the api-gateway,
 * and the answers to `query.replica-scrape.v1` addressed to the node.
 */
export class NatsControlPlane implements ControlPlane {
  private readonly registryAuthTimeoutMs: number;

  constructor(
    private readonly bus: MessageBus,
    opts: { registryAuthTimeoutMs?: number } = {},
  ) {
    this.registryAuthTimeoutMs = opts.registryAuthTimeoutMs ?? 5000;
  }

  async watchAssignments(
    nodeId: string,
    onChange: (value: NodeAssignments | null) => void,
    onInvalid: (error: unknown) => void,
  ): Promise<AssignmentWatch> {
    const kv = await this.bus.kv('assignments');
    // Lists are resolved one after the other, so that they reach `onChange` in the order written.
    let chain = Promise.resolve();
    let ready!: () => void;
    const resolved = new Promise<void>((r) => (ready = r));
    const watch = await kv.watch(
      (key, value) => {
        if (key !== nodeId) return;
        chain = chain.then(async () => {
          try {
            onChange(value === null ? null : await this.resolve(value));
          } catch (error) {
            onInvalid(error);
          }
        });
      },
      { key: nodeId, onInvalid: (_key, error) => onInvalid(error) },
    );
    void watch.ready.then(() => chain.then(ready));
    return { ready: resolved, stop: () => watch.stop() };
  }

  async getAssignments(nodeId: string): Promise<NodeAssignments | null> {
    const value = await (await this.bus.kv('assignments')).get(nodeId);
    return value === null ? null : this.resolve(value);
  }

  /** Large replicas' assignments, by replica id: they never change once written. */
  private readonly large = new Map<string, ReplicaAssignment>();

  /**
   * A list with every replica whole: a reference is read from KV `replica-assignments` (written
   * before the list, possibly to another stream that a moment later has it: looked for again for up
   * to ~2 s). Rejects when one cannot be had.
   */
  private async resolve(index: NodeAssignmentIndex): Promise<NodeAssignments> {
    const replicas: ReplicaAssignment[] = [];
    const wanted = new Set<string>();
    for (const entry of index.replicas) {
      wanted.add(entry.replicaId);
      if (!('ref' in entry)) {
        replicas.push(entry);
        continue;
      }
      let a = this.large.get(entry.replicaId);
      if (!a) {
        const kv = await this.bus.kv('replica-assignments');
        const key = replicaAssignmentKey(index.nodeId, entry.replicaId);
        for (let attempt = 0; attempt < 10 && !a; attempt++) {
          a = (await kv.get(key)) ?? undefined;
          if (!a) await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
        }
        if (!a) throw new Error(`the assignment of replica ${entry.replicaId} (${key}) is missing`);
        this.large.set(entry.replicaId, a);
      }
      replicas.push(a);
    }
    for (const id of this.large.keys()) if (!wanted.has(id)) this.large.delete(id);
    return { ...index, replicas };
  }

  publishReport(report: ReplicaReport): Promise<void> {
    return this.bus.publish('node.report.v1', report);
  }

  publishLogs(batch: LogBatch): Promise<void> {
    return this.bus.publish('logs.batch.v1', batch);
  }

  async registryAuth(query: RegistryAuthQuery): Promise<RegistryAuthResult['auth']> {
    return (await this.bus.request('query.registry-auth.v1', query, this.registryAuthTimeoutMs)).auth;
  }

  heartbeat(hb: NodeHeartbeat): void {
    try {
      this.bus.signal('node.heartbeat.v1', hb);
    } catch {
      // lossy by design: the next one will do
    }
  }

  publishUsage(usage: NodeUsage): void {
    try {
      this.bus.signal('node.usage.v1', usage);
    } catch {
      // lossy by design: the next interval's will do
    }
  }

  serveScrapes(
    nodeId: string,
    handler: (
      query: QueryRequest<'query.replica-scrape.v1'>,
    ) => Promise<QueryResponse<'query.replica-scrape.v1'>>,
  ): () => void {
    return this.bus.serve('query.replica-scrape.v1', nodeId, handler);
  }

  connected(): boolean {
    return this.bus.isConnected();
  }
}
