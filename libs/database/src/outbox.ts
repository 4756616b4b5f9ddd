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
  In,
  PrimaryGeneratedColumn,
} from 'typeorm';

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

  /** Sends everything pending. Concurrent calls share one pass (and trigger one more if needed). */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.again = false;
          while (await this.sendBatch()) {
            /* until empty */
          }
        } while (this.again);
      } finally {
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

  private async sendBatch(): Promise<boolean> {
    const batch = await this.ds.getRepository(OutboxMessage).find({ order: { id: 'ASC' }, take: 100 });
    if (batch.length === 0) return false;
    const sent: string[] = [];
    try {
      for (const m of batch) {
        await this.send(m);
        sent.push(m.id);
      }
    } finally {
      if (sent.length) await this.ds.getRepository(OutboxMessage).delete({ id: In(sent) });
    }
    return batch.length === 100;
  }

  private async send(m: OutboxMessage): Promise<void> {
    const key = m.key ?? '';
    switch (m.kind) {
      case 'event':
        await this.bus.publish(m.target as EventSubject, m.payload as EventPayload<EventSubject>);
        return;
      case 'kv-put':
        await (await this.bus.kv(m.target as BucketName)).put(key, m.payload as BucketValue<BucketName>);
        return;
      case 'kv-delete':
        await (await this.bus.kv(m.target as BucketName)).delete(key);
        return;
    }
  }
}
