import type {
  AppSpec,
  AppState,
  Gpu,
  HistoryEntry,
  Info,
  InfoCode,
  Rate,
  ReplicaPhase,
} from '@gantry/contracts';

/** Node health as the scheduler sees it from heartbeats. */
export type NodeHealth = 'READY' | 'NOT_READY' | 'LOST';

/** A host, as placement needs it. */
export interface NodeView {
  id: string;
  address: string;
  health: NodeHealth;
  /** False when cordoned or draining: keeps what it has, gets nothing new. */
  schedulable: boolean;
  /** An operator asked for its replicas to move elsewhere (each replaced before it stops). */
  draining: boolean;
  capacity: { cpus: number; memory: number; gpus: Gpu[] };
  simulatedGpus: boolean;
}

/** A replica: desired placement plus what its node last reported. */
export interface ReplicaView {
  id: string;
  appId: string;
  nodeId: string;
  /** The app's desired version this replica was created for. */
  specVersion: number;
  /** `runtimeHash` of the spec it runs; absent for replicas created before it was recorded (kept). */
  specHash?: string;
  /** The image it runs. */
  image?: string;
  /** RUN while assigned to its node; STOP once it must go (it holds resources until reported stopped). */
  desired: 'RUN' | 'STOP';
  cpu: number;
  memory: number;
  /** CPUs or GPUs of the flavor this replica holds (billing and quota count these). */
  units: number;
  gpus: Array<{ index: number; uuid: string }>;
  phase: ReplicaPhase | 'PENDING';
  everReady: boolean;
  restarts: number;
  exitCode?: number;
  reason?: InfoCode;
  message?: string;
  endpoint?: { address: string; ports: Record<string, number> };
  reportSeq: number;
  /** When it was placed (ISO 8601). */
  createdAt?: string;
}

/** Where the autoscaler has an automatic app: the count it decided, since when, and what keeps it from deciding. */
export interface AutoscaleState {
  /** The replica count decided last (kept within the app's bounds when used). */
  target: number;
  /** When `target` last changed (ISO 8601). */
  since: string;
  /** Why the autoscaler cannot read the app's metric, while it cannot. */
  problem?: string;
}

/** An app: what the user wants and what the scheduler last decided about it. */
export interface AppView {
  id: string;
  projectId: string;
  desiredVersion: number;
  lifecycle: 'RUNNING' | 'STOPPED' | 'DELETED';
  spec: AppSpec;
  rate: Rate;
  state: AppState;
  info: Info;
  history: HistoryEntry[];
  statusVersion: number;
  availableReplicas: number;
  allocatedUnits: number;
  lastTransitionDate: string;
  /** Automatic apps only. */
  scaling?: AutoscaleState;
}

/** What one replica needs from one host. */
export interface ReplicaRequest {
  appId: string;
  type: 'cpu' | 'gpu';
  cpu: number;
  memory: number;
  gpus: number;
  /** Flavor GPU model ("H100", "V100S"); a host GPU matches when its model name contains it. */
  gpuModel?: string;
}
