import type {
  LogBatch,
  NodeAssignments,
  NodeHeartbeat,
  RegistryAuthQuery,
  RegistryAuthResult,
  ReplicaReport,
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
  connected(): boolean;
}

/**
 * The control plane over NATS: KV `assignments`, `node.report.v1`, `logs.batch.v1`,
 * `node.heartbeat.v1`, and the `query.registry-auth.v1` question to the api-gateway.
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
    return kv.watch(
      (key, value) => {
        if (key === nodeId) onChange(value);
      },
      { key: nodeId, onInvalid: (_key, error) => onInvalid(error) },
    );
  }

  async getAssignments(nodeId: string): Promise<NodeAssignments | null> {
    return (await this.bus.kv('assignments')).get(nodeId);
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

  connected(): boolean {
    return this.bus.isConnected();
  }
}
