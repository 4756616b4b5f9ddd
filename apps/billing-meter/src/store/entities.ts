import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** bigint columns come back from pg as strings; the values stored here stay below 2^53 (see ingest.ts). */
const bigintNumber = {
  to: (v: number) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/** One status change of an app: its billing timeline. Each event is stored once (key: app, event id). */
@Entity({ name: 'status_points' })
@Index('IDX_status_points_app_at', ['appId', 'at'])
@Index('IDX_status_points_project_app', ['projectId', 'appId'])
export class StatusPointRow {
  @PrimaryColumn({ type: 'text', name: 'app_id' })
  appId!: string;

  @PrimaryColumn({ type: 'text', name: 'event_id' })
  eventId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'integer' })
  version!: number;

  /** When the change happened (the event's `at`): what usage is computed from. */
  @Column({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'text' })
  state!: string;

  @Column({ type: 'integer', name: 'allocated_units' })
  allocatedUnits!: number;

  @Column({ type: 'text' })
  flavor!: string;

  @Column({ type: 'bigint', name: 'unit_price_micros', transformer: bigintNumber })
  unitPriceMicros!: number;

  @Column({ type: 'text' })
  currency!: string;

  /** When the meter stored it (for operators only: never used to compute usage). */
  @Column({ type: 'timestamptz', name: 'received_at', default: () => 'now()' })
  receivedAt!: Date;
}

/** Per app: the latest point, and how far the ledger has recorded its periods. */
@Entity({ name: 'app_ledgers' })
export class AppLedgerRow {
  @PrimaryColumn({ type: 'text', name: 'app_id' })
  appId!: string;

  /** The latest point by (at, version, event id). */
  @Column({ type: 'timestamptz', name: 'last_at' })
  lastAt!: Date;

  @Column({ type: 'integer', name: 'last_version' })
  lastVersion!: number;

  @Column({ type: 'text', name: 'last_event_id' })
  lastEventId!: string;

  /** Whether the latest point is in a billed state: the app accrues and needs closing. */
  @Column({ type: 'boolean', name: 'last_billed' })
  lastBilled!: boolean;

  /** Every period final by this instant is recorded in usage_periods. Null: none yet. */
  @Column({ type: 'timestamptz', name: 'closed_through', nullable: true })
  closedThrough!: Date | null;

  /** The ledger reads the timeline from here on (an unbilled instant before closed_through). */
  @Column({ type: 'timestamptz', name: 'anchor_at', nullable: true })
  anchorAt!: Date | null;
}

/** The ledger: each closed period of each run, recorded (and published) exactly once. */
@Entity({ name: 'usage_periods' })
@Index('IDX_usage_periods_app_start', ['appId', 'startAt'])
export class UsagePeriodRow {
  @PrimaryColumn({ type: 'text', name: 'run_id' })
  runId!: string;

  @PrimaryColumn({ type: 'integer', name: 'period_index' })
  periodIndex!: number;

  @Column({ type: 'text', name: 'app_id' })
  appId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'timestamptz', name: 'start_at' })
  startAt!: Date;

  @Column({ type: 'timestamptz', name: 'end_at' })
  endAt!: Date;

  @Column({ type: 'integer' })
  quantity!: number;

  @Column({ type: 'text' })
  flavor!: string;

  @Column({ type: 'bigint', name: 'unit_price_micros', transformer: bigintNumber })
  unitPriceMicros!: number;

  @Column({ type: 'text' })
  currency!: string;

  /** This period's charge alone, rounded half up. */
  @Column({ type: 'bigint', name: 'charge_micros', transformer: bigintNumber })
  chargeMicros!: number;

  @Column({ type: 'timestamptz', name: 'recorded_at', default: () => 'now()' })
  recordedAt!: Date;
}

export const BILLING_ENTITIES = [StatusPointRow, AppLedgerRow, UsagePeriodRow];
