import {
  type BucketName,
  BUCKETS,
  type BucketValue,
  type EventPayload,
  EVENTS,
  type EventSubject,
} from '@gantry/contracts';
import type { MessageBus, TypedKv } from '@gantry/messaging';
import { Logger } from '@nestjs/common';
import {
  Column,
  CreateDateColumn,
  type DataSource,
  Entity,
  type EntityManager,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** One message for `Outbox.write`: an event, or a KV write or delete. */
export type OutboxEntry =
  | { [S in EventSubject]: { kind: 'event'; subject: S; payload: EventPayload<S> } }[EventSubject]
  | { [B in BucketName]: { kind: 'kv-put'; bucket: B; key: string; value: BucketValue<B> } }[BucketName]
  | { kind: 'kv-delete'; bucket: BucketName; key: string };

/** Rows sent per relay pass: published without waiting for each ack, in order. */
const SEND_BATCH = 250;

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

/**
 * The transactional outbox. Services write the events and KV changes a state change implies in the
 * same transaction as the change (`event`, `kvPut`, `kvDelete` with the transaction's manager); the
 * relay then sends them in order and deletes what was sent. A crash between commit and send only
 * delays the message: events are deduplicated by their id, KV writes are last-writer-wins snapshots.
 */
export class Outbox {
  private readonly log = new Logger('Outbox');
  private flushing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly bus: MessageBus,
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

  /** Writes many messages, validated, in order, in one statement. */
  async write(em: EntityManager, entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length > 0) await em.query(this.insertSql('$1'), [this.encode(entries)]);
  }

  /** Validates messages and encodes them as the one JSON parameter of `insertSql`. */
  encode(entries: readonly OutboxEntry[]): string {
    const rows = entries.map((e) => {
      switch (e.kind) {
        case 'event':
          EVENTS[e.subject].schema.parse(e.payload);
          return { kind: e.kind, target: e.subject, key: null, payload: e.payload };
        case 'kv-put':
          BUCKETS[e.bucket].schema.parse(e.value);
          return { kind: e.kind, target: e.bucket, key: e.key, payload: e.value };
        case 'kv-delete':
          return { kind: e.kind, target: e.bucket, key: e.key, payload: null };
      }
    });
    return JSON.stringify(rows);
  }

  /**
   * The INSERT of the messages in parameter `param` (see `encode`), in their order: a statement of
   * its own, or one part of a larger statement (a data-modifying WITH) that commits with the change.
   */
  insertSql(param: string): string {
    const table = quotePath(this.ds.getRepository(OutboxMessage).metadata.tablePath);
    return `INSERT INTO ${table} ("kind", "target", "key", "payload")
      SELECT x.kind, x.target, x.key, x.payload
        FROM ROWS FROM (jsonb_to_recordset(${param}::jsonb) AS (kind text, target text, key text, payload jsonb))
             WITH ORDINALITY AS x(kind, target, key, payload, n)
       ORDER BY x.n`;
  }

  /**
   * Sends everything pending. Concurrent calls share one pass (and trigger one more if needed). One
   * relay at a time per outbox table, across processes (an advisory lock): two relays could
   * otherwise send an older value of a KV key after a newer one. While another process relays, this
   * one tries again shortly.
   */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      const runner = this.ds.createQueryRunner();
      try {
        const lock = `gantry-outbox:${this.ds.getRepository(OutboxMessage).metadata.tablePath}`;
        const [row] = (await runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS "locked"', [
          lock,
        ])) as [{ locked: boolean }];
        if (!row?.locked) {
          setTimeout(() => void this.flush().catch(() => undefined), 100).unref();
          return;
        }
        try {
          do {
            this.again = false;
            while (await this.sendBatch()) {
              /* until empty */
            }
          } while (this.again);
        } finally {
          await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
        }
      } finally {
        await runner.release();
        this.flushing = undefined;
      }
    })();
    return this.flushing;
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
    await this.flushing?.catch(() => undefined);
  }

  /**
   * Sends the oldest pending messages: all published at once (one connection keeps them in order),
   * a KV key written several times only with its last value, each payload as the JSON text stored
   * (validated when written). Deletes what was sent, and the writes of a key superseded by a later
   * one (sent or kept for the next try); what failed stays, to be tried again first.
   */
  private async sendBatch(): Promise<boolean> {
    const table = quotePath(this.ds.getRepository(OutboxMessage).metadata.tablePath);
    const batch: StoredRow[] = await this.ds.query(
      `SELECT "id", "kind", "target", "key", "payload"::text AS "payload", "payload"->>'id' AS "msg_id"
         FROM ${table} ORDER BY "id" LIMIT ${SEND_BATCH}`,
    );
    if (batch.length === 0) return false;
    const lastWrite = new Map<string, string>();
    const buckets = new Map<string, TypedKv<BucketName>>();
    for (const m of batch) {
      if (m.kind === 'event') continue;
      lastWrite.set(`${m.target}/${m.key ?? ''}`, m.id);
      if (!buckets.has(m.target)) buckets.set(m.target, await this.bus.kv(m.target as BucketName));
    }
    const outcomes = await Promise.allSettled(
      batch.map((m) => {
        if (m.kind === 'event')
          return this.bus.publishValidated(
            m.target as EventSubject,
            m.payload ?? 'null',
            m.msg_id ?? undefined,
          );
        if (lastWrite.get(`${m.target}/${m.key ?? ''}`) !== m.id) return Promise.resolve();
        const kv = buckets.get(m.target) as TypedKv<BucketName>;
        return m.kind === 'kv-put'
          ? kv.putValidated(m.key ?? '', m.payload ?? 'null')
          : kv.delete(m.key ?? '');
      }),
    );
    const done = batch.filter((_, i) => outcomes[i]?.status === 'fulfilled').map((m) => m.id);
    if (done.length > 0) await this.ds.query(`DELETE FROM ${table} WHERE "id" = ANY($1::bigint[])`, [done]);
    const failed = outcomes.findIndex((o) => o.status === 'rejected');
    if (failed !== -1) {
      const count = outcomes.length - done.length;
      throw new Error(
        `${count} outbox message(s) not sent, kept for the next try: ${describe((outcomes[failed] as PromiseRejectedResult).reason)}`,
      );
    }
    return batch.length === SEND_BATCH;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An outbox row as the relay reads it: the payload as stored JSON text. */
interface StoredRow {
  id: string;
  kind: OutboxMessage['kind'];
  target: string;
  key: string | null;
  payload: string | null;
  msg_id: string | null;
}

/** `schema.table` as a quoted SQL identifier. */
export function quotePath(path: string): string {
  return path
    .split('.')
    .map((p) => `"${p.replaceAll('"', '""')}"`)
    .join('.');
}
