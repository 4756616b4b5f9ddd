import {
  type DeadLetter,
  durableName,
  EVENTS,
  type EventSubject,
  QUERIES,
  type QuerySubject,
  queueGroup,
  SIGNALS,
  type SignalSubject,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import { errorMessage, GantryError } from '@gantry/errors';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { type Msg, nanos, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Logger } from '@nestjs/common';
import { BaseRpcContext, type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';

import { connectNats, type MessagingOptions } from './bus.js';
import { bytesToText, decodeWith, encodeJson } from './codec.js';
import { messageMetrics } from './metrics.js';
import { ensureTopology } from './topology.js';
import { inConsumerSpan } from './tracing.js';
import { isTransient, transientBackoffMs } from './transient.js';

/** The longest payload (bytes) a dead letter carries whole; a longer one is kept truncated (see DeadLetter). */
const DEAD_LETTER_DATA_BYTES = 384 * 1024;
/** Messages whose failures (other than transient ones) this process counts at once. */
const MAX_COUNTED_FAILURES = 10_000;

/** What a handler can learn about the message it is handling (`@Ctx() ctx: MessageContext`). */
export class MessageContext extends BaseRpcContext<[subject: string, deliveries: number, storedAt?: number]> {
  get subject(): string {
    return this.args[0];
  }
  /** 1 on first delivery. */
  get deliveries(): number {
    return this.args[1];
  }
  /**
   * When JetStream stored the event (ms since the epoch): the same on every delivery and replay,
   * unlike the time it arrives. Undefined for core NATS messages.
   */
  get storedAt(): number | undefined {
    return this.args[2];
  }
}

export interface TransportOptions extends MessagingOptions {
  /**
   * Failures of an event before it is dead-lettered, not counting transient ones (the database or
   * NATS unreachable: see `isTransient`), which are retried for as long as they last.
   */
  maxDeliver?: number;
  /** How long a handler may run before JetStream redelivers (extended by `working()` while it runs). */
  ackWaitMs?: number;
}

type Handler = ((data: unknown, ctx: MessageContext) => Promise<unknown>) & {
  extras?: Record<string, unknown>;
};

/**
 * A NestJS transport on NATS JetStream. `@EventPattern(subject)` handlers of catalog EVENTS get a
 * durable consumer (`durableName(service, subject)`): the payload is validated, the handler runs, and
 * the message is acked only after it returns. A transient failure (`isTransient`: the database or NATS
 * unreachable, restarting or timing out, a serialization failure) is `nak`ed with a growing delay
 * (1 s … 30 s) however many times it happens, and never dead-lettered; a failure that never can
 * succeed (invalid payload, a non-retryable GantryError) is `term`ed and dead-lettered at once; any
 * other failure is retried until it has failed `maxDeliver` times, then dead-lettered. A dead letter
 * keeps the message's subject, stream sequence, headers and payload, so that it can be replayed
 * (`MessageBus.replayDeadLetters`). Each consumer handles its messages one at a time,
 * in stream order, unless its handler asks for more at once (`@OnEvent(subject, { concurrency })`). `@EventPattern` on SIGNALS subscribes on core NATS; `@MessagePattern` on QUERIES
 * answers requests in the service's queue group with `{ok, data}` or `{ok: false, error}`.
 */
export class JetStreamTransport extends Server implements CustomTransportStrategy {
  private nc?: NatsConnection;
  private readonly stoppers: Array<() => void> = [];
  private readonly loops: Promise<void>[] = [];
  private readonly log = new Logger('JetStreamTransport');
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;
  /**
   * Failures that were not transient, per message (`durable:seq`) still being retried. In memory: a
   * restart starts the count again, which only ever retries more.
   */
  private readonly failures = new Map<string, number>();

  constructor(private readonly opts: TransportOptions) {
    super();
    this.maxDeliver = opts.maxDeliver ?? 8;
    this.ackWaitMs = opts.ackWaitMs ?? 30_000;
  }

  on(): never {
    throw new Error('JetStreamTransport does not emit events');
  }

  unwrap<T>(): T {
    return this.connection as T;
  }

  private get connection(): NatsConnection {
    if (!this.nc) throw new Error('JetStreamTransport is not connected');
    return this.nc;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      this.nc = await connectNats(this.opts, ':transport');
      await ensureTopology(this.nc, this.opts.namespace, { replicas: this.opts.replicas });
      for (const [pattern, handler] of this.messageHandlers) {
        if (pattern in EVENTS && handler.isEventHandler)
          await this.bindEvent(pattern as EventSubject, handler);
        else if (pattern in SIGNALS && handler.isEventHandler)
          this.bindSignal(pattern as SignalSubject, handler);
        else if (pattern in QUERIES && !handler.isEventHandler)
          this.bindQuery(pattern as QuerySubject, handler);
        else
          throw new Error(`pattern "${pattern}" is not a catalog event, signal or query of the right kind`);
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    for (const stop of this.stoppers) stop();
    await Promise.allSettled(this.loops);
    if (this.nc && !this.nc.isClosed()) await this.nc.drain();
  }

  private async invoke(handler: Handler, data: unknown, ctx: MessageContext): Promise<unknown> {
    return lastValueFrom(this.transformToObservable(await handler(data, ctx)), { defaultValue: undefined });
  }

  private async bindEvent(subject: EventSubject, handler: Handler): Promise<void> {
    const nc = this.connection;
    const ns = this.opts.namespace;
    const stream = wireStream(ns, EVENTS[subject].stream);
    const durable = durableName(this.opts.service, subject);
    const jsm = await jetstreamManager(nc);
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: wireSubject(ns, subject),
      ack_wait: nanos(this.ackWaitMs),
      max_ack_pending: Math.max(256, 2 * Number(handler.extras?.concurrency ?? 1)),
      // Unlimited: a transient failure is retried for as long as it lasts; the transport counts the
      // other failures itself and dead-letters (terms) the message after `maxDeliver` of them.
      max_deliver: -1,
    };
    try {
      await jsm.consumers.add(stream, config);
    } catch {
      await jsm.consumers.update(stream, durable, config);
    }
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, durable);
    const concurrency = Math.max(1, Math.floor(Number(handler.extras?.concurrency ?? 1)));
    // Pulls that expire every 5 s (not the library's 30 s): after a NATS server of a cluster is lost,
    // the library re-pulls within one expiry, so consuming resumes in seconds, not half a minute.
    const messages = await consumer.consume({ max_messages: Math.max(64, concurrency), expires: 5000 });
    this.stoppers.push(() => void messages.stop());
    this.loops.push(
      (async () => {
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          const handled: Promise<void> = this.handleEvent$(subject, durable, handler, msg)
            .catch((error: unknown) => this.log.error(`${durable}: ${errorMessage(error)}`))
            .finally(() => inFlight.delete(handled));
          inFlight.add(handled);
          if (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
        await Promise.allSettled(inFlight);
      })(),
    );
  }

  private async handleEvent$(
    subject: EventSubject,
    durable: string,
    handler: Handler,
    msg: JsMsg,
  ): Promise<void> {
    const deliveries = msg.info.deliveryCount;
    const stopTimer = messageMetrics.duration.startTimer({ subject });
    let payload: unknown;
    try {
      payload = decodeWith(EVENTS[subject].schema, msg.data, subject);
    } catch (error) {
      await this.deadLetter(subject, durable, msg, (error as Error).message);
      stopTimer({ outcome: 'invalid' });
      return;
    }
    const keepAlive = setInterval(() => msg.working(), Math.max(1000, this.ackWaitMs / 3));
    try {
      await inConsumerSpan(`consume ${subject}`, msg.headers, () =>
        this.invoke(
          handler,
          payload,
          new MessageContext([subject, deliveries, Math.floor(msg.info.timestampNanos / 1e6)]),
        ),
      );
      msg.ack();
      this.failures.delete(`${durable}:${msg.seq}`);
      stopTimer({ outcome: 'ok' });
    } catch (error) {
      const key = `${durable}:${msg.seq}`;
      if (isTransient(error)) {
        const delay = transientBackoffMs(deliveries);
        this.log.warn(
          `${durable}: delivery ${deliveries} failed transiently, retrying in ${delay} ms: ${errorMessage(error)}`,
        );
        msg.nak(delay);
        stopTimer({ outcome: 'retry' });
        return;
      }
      const permanent = error instanceof GantryError && !error.retryable;
      const failures = this.countFailure(key);
      if (permanent || failures >= this.maxDeliver) {
        this.failures.delete(key);
        const reason = `${permanent ? 'permanent failure' : `failed ${failures} times`}: ${errorMessage(error)}`;
        this.log.error(`${durable}: ${reason}`);
        await this.deadLetter(subject, durable, msg, reason);
        stopTimer({ outcome: 'dead-lettered' });
      } else {
        const delay = Math.min(30_000, 250 * 2 ** (failures - 1));
        this.log.warn(
          `${durable}: delivery ${deliveries} failed (${failures} of ${this.maxDeliver}), retrying in ${delay} ms: ${errorMessage(error)}`,
        );
        msg.nak(delay);
        stopTimer({ outcome: 'retry' });
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Counts one more non-transient failure of a message; forgets the oldest counts past the bound. */
  private countFailure(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.delete(key);
    this.failures.set(key, failures);
    if (this.failures.size > MAX_COUNTED_FAILURES) {
      const [oldest] = this.failures.keys();
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    return failures;
  }

  private async deadLetter(
    subject: EventSubject,
    durable: string,
    msg: JsMsg,
    reason: string,
  ): Promise<void> {
    this.log.error(`dead-lettering ${subject} (stream seq ${msg.seq}) from ${durable}: ${reason}`);
    try {
      const js = jetstream(this.connection);
      const headers: Record<string, string[]> = {};
      for (const [name, values] of msg.headers ?? []) headers[name] = values;
      const letter: DeadLetter = {
        subject,
        consumer: durable,
        reason: reason.slice(0, 4000),
        data: bytesToText(msg.data, DEAD_LETTER_DATA_BYTES),
        deliveries: msg.info.deliveryCount,
        at: new Date().toISOString(),
        stream: EVENTS[subject].stream,
        seq: msg.seq,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(msg.data.length > DEAD_LETTER_DATA_BYTES ? { truncated: true } : {}),
      };
      await js.publish(wireSubject(this.opts.namespace, 'dlq.v1'), encodeJson(letter), {
        msgID: `${durable}:${msg.seq}`,
      });
      // No reason on the term: servers before 2.10 ignore `+TERM <reason>` and redeliver forever. The
      // reason travels in the dead letter instead.
      msg.term();
    } catch (error) {
      // Could not record it: leave it for redelivery rather than lose it.
      this.log.error(`dead-letter publish failed: ${errorMessage(error)}`);
      msg.nak(5000);
    }
  }

  private bindSignal(subject: SignalSubject, handler: Handler): void {
    const sub = this.connection.subscribe(wireSubject(this.opts.namespace, subject), {
      callback: (err, msg) => {
        if (err) return;
        let payload: unknown;
        try {
          payload = decodeWith(SIGNALS[subject].schema, msg.data, subject);
        } catch (error) {
          messageMetrics.handled.inc({ subject, outcome: 'invalid' });
          this.log.warn(`dropping invalid ${subject}: ${errorMessage(error)}`);
          return;
        }
        this.invoke(handler, payload, new MessageContext([subject, 1])).then(
          () => messageMetrics.handled.inc({ subject, outcome: 'ok' }),
          (error: unknown) => {
            messageMetrics.handled.inc({ subject, outcome: 'error' });
            this.log.warn(`${subject} handler failed: ${errorMessage(error)}`);
          },
        );
      },
    });
    this.stoppers.push(() => sub.unsubscribe());
  }

  private bindQuery(subject: QuerySubject, handler: Handler): void {
    if ('addressed' in QUERIES[subject])
      throw new Error(`${subject} is addressed to one instance: answer it with MessageBus.serve`);
    const sub: Subscription = this.connection.subscribe(wireSubject(this.opts.namespace, subject), {
      queue: queueGroup(this.opts.namespace, this.opts.service),
      callback: (err, msg) => {
        if (!err) void this.answer(subject, handler, msg);
      },
    });
    this.stoppers.push(() => sub.unsubscribe());
  }

  private async answer(subject: QuerySubject, handler: Handler, msg: Msg): Promise<void> {
    const def = QUERIES[subject];
    const stopTimer = messageMetrics.duration.startTimer({ subject });
    let reply: unknown;
    try {
      const request = decodeWith(def.request, msg.data, subject);
      const data = await inConsumerSpan(`answer ${subject}`, msg.headers, () =>
        this.invoke(handler, request, new MessageContext([subject, 1])),
      );
      reply = { ok: true, data: def.response.parse(data) };
      stopTimer({ outcome: 'ok' });
    } catch (error) {
      if (error instanceof GantryError) reply = { ok: false, error: error.toBody() };
      else {
        this.log.error(`${subject} handler failed: ${errorMessage(error)}`);
        reply = { ok: false, error: { error: 'INTERNAL', message: `${def.owner} failed to answer` } };
      }
      stopTimer({ outcome: 'error' });
    }
    if (msg.reply) msg.respond(encodeJson(reply));
  }
}
