import {
  type BucketName,
  BUCKETS,
  type BucketValue,
  type EventPayload,
  EVENTS,
  type EventSubject,
} from '@gantry/contracts';
import type { MessageBus } from '@gantry/messaging';
import { Logger } from '@nestjs/common';
import {
  Column,
  CreateDateColumn,
  type DataSource,
  Entity,
  type EntityManager,
  PrimaryGeneratedColumn,
} from 'typeorm';

import { OutboxRelay, type Relay, type RelayWorkerData, WorkerRelay } from './outbox-relay.js';

/** One message for `Outbox.write`: an event, or a KV write or delete. */
export type OutboxEntry =
  | { [S in EventSubject]: { kind: 'event'; subject: S; payload: EventPayload<S> } }[EventSubject]
  | { [B in BucketName]: { kind: 'kv-put'; bucket: B; key: string; value: BucketValue<B> } }[BucketName]
  | { kind: 'kv-delete'; bucket: BucketName; key: string };

/** A message to send once the transaction that wrote it commits. */
@Entity({ name: 'outbox' })
export class OutboxMessage {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  kind!: 'event' | 'kv-put' | 'kv-delete';

  /** Event subject or bucket name. */
  @Column({ type: 'text' })
  target!: string;

  @Column({ type: 'text', nullable: true })
  key!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  payload!: unknown;

  @CreateDateColumn({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;
}

/** The SQL that creates the outbox table; each service's first migration runs it. */
export const outboxTableSql = (schema: string): string[] => [
  `CREATE TABLE "${schema}"."outbox" (
    "id" BIGSERIAL NOT NULL,
    "kind" text NOT NULL,
    "target" text NOT NULL,
    "key" text,
    "payload" jsonb,
    "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT "PK_outbox" PRIMARY KEY ("id"))`,
];

export interface OutboxOptions {
  /** Relay from a worker thread, with its own database pool and NATS connection. */
  relayInWorker?: boolean;
}

/**
 * The transactional outbox. Services write the events and KV changes a state change implies in the
 * same transaction as the change (`event`, `kvPut`, `kvDelete` with the transaction's manager); the
 * relay then sends them in order and deletes what was sent. A crash between commit and send only
 * delays the message: events are deduplicated by their id, KV writes are last-writer-wins snapshots.
 */
export class Outbox {
  private readonly log = new Logger('Outbox');
  private timer: NodeJS.Timeout | undefined;
  private relay: Relay | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly bus: MessageBus,
    private readonly opts: OutboxOptions = {},
  ) {}

  async event<S extends EventSubject>(
    em: EntityManager,
    subject: S,
    payload: EventPayload<S>,
  ): Promise<void> {
    EVENTS[subject].schema.parse(payload);
    await em.insert(OutboxMessage, { kind: 'event', target: subject, key: null, payload });
  }

  async kvPut<B extends BucketName>(
    em: EntityManager,
    bucket: B,
    key: string,
    value: BucketValue<B>,
  ): Promise<void> {
    BUCKETS[bucket].schema.parse(value);
    await em.insert(OutboxMessage, { kind: 'kv-put', target: bucket, key, payload: value });
  }

  async kvDelete(em: EntityManager, bucket: BucketName, key: string): Promise<void> {
    await em.insert(OutboxMessage, { kind: 'kv-delete', target: bucket, key });
  }

  /**
   * Encodes messages as the one JSON parameter of `insertSql`, validating each against its contract,
   * or only those `validate` picks: a producer that builds its messages only from validated input,
   * under the contract's types, and checks every kind it sends against the contract in its tests,
   * may spare the copy a validation makes of each message (for the scheduler, a tenth of its
   * deciding thread).
   */
  encode(entries: readonly OutboxEntry[], validate: (e: OutboxEntry) => boolean = () => true): string {
    for (const e of entries) if (validate(e)) validateEntry(e);
    return JSON.stringify(
      entries.map((e) =>
        e.kind === 'event'
          ? { kind: e.kind, target: e.subject, key: null, payload: e.payload }
          : e.kind === 'kv-put'
            ? { kind: e.kind, target: e.bucket, key: e.key, payload: e.value }
            : { kind: e.kind, target: e.bucket, key: e.key, payload: null },
      ),
    );
  }

  /**
   * The INSERT of the messages in parameter `param` (see `encode`), in their order, for a statement
   * that writes many at once: on its own, or as one part of a data-modifying WITH that commits them
   * with the change they announce.
   */
  insertSql(param: string): string {
    return `INSERT INTO ${this.table()} ("kind", "target", "key", "payload")
      SELECT x.kind, x.target, x.key, x.payload
        FROM ROWS FROM (jsonb_to_recordset(${param}::jsonb) AS (kind text, target text, key text, payload jsonb))
             WITH ORDINALITY AS x(kind, target, key, payload, n)
       ORDER BY x.n`;
  }

  /**
   * Sends everything pending (see OutboxRelay), in a worker thread when asked for (`relayInWorker`):
   * relaying is as much work as deciding, and a service that decides fast should not do both on one
   * thread. Concurrent calls share one pass.
   */
  flush(): Promise<void> {
    if (!this.relay)
      this.relay = this.opts.relayInWorker ? new WorkerRelay(this.workerData()) : this.inline();
    return this.relay.flush();
  }

  /** Flushes every `intervalMs` too, to pick up what a crashed pass left. */
  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) =>
        this.log.warn(`outbox flush failed: ${(error as Error).message}`),
      );
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.relay?.close();
  }

  private table(): string {
    return quotePath(this.ds.getRepository(OutboxMessage).metadata.tablePath);
  }

  private inline(): OutboxRelay {
    const ds = this.ds;
    return new OutboxRelay(
      {
        query: (sql, params) => ds.query(sql, params),
        session: async (fn) => {
          const runner = ds.createQueryRunner();
          try {
            return await fn((sql, params) => runner.query(sql, params));
          } finally {
            await runner.release();
          }
        },
      },
      this.bus,
      this.table(),
    );
  }

  private workerData(): RelayWorkerData {
    const url = (this.ds.options as { url?: string }).url;
    if (!url) throw new Error('the outbox relay worker needs the data source to be configured by url');
    return { databaseUrl: url, table: this.table(), messaging: this.bus.opts };
  }
}

/** Checks a message against its contract (the schema of its event subject or bucket); throws if it breaks it. */
export function validateEntry(e: OutboxEntry): void {
  if (e.kind === 'event') EVENTS[e.subject].schema.parse(e.payload);
  else if (e.kind === 'kv-put') BUCKETS[e.bucket].schema.parse(e.value);
}

/** `schema.table` as a quoted SQL identifier. */
function quotePath(path: string): string {
  return path
    .split('.')
    .map((p) => `"${p.replaceAll('"', '""')}"`)
    .join('.');
}
