import {
  type BucketName,
  BUCKETS,
  type BucketValue,
  type DeadLetterEntry,
  type DeadLetterPage,
  DeadLetterSchema,
  ErrorBodySchema,
  type EventPayload,
  EVENTS,
  type EventSubject,
  QUERIES,
  type QueryRequest,
  type QueryResponse,
  type QuerySubject,
  type ReplayDeadLettersResult,
  type SignalPayload,
  SIGNALS,
  type SignalSubject,
  type StreamName,
  wireBucket,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import { errorMessage, GantryError } from '@gantry/errors';
import {
  type JetStreamManager,
  jetstreamManager,
  type MsgRequest,
  PubHeaders,
  type StoredMsg,
} from '@nats-io/jetstream';
import { Bucket, Kvm, KvWatchInclude } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Logger } from '@nestjs/common';
import { z } from 'zod';

import { bytesToText, checkWith, decodeWith, encodeJson } from './codec.js';
import { JetStreamPublisher } from './js-publisher.js';
import { ensureTopology } from './topology.js';
import { headersWithTraceContext } from './tracing.js';

export interface MessagingOptions {
  /** Service name: names the connection, queue groups and durable consumers. */
  service: string;
  /** One NATS server, or several separated by commas (a cluster: losing one keeps the service going). */
  natsUrl: string;
  namespace: string;
  /** Replicas of the streams and buckets this service creates or raises (`ensureTopology`); default 1. */
  replicas?: number;
}

export async function connectNats(opts: MessagingOptions, suffix = ''): Promise<NatsConnection> {
  return connect({
    servers: opts.natsUrl.split(','),
    name: `${opts.namespace}:${opts.service}${suffix}`,
    maxReconnectAttempts: -1,
    // Capturing a stack for every request (each JetStream publish is one) costs more than the publish.
    noAsyncTraces: true,
    reconnectTimeWait: 500,
    timeout: 5000,
  });
}

/** The wire subject of a query: an addressed one's carries the instance it is for. */
function addressedSubject(namespace: string, subject: QuerySubject, to: string | undefined): string {
  const addressed = 'addressed' in QUERIES[subject];
  if (addressed !== (to !== undefined))
    throw new Error(addressed ? `${subject} needs an address` : `${subject} is not addressed`);
  return wireSubject(namespace, subject) + (to === undefined ? '' : `.${to}`);
}

const ReplySchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }),
]);

/**
 * The typed way to talk to other services: events (JetStream, deduplicated by id), signals (core,
 * lossy), queries (request/reply) and KV buckets. Every payload is validated against the catalog on
 * the way out, as it is on the way in.
 */
export class MessageBus {
  private readonly publisher: JetStreamPublisher;
  private readonly buckets = new Map<BucketName, Promise<TypedKv<BucketName>>>();
  private readonly log = new Logger('MessageBus');

  constructor(
    readonly nc: NatsConnection,
    readonly opts: MessagingOptions,
  ) {
    this.publisher = new JetStreamPublisher(nc);
  }

  /** Connects and makes sure every stream and bucket of the namespace exists (idempotent). */
  static async connect(opts: MessagingOptions): Promise<MessageBus> {
    const nc = await connectNats(opts);
    await ensureTopology(nc, opts.namespace, { replicas: opts.replicas });
    return new MessageBus(nc, opts);
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  isConnected(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining() && this.nc.info !== undefined;
  }

  /** Publishes an event to its stream. `msgId` (default: the payload's `id`) makes retries idempotent. */
  async publish<S extends EventSubject>(subject: S, payload: EventPayload<S>, msgId?: string): Promise<void> {
    const checked = EVENTS[subject].schema.parse(payload);
    await this.publishValidated(subject, encodeJson(checked), msgId ?? (checked as { id?: string }).id);
  }

  /**
   * Dead-letters one part of a message a consumer handled (a status of a batch it cannot read or
   * refuses), with the part as the letter's data; once per `partId`.
   */
  async deadLetterPart(
    letter: { subject: EventSubject; consumer: string; reason: string; deliveries: number },
    part: unknown,
    partId: string,
  ): Promise<void> {
    await this.publish(
      'dlq.v1',
      {
        ...letter,
        reason: letter.reason.slice(0, 4000),
        data: (JSON.stringify(part) ?? 'undefined').slice(0, 65_536),
        at: new Date().toISOString(),
        part: true,
      },
      `${letter.consumer}:${partId}`.slice(0, 200),
    );
  }

  /**
   * Dead-letters, each on its own, the parts of a batch message (`batchId`) its consumer cannot read
   * (see checkParts), so that the rest of the batch is handled.
   */
  async deadLetterInvalidParts(
    subject: EventSubject,
    consumer: string,
    batchId: string,
    invalid: ReadonlyArray<{ part: unknown; problems: string }>,
    deliveries: number,
  ): Promise<void> {
    for (const [i, { part, problems }] of invalid.entries()) {
      const reason = `a part of message ${batchId} breaks ${subject}'s contract: ${problems}`;
      this.log.error(`dead-lettering from ${consumer}: ${reason}`);
      await this.deadLetterPart({ subject, consumer, reason, deliveries }, part, `${batchId}:invalid:${i}`);
    }
  }

  /**
   * Publishes an event whose JSON was checked against the catalog before it was stored (a relay of
   * stored messages, such as the outbox, whose producers validate or test what they write).
   */
  async publishValidated(subject: EventSubject, json: string | Uint8Array, msgId?: string): Promise<void> {
    const headers = headersWithTraceContext();
    if (msgId) headers.set(PubHeaders.MsgIdHdr, msgId);
    await this.publisher.publish(wireSubject(this.namespace, subject), json, headers);
  }

  /** Sends a signal on core NATS: fire and forget. */
  signal<S extends SignalSubject>(subject: S, payload: SignalPayload<S>): void {
    const checked = SIGNALS[subject].schema.parse(payload);
    this.nc.publish(wireSubject(this.namespace, subject), encodeJson(checked), {
      headers: headersWithTraceContext(),
    });
  }

  /**
   * Asks the owning service. Resolves with its validated answer; rejects with the GantryError it
   * answered, UNAVAILABLE/TIMEOUT when nobody answers in time, or VALIDATION_FAILED naming the first
   * field of an answer that breaks the contract.
   */
  async request<S extends QuerySubject>(
    subject: S,
    request: QueryRequest<S>,
    timeoutMs = 5000,
    /** For an `addressed` query: the instance to ask (a node id). */
    to?: string,
  ): Promise<QueryResponse<S>> {
    const def = QUERIES[subject];
    const body = def.request.parse(request);
    let reply;
    try {
      reply = await this.nc.request(addressedSubject(this.namespace, subject, to), encodeJson(body), {
        timeout: timeoutMs,
        headers: headersWithTraceContext(),
      });
    } catch (error) {
      const text = String((error as Error).message ?? error);
      if (/no responders/i.test(text))
        throw new GantryError('UNAVAILABLE', `${def.owner} is not available`, { cause: error });
      throw new GantryError('TIMEOUT', `${def.owner} did not answer within ${timeoutMs} ms`, {
        cause: error,
      });
    }
    const envelope = decodeWith(ReplySchema, reply.data, `reply to ${subject}`);
    if (!envelope.ok) throw GantryError.fromBody(envelope.error);
    return checkWith(def.response, envelope.data, `answer to ${subject}`) as QueryResponse<S>;
  }

  /**
   * Answers an `addressed` query sent to this instance (`to`): the request is checked, the answer
   * checked and sent as `{ok, data}`, a failure as `{ok: false, error}`. Returns how to stop.
   */
  serve<S extends QuerySubject>(
    subject: S,
    to: string,
    handler: (request: QueryRequest<S>) => Promise<QueryResponse<S>>,
  ): () => void {
    const def = QUERIES[subject];
    const sub = this.nc.subscribe(addressedSubject(this.namespace, subject, to), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        void (async () => {
          let reply: unknown;
          try {
            const request = decodeWith(def.request, msg.data, subject) as QueryRequest<S>;
            reply = { ok: true, data: def.response.parse(await handler(request)) };
          } catch (error) {
            reply =
              error instanceof GantryError
                ? { ok: false, error: error.toBody() }
                : { ok: false, error: { error: 'INTERNAL', message: `${def.owner} failed to answer` } };
            if (!(error instanceof GantryError))
              this.log.error(`${subject} handler failed: ${errorMessage(error)}`);
          }
          try {
            msg.respond(encodeJson(reply));
          } catch (error) {
            // The connection closed meanwhile: the asker times out, as it would without an answer.
            this.log.warn(`${subject}: could not answer: ${errorMessage(error)}`);
          }
        })();
      },
    });
    return () => sub.unsubscribe();
  }

  /** The typed KV bucket (opened once per bus). */
  kv<B extends BucketName>(bucket: B): Promise<TypedKv<B>> {
    let kv = this.buckets.get(bucket);
    if (!kv) {
      kv = new Kvm(this.nc).open(wireBucket(this.namespace, bucket)).then((raw) => {
        if (!(raw instanceof Bucket)) throw new Error(`bucket ${bucket}: unexpected KV implementation`);
        return new TypedKv(raw, bucket, this.publisher) as TypedKv<BucketName>;
      });
      this.buckets.set(bucket, kv);
    }
    return kv as Promise<TypedKv<B>>;
  }

  /**
   * A page of the dead-letter stream, oldest first: letters after `after` (an id: its sequence in the
   * stream), at most `limit`, of one logical `subject` if given; `next` is where the next page starts.
   */
  async deadLetters(opts: { after?: number; limit: number; subject?: string }): Promise<DeadLetterPage> {
    const jsm = await jetstreamManager(this.nc);
    const stream = wireStream(this.namespace, 'DLQ');
    const { state } = await jsm.streams.info(stream);
    const items: DeadLetterEntry[] = [];
    let seq = Math.max(opts.after ?? 0, state.first_seq - 1);
    while (items.length < opts.limit) {
      const stored = await nextStored(jsm, stream, wireSubject(this.namespace, 'dlq.v1'), seq + 1);
      if (!stored) break;
      seq = stored.seq;
      const entry = storedLetter(stored);
      if (opts.subject === undefined || entry.subject === opts.subject) items.push(entry);
    }
    const more = seq < state.last_seq && items.length >= opts.limit;
    return { items, ...(more ? { next: seq } : {}), total: state.messages };
  }

  /**
   * Republishes dead letters' messages to their original subjects — these ids, every letter of a
   * subject, or all (those stored when the replay starts) — and removes each from the dead-letter
   * stream once its message is stored again. Each replayed message keeps its headers (trace context)
   * under a new dedupe id (`replay:<id>`, so that a replay retried after a failed removal is stored
   * once); every consumer of the subject gets it again, as handlers are idempotent. A letter that
   * cannot be replayed (a part of a batch message, an unknown subject, a truncated payload no longer
   * in its stream) stays, with the reason.
   */
  async replayDeadLetters(select: {
    ids?: readonly number[];
    subject?: string;
    all?: boolean;
  }): Promise<ReplayDeadLettersResult> {
    const jsm = await jetstreamManager(this.nc);
    const stream = wireStream(this.namespace, 'DLQ');
    const result: ReplayDeadLettersResult = { replayed: [], failed: [] };
    const replay = async (stored: StoredMsg) => {
      const letter = storedLetter(stored);
      try {
        await this.replayOne(jsm, letter);
        await jsm.streams.deleteMessage(stream, letter.id, false);
        result.replayed.push(letter.id);
      } catch (error) {
        result.failed.push({ id: letter.id, reason: errorMessage(error).slice(0, 1000) });
      }
    };
    if (select.ids) {
      for (const id of new Set(select.ids)) {
        const stored = await jsm.streams.getMessage(stream, { seq: id });
        if (stored) await replay(stored);
        else result.failed.push({ id, reason: 'no such dead letter' });
      }
      return result;
    }
    const { state } = await jsm.streams.info(stream);
    for (let seq = state.first_seq - 1; seq < state.last_seq;) {
      const stored = await nextStored(jsm, stream, wireSubject(this.namespace, 'dlq.v1'), seq + 1);
      if (!stored || stored.seq > state.last_seq) break;
      seq = stored.seq;
      if (select.all || storedLetter(stored).subject === select.subject) await replay(stored);
    }
    return result;
  }

  private async replayOne(jsm: JetStreamManager, letter: DeadLetterEntry): Promise<void> {
    if (letter.part)
      throw new Error(
        'this letter is one part of a batch message, not a message: it cannot be replayed alone',
      );
    if (!(letter.subject in EVENTS) || letter.subject === 'dlq.v1')
      throw new Error(`${letter.subject} is not an event subject that can be replayed`);
    const subject = letter.subject as EventSubject;
    let data: string | Uint8Array = letter.data;
    if (letter.truncated) {
      const original =
        letter.stream && letter.seq
          ? await jsm.streams.getMessage(wireStream(this.namespace, letter.stream as StreamName), {
              seq: letter.seq,
            })
          : null;
      if (!original || original.subject !== wireSubject(this.namespace, subject))
        throw new Error(
          'the letter keeps only the start of the payload, and its stream no longer has the message',
        );
      data = original.data;
    }
    const headers = headersWithTraceContext();
    for (const [name, values] of Object.entries(letter.headers ?? {})) {
      // The publish's own options (dedupe id, expectations) are not the original's to repeat.
      if (/^nats-/i.test(name)) continue;
      for (const value of values) headers.append(name, value);
    }
    headers.set('Gantry-Replay-Of', String(letter.id));
    headers.set(PubHeaders.MsgIdHdr, `replay:${letter.id}`);
    await this.publisher.publish(wireSubject(this.namespace, subject), data, headers);
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

/** The first message of `subject` at or after `seq` in `stream`, or null past the end. */
async function nextStored(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  seq: number,
): Promise<StoredMsg | null> {
  // The server's STREAM.MSG.GET takes `next_by_subj` (2.9+); the library's type names only `seq`.
  return jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as MsgRequest);
}

/** A stored dead letter with its id; one that breaks the contract is shown as far as it can be. */
function storedLetter(stored: StoredMsg): DeadLetterEntry {
  let raw: unknown;
  try {
    raw = stored.json();
  } catch {
    raw = undefined;
  }
  const parsed = DeadLetterSchema.safeParse(raw);
  if (parsed.success) return { ...parsed.data, id: stored.seq };
  return {
    id: stored.seq,
    subject: 'unknown',
    consumer: 'unknown',
    reason: `unreadable dead letter: ${parsed.error.issues[0]?.message ?? 'not JSON'}`,
    data: bytesToText(stored.data, 65_536),
    deliveries: 0,
    at: new Date(stored.timestamp).toISOString(),
  };
}

export interface KvWatch {
  /** Resolves once every value present when the watch started has been delivered. */
  readonly ready: Promise<void>;
  stop(): void;
}

/**
 * A KV bucket whose values are validated against the catalog, both ways. Puts go through the lean
 * publisher (a put is a publish to the key's subject, which the library names and checks); the rest
 * through the library.
 */
export class TypedKv<B extends BucketName> {
  constructor(
    private readonly raw: Bucket,
    readonly bucket: B,
    private readonly publisher: JetStreamPublisher,
  ) {}

  async get(key: string): Promise<BucketValue<B> | null> {
    const entry = await this.raw.get(key);
    if (!entry || entry.operation !== 'PUT') return null;
    return decodeWith(BUCKETS[this.bucket].schema, entry.value, `${this.bucket}/${key}`) as BucketValue<B>;
  }

  async put(key: string, value: BucketValue<B>): Promise<number> {
    return this.putValidated(key, encodeJson(BUCKETS[this.bucket].schema.parse(value)));
  }

  /** Writes a value as JSON already validated against the bucket's schema (see `publishValidated`). */
  async putValidated(key: string, json: string | Uint8Array): Promise<number> {
    const encoded = this.raw.encodeKey(key);
    this.raw.validateKey(encoded);
    return (await this.publisher.publish(this.raw.subjectForKey(encoded, true), json)).seq;
  }

  async delete(key: string): Promise<void> {
    await this.raw.delete(key);
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.raw.keys()) out.push(k);
    return out;
  }

  /**
   * Calls `onChange(key, value)` for the current value of every matching key, then for every change
   * (value `null` when deleted). Entries that fail validation are passed to `onInvalid` and skipped.
   */
  async watch(
    onChange: (key: string, value: BucketValue<B> | null) => void,
    opts: { key?: string; onInvalid?: (key: string, error: unknown) => void } = {},
  ): Promise<KvWatch> {
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    let readyRevision = 0;
    if (opts.key && !opts.key.includes('*') && !opts.key.includes('>')) {
      const current = await this.raw.get(opts.key);
      if (current) readyRevision = current.revision;
      else markReady();
    } else {
      const status = await this.raw.status();
      if (status.values === 0) markReady();
    }
    const iter = await this.raw.watch({ key: opts.key ?? '>', include: KvWatchInclude.LastValue });
    void (async () => {
      for await (const entry of iter) {
        if (entry.operation !== 'PUT') onChange(entry.key, null);
        else {
          try {
            onChange(
              entry.key,
              decodeWith(
                BUCKETS[this.bucket].schema,
                entry.value,
                `${this.bucket}/${entry.key}`,
              ) as BucketValue<B>,
            );
          } catch (error) {
            opts.onInvalid?.(entry.key, error);
          }
        }
        if (entry.isUpdate || entry.delta === 0 || (readyRevision && entry.revision >= readyRevision))
          markReady();
      }
    })();
    return { ready, stop: () => iter.stop() };
  }
}
