import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** What a stream answers for a stored message. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Pending {
  resolve: (ack: PubAck) => void;
  reject: (error: Error) => void;
  subject: string;
  deadline: number;
}

const decoder = new TextDecoder();

/**
 * JetStream publishes at the cost of a core publish. The library's `js.publish` makes a request per
 * message (a request object, a timer, promise races): measured on this project's 2-core machine it
 * spends about twice the client CPU of the publish itself (bench: `node bench/js-publish.mjs`). Here
 * every publish is a core publish whose reply subject names it under ONE inbox subscription; the
 * stream's ack settles it, and one sweeper fails those not answered within `timeoutMs`.
 * The server's answers are the same either way: a PubAck, an error (`{error: {description}}`), or a
 * 503 status when no stream takes the subject.
 */
export class JetStreamPublisher {
  private readonly prefix = `${createInbox()}.`;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (_err, msg) => this.settle(msg) });
    void nc.closed().then(() => this.failAll('the NATS connection is closed'));
  }

  /** Publishes to a stream's subject; resolves with the stream's ack, rejects with its error. */
  publish(subject: string, data: string | Uint8Array, headers?: MsgHdrs): Promise<PubAck> {
    if (this.nc.isClosed()) return Promise.reject(new Error('the NATS connection is closed'));
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, subject, deadline: Date.now() + this.timeoutMs });
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}${token}`, ...(headers ? { headers } : {}) });
      } catch (error) {
        this.pending.delete(token);
        reject(error as Error);
        return;
      }
      this.sweep();
    });
  }

  /** How many publishes wait for their ack. */
  get inFlight(): number {
    return this.pending.size;
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // timed out meanwhile, or not ours
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      p.reject(new Error(`no stream takes subject ${p.subject}`));
      return;
    }
    let ack: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { description?: unknown } };
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
    } catch {
      p.reject(new Error(`invalid JetStream ack for ${p.subject}`));
      return;
    }
    if (ack.error) {
      p.reject(new Error(`JetStream refused a message on ${p.subject}: ${String(ack.error.description)}`));
      return;
    }
    if (typeof ack.stream !== 'string' || typeof ack.seq !== 'number') {
      p.reject(new Error(`invalid JetStream ack for ${p.subject}`));
      return;
    }
    p.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true });
  }

  /** Fails what waited too long; runs while anything waits. */
  private sweep(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const [token, p] of this.pending) {
          if (p.deadline > now) continue;
          this.pending.delete(token);
          p.reject(new Error(`no JetStream ack for ${p.subject} within ${this.timeoutMs} ms`));
        }
        if (this.pending.size === 0) {
          clearInterval(this.sweeper);
          this.sweeper = undefined;
        }
      },
      Math.max(10, Math.floor(this.timeoutMs / 5)),
    );
    this.sweeper.unref();
  }

  private failAll(reason: string): void {
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }
}
