import type {
  AppSpec,
  AppState,
  Gpu,
  HistoryEntry,
  Info,
  InfoCode,
  Rate,
  ReplicaAssignment,
  ReplicaPhase,
} from '@gantry/contracts';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

import type { AutoscaleState } from '../model/types.js';

/** bigint columns come back from pg as strings; these values stay far below 2^53. */
const bigintNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

@Entity({ name: 'nodes' })
export class NodeRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  address!: string;

  @Column({ type: 'jsonb' })
  capacity!: { cpus: number; memory: number; gpus: Gpu[] };

  @Column({ type: 'jsonb', default: () => "'{}'" })
  labels!: Record<string, string>;

  @Column({ type: 'boolean', name: 'simulated_gpus', default: false })
  simulatedGpus!: boolean;

  @Column({ type: 'timestamptz', name: 'last_heartbeat_at' })
  lastHeartbeatAt!: Date;

  /** READY | NOT_READY | LOST, as last derived from heartbeats. */
  @Column({ type: 'text', default: 'READY' })
  health!: string;

  /** False when an operator cordoned or is draining the node. */
  @Column({ type: 'boolean', default: true })
  schedulable!: boolean;

  /** An operator asked for its replicas to move elsewhere. */
  @Column({ type: 'boolean', default: false })
  draining!: boolean;

  /** Generation of the last assignment list written for this node (fencing). */
  @Column({ type: 'integer', default: 0 })
  generation!: number;

  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;
}

@Entity({ name: 'apps' })
@Index('IDX_apps_state', ['state'])
export class AppRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'integer', name: 'desired_version' })
  desiredVersion!: number;

  @Column({ type: 'text' })
  lifecycle!: 'RUNNING' | 'STOPPED' | 'DELETED';

  @Column({ type: 'jsonb' })
  spec!: AppSpec;

  @Column({ type: 'jsonb' })
  rate!: Rate;

  @Column({ type: 'text' })
  state!: AppState;

  @Column({ type: 'jsonb' })
  info!: Info;

  @Column({ type: 'jsonb' })
  history!: HistoryEntry[];

  @Column({ type: 'integer', name: 'status_version' })
  statusVersion!: number;

  @Column({ type: 'integer', name: 'available_replicas', default: 0 })
  availableReplicas!: number;

  @Column({ type: 'integer', name: 'allocated_units', default: 0 })
  allocatedUnits!: number;

  @Column({ type: 'timestamptz', name: 'last_transition_at' })
  lastTransitionAt!: Date;

  /** Version and digest of the last route published for the app. */
  @Column({ type: 'integer', name: 'route_version', default: 0 })
  routeVersion!: number;

  @Column({ type: 'text', name: 'route_digest', default: '' })
  routeDigest!: string;

  /** An automatic app's autoscaling state (count decided, since when, metric trouble); NULL otherwise. */
  @Column({ type: 'jsonb', nullable: true })
  scaling!: AutoscaleState | null;

  /** Version and digest of the last `scaling` KV entry published for the app ('' when none is). */
  @Column({ type: 'integer', name: 'scaling_version', default: 0 })
  scalingVersion!: number;

  @Column({ type: 'text', name: 'scaling_digest', default: '' })
  scalingDigest!: string;

  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}

@Entity({ name: 'replicas' })
@Index('IDX_replicas_app', ['appId'])
@Index('IDX_replicas_node', ['nodeId'])
export class ReplicaRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'app_id' })
  appId!: string;

  @Column({ type: 'text', name: 'node_id' })
  nodeId!: string;

  @Column({ type: 'integer', name: 'spec_version' })
  specVersion!: number;

  /** `runtimeHash` of the spec the replica runs: a different one makes it outdated (rolling update). */
  @Column({ type: 'text', name: 'spec_hash', nullable: true })
  specHash!: string | null;

  @Column({ type: 'text' })
  desired!: 'RUN' | 'STOP';

  @Column({ type: 'double precision' })
  cpu!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  memory!: number;

  @Column({ type: 'integer' })
  units!: number;

  @Column({ type: 'jsonb' })
  gpus!: Array<{ index: number; uuid: string }>;

  /** What the node is told to run: fixed when the replica is created. */
  @Column({ type: 'jsonb' })
  assignment!: ReplicaAssignment;

  @Column({ type: 'text' })
  phase!: ReplicaPhase | 'PENDING';

  @Column({ type: 'boolean', name: 'ever_ready', default: false })
  everReady!: boolean;

  @Column({ type: 'integer', default: 0 })
  restarts!: number;

  @Column({ type: 'integer', name: 'exit_code', nullable: true })
  exitCode!: number | null;

  @Column({ type: 'text', nullable: true })
  reason!: InfoCode | null;

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  endpoint!: { address: string; ports: Record<string, number> } | null;

  @Column({ type: 'bigint', name: 'report_seq', default: 0, transformer: bigintNumber })
  reportSeq!: number;

  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}
