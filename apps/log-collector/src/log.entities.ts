import { Column, Entity, Generated, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/** One line a replica wrote. `ts` is the normalised nanosecond stamp (sorts as text). */
@Entity({ name: 'log_lines' })
@Index('IDX_log_lines_app_ts', ['appId', 'ts'])
export class LogLineRow {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text', name: 'app_id' })
  appId!: string;

  @Column({ type: 'text', name: 'replica_id' })
  replicaId!: string;

  @Column({ type: 'text', name: 'node_id' })
  nodeId!: string;

  @Column({ type: 'text' })
  ts!: string;

  @Column({ type: 'text' })
  stream!: 'stdout' | 'stderr';

  @Column({ type: 'text' })
  line!: string;
}

/** Batches already stored: a redelivered batch is recognised and skipped. */
@Entity({ name: 'log_batches' })
export class LogBatchRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'timestamptz', name: 'received_at', default: () => 'now()' })
  receivedAt!: Date;
}

/** One entry of an app's event log. */
@Entity({ name: 'app_events' })
@Index('IDX_app_events_app_at', ['appId', 'at'])
export class AppEventRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'app_id' })
  appId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'text' })
  source!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  message!: string;

  @Column({ type: 'text', name: 'replica_id', nullable: true })
  replicaId!: string | null;

  @Column({ type: 'text', name: 'node_id', nullable: true })
  nodeId!: string | null;

  /** Arrival order: events of one pass share `at`, and are stored in the order they were sent. */
  @Column({ type: 'bigint' })
  @Generated('increment')
  seq!: string;
}
