import { Logger } from '@nestjs/common';
import pg from 'pg';

export interface LeaseOptions {
  /** How often a standby tries to take the lease. Default 500 ms. */
  pollMs?: number;
  /** How often the holder checks, on its lease connection, that it still holds the lock. Default 2 s. */
  checkEveryMs?: number;
  /** How long that check may take before the holder counts the lease as lost. Default 3 s. */
  checkTimeoutMs?: number;
  /**
   * How long PostgreSQL keeps a lease session that sends nothing (`idle_session_timeout`): a holder
   * cut off from the database loses the lock that long after its last check, and a standby takes
   * over then. Must exceed `checkEveryMs + checkTimeoutMs`, so that the holder has given up first.
   * Default 10 s.
   */
  sessionIdleTimeoutMs?: number;
}

/**
 * Which database session holds a lease: what a write made on another connection checks, in its own
 * statement, to be refused once that session is gone (see `leaseHeldCountSql`). A backend's pid may
 * be reused; its pid and start time together never are.
 */
export interface LeaseFence {
  readonly name: string;
  readonly pid: number;
  /** The session's `backend_start` in seconds since the epoch, to the microsecond (numeric as text). */
  readonly since: string;
}

/**
 * SQL counting the sessions that hold the lease `fence` names and are the very session that took it:
 * 1 while it holds it, 0 once it ended or released it (whoever holds it now). `param` adds a bound
 * parameter and returns its placeholder. Scalar subquery: use it inside a statement.
 */
export function leaseHeldCountSql(fence: LeaseFence, param: (value: unknown) => string): string {
  const name = param(fence.name);
  return `(SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = ((hashtext(${name}::text)::bigint >> 32) & 4294967295)::oid
              AND l.objid = (hashtext(${name}::text)::bigint & 4294967295)::oid
              AND l.pid = ${param(fence.pid)}::int
              AND extract(epoch FROM a.backend_start) = ${param(fence.since)}::numeric)`;
}

/**
 * Leadership through a PostgreSQL session advisory lock on a dedicated connection. At most one
 * holder per name across every process using the same database; the lock goes away the moment the
 * holder's session does (crash, kill -9, `pg_terminate_backend`), and PostgreSQL ends a session that
 * has been silent for `sessionIdleTimeoutMs` (a holder cut off by the network), so a standby polling
 * `acquire` takes over within that plus its poll interval.
 *
 * The holder checks every `checkEveryMs` that its session still holds the lock; a check that fails or
 * takes longer than `checkTimeoutMs` (a partition: the query never returns) counts as a loss, and so
 * does the connection ending. On a loss it calls `onLost` once and closes the connection: it must then
 * stop acting (the safe reaction is to exit and restart as a standby). So a holder cut off from the
 * database gives up within `checkEveryMs + checkTimeoutMs` (5 s by default), before PostgreSQL frees
 * the lock for a standby (10 s). Writes made meanwhile on other connections are fenced by `fence`.
 */
export class AdvisoryLease {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private closed = false;
  private holder: LeaseFence | undefined;
  private readonly log = new Logger('AdvisoryLease');
  private readonly pollMs: number;
  private readonly checkEveryMs: number;
  private readonly checkTimeoutMs: number;
  private readonly sessionIdleTimeoutMs: number;

  constructor(
    private readonly url: string,
    readonly name: string,
    opts: LeaseOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 500;
    this.checkEveryMs = opts.checkEveryMs ?? 2000;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? 3000;
    this.sessionIdleTimeoutMs = opts.sessionIdleTimeoutMs ?? 10_000;
    if (this.checkEveryMs + this.checkTimeoutMs >= this.sessionIdleTimeoutMs)
      throw new Error(
        `lease ${name}: checkEveryMs + checkTimeoutMs (${this.checkEveryMs + this.checkTimeoutMs} ms) must be below sessionIdleTimeoutMs (${this.sessionIdleTimeoutMs} ms), so that a cut-off holder gives up before a standby takes over`,
      );
  }

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * The session that took the lease, from the moment it is taken; kept after a loss, so that writes
   * fenced by it are refused from then on. Undefined before the lease was ever held.
   */
  get fence(): LeaseFence | undefined {
    return this.holder;
  }

  /** Resolves once this process holds the lease; polls until then (or until `release`). */
  async acquire(onLost: (why: string) => void): Promise<void> {
    while (!this.closed) {
      try {
        const client = await this.connect();
        const { rows } = await client.query<{ ok: boolean; pid: number; since: string }>(
          `SELECT pg_try_advisory_lock(hashtext($1)) AS ok, pg_backend_pid() AS pid,
                  (SELECT extract(epoch FROM backend_start)::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS since`,
          [this.name],
        );
        const row = rows[0];
        if (row?.ok) {
          this.holder = { name: this.name, pid: row.pid, since: row.since };
          this.held = true;
          this.log.log(`holding lease ${this.name}`);
          this.watch(client, onLost);
          return;
        }
      } catch (error) {
        this.log.warn(`lease ${this.name}: ${(error as Error).message}`);
        await this.dropClient();
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
    throw new Error(`lease ${this.name} released before it was acquired`);
  }

  async release(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.held = false;
    await this.dropClient();
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 5000,
      application_name: `gantry-lease:${this.name}`.slice(0, 63),
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.min(5000, this.checkTimeoutMs),
      // The server's side: a check never runs longer than the holder waits for it, the lease never
      // sits in a transaction, and a session silent for too long (its holder cut off) is ended, freeing
      // the lock.
      statement_timeout: this.checkTimeoutMs,
      idle_in_transaction_session_timeout: this.checkTimeoutMs,
      options: `-c idle_session_timeout=${this.sessionIdleTimeoutMs}`,
    });
    client.on('error', () => undefined);
    await client.connect();
    this.client = client;
    return client;
  }

  private watch(client: pg.Client, onLost: (why: string) => void): void {
    const lost = (why: string) => {
      if (!this.held) return;
      this.held = false;
      if (this.timer) clearInterval(this.timer);
      this.log.error(`lost lease ${this.name}: ${why}`);
      // Nothing more on this session: ending it frees the lock should the database still see it.
      void this.dropClient();
      onLost(why);
    };
    client.on('end', () => lost('the database connection ended'));
    client.on('error', (e) => lost(e.message));
    let checking = false;
    this.timer = setInterval(() => {
      if (checking) return;
      checking = true;
      void this.check(client)
        .then((why) => why !== undefined && lost(why))
        .finally(() => (checking = false));
    }, this.checkEveryMs);
    this.timer.unref();
  }

  /** Why the lease is no longer held by this session, or undefined while it is. */
  private async check(client: pg.Client): Promise<string | undefined> {
    const fence = this.holder;
    if (!fence) return 'no session holds it';
    const params: unknown[] = [];
    const sql = `SELECT ${leaseHeldCountSql(fence, (v) => `$${params.push(v)}`)} AS n`;
    let timeout: NodeJS.Timeout | undefined;
    try {
      const answer = client.query<{ n: string }>(sql, params);
      const late = new Promise<never>((_, reject) => {
        timeout = setTimeout(
          () =>
            reject(new Error(`the database did not answer the lease check within ${this.checkTimeoutMs} ms`)),
          this.checkTimeoutMs,
        );
      });
      const { rows } = await Promise.race([answer, late]);
      return Number(rows[0]?.n) === 1 ? undefined : 'its session no longer holds the lock';
    } catch (error) {
      return (error as Error).message;
    } finally {
      clearTimeout(timeout);
    }
  }

  private async dropClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // end() waits for the server's goodbye, which a cut-off server never sends: bound the wait, then
    // close the socket outright.
    const ended = c.end().catch(() => undefined);
    const timedOut = await Promise.race([
      ended.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 1000).unref()),
    ]);
    if (timedOut)
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
