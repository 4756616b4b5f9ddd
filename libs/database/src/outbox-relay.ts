import { Worker } from 'node:worker_threads';

import type { BucketName, EventSubject } from '@gantry/contracts';
import { errorMessage } from '@gantry/errors';
import type { MessageBus, MessagingOptions, TypedKv } from '@gantry/messaging';
import { Logger } from '@nestjs/common';
import type pg from 'pg';

/** Rows sent per batch: published without waiting for each ack, in order. */
const SEND_BATCH = 1000;
/** Failed sends of one message before it is dead-lettered. */
const MAX_ATTEMPTS = 10;

type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;

/** What the relay needs of the database: queries, and one session held for a while (its lock). */
export interface RelayDb {
  query: Query;
  session<T>(fn: (query: Query) => Promise<T>): Promise<T>;
}

/** A RelayDb over a node-postgres pool. */
export function poolRelayDb(pool: pg.Pool): RelayDb {
  return {
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    session: async (fn) => {
      const client = await pool.connect();
      try {
        return await fn(async (sql, params) => (await client.query(sql, params)).rows);
      } finally {
        client.release();
      }
    },
  };
}

export interface Relay {
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** An outbox row as the relay reads it: the payload as stored JSON text. */
interface StoredRow {
  id: string;
  kind: 'event' | 'kv-put' | 'kv-delete';
  target: string;
  key: string | null;
  payload: string | null;
  msg_id: string | null;
}

/**
 * Sends an outbox table's messages, oldest first, and deletes what was sent. One relay at a time per
 * table across processes (an advisory lock): two could otherwise send an older value of a KV key
 * after a newer one. While another process relays, this one tries again shortly. Concurrent calls
 * share one pass (and trigger one more if needed).
 */
export class OutboxRelay implements Relay {
  private flushing: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** Failed sends per message id, while it stays in the table. */
  private readonly attempts = new Map<string, number>();
  private readonly log = new Logger('OutboxRelay');

  constructor(
    private readonly db: RelayDb,
    private readonly bus: MessageBus,
    /** The outbox table, quoted (`"schema"."outbox"`). */
    private readonly table: string,
  ) {}

  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = this.db
      .session(async (query) => {
        const lock = `gantry-outbox:${this.table}`;
        const [row] = (await query('SELECT pg_try_advisory_lock(hashtext($1)) AS "locked"', [lock])) as [
          { locked: boolean } | undefined,
        ];
        if (!row?.locked) {
          setTimeout(() => {
            if (!this.closed) void this.flush().catch(() => undefined);
          }, 100).unref();
          return;
        }
        try {
          do {
            this.again = false;
            while (await this.sendBatch()) {
              /* until empty */
            }
          } while (this.again && !this.closed);
        } finally {
          await query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
        }
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  /**
   * Counts a message's failed sends; after MAX_ATTEMPTS, sends it to `dlq.v1` instead and says so
   * (true: the row can go). When JetStream is what fails, the dead letter fails too and the message
   * stays: only a message that cannot be sent on its own (too large, no stream for its subject)
   * ever leaves this way.
   */
  private async deadLetter(m: StoredRow, reason: string): Promise<boolean> {
    const attempts = (this.attempts.get(m.id) ?? 0) + 1;
    this.attempts.set(m.id, attempts);
    if (attempts < MAX_ATTEMPTS || !this.bus.isConnected()) return false;
    const subject = m.kind === 'event' ? m.target : `${m.kind} ${m.target}/${m.key ?? ''}`;
    try {
      await this.bus.publish(
        'dlq.v1',
        {
          subject,
          consumer: `outbox ${this.table}`,
          reason: `could not be sent ${attempts} times: ${reason}`.slice(0, 4000),
          data: (m.payload ?? '').slice(0, 65_536),
          deliveries: attempts,
          at: new Date().toISOString(),
        },
        `outbox:${this.table}:${m.id}`,
      );
    } catch {
      return false;
    }
    this.attempts.delete(m.id);
    this.log.error(
      `outbox message ${m.id} (${subject}) could not be sent ${attempts} times; dead-lettered: ${reason}`,
    );
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing?.catch(() => undefined);
  }

  /**
   * Sends the oldest pending messages: all published at once (one connection keeps them in order),
   * a KV key written several times only with its last value, each payload as the JSON text stored
   * (checked against its contract when written, or by its producer's tests: see Outbox.encode).
   * Deletes what was sent, and the writes of a key superseded by a later one (sent or kept for the
   * next try); what failed stays, to be tried again first.
   */
  private async sendBatch(): Promise<boolean> {
    const batch = (await this.db.query(
      `SELECT "id", "kind", "target", "key", "payload"::text AS "payload", "payload"->>'id' AS "msg_id"
         FROM ${this.table} ORDER BY "id" LIMIT ${SEND_BATCH}`,
    )) as StoredRow[];
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
    for (const id of done) this.attempts.delete(id);
    for (const [i, o] of outcomes.entries())
      if (o.status === 'rejected') {
        const m = batch[i] as StoredRow;
        if (await this.deadLetter(m, errorMessage(o.reason))) done.push(m.id);
      }
    if (done.length > 0)
      await this.db.query(`DELETE FROM ${this.table} WHERE "id" = ANY($1::bigint[])`, [done]);
    const failed = outcomes.findIndex(
      (o, i) => o.status === 'rejected' && !done.includes(batch[i]?.id ?? ''),
    );
    if (failed !== -1)
      throw new Error(
        `${outcomes.length - done.length} outbox message(s) not sent, kept for the next try: ${errorMessage((outcomes[failed] as PromiseRejectedResult).reason)}`,
      );
    return batch.length === SEND_BATCH;
  }
}

/** What the relay worker is started with. */
export interface RelayWorkerData {
  databaseUrl: string;
  table: string;
  messaging: MessagingOptions;
}

type Reply = { id: number; error?: string } | { fatal: string };

/**
 * An OutboxRelay in a worker thread (`outbox-relay.worker.js`), driven by messages: `flush` resolves
 * once a pass that started after it is done. A worker that dies is started again by the next flush.
 */
export class WorkerRelay implements Relay {
  private worker: Worker | undefined;
  private next = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(private readonly data: RelayWorkerData) {}

  flush(): Promise<void> {
    const worker = this.ensure();
    const id = ++this.next;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'flush', id });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ type: 'close' });
    const timeout = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(timeout);
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerFile(), { workerData: this.data });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('fatal' in reply) return this.fail(worker, new Error(`outbox relay worker: ${reply.fatal}`));
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) p?.reject(new Error(reply.error));
      else p?.resolve();
    });
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => this.fail(worker, new Error(`outbox relay worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** Fails what waits on a dead worker; the next flush starts another. */
  private fail(worker: Worker, error: Error): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

/**
 * The compiled worker next to this module; from the TypeScript sources (as jest loads them), the
 * build's copy (`npm test` builds first).
 */
function workerFile(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts')
    ? new URL('../dist/outbox-relay.worker.js', here)
    : new URL('./outbox-relay.worker.js', here);
}
