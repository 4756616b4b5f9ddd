import { Logger } from '@nestjs/common';
import pg from 'pg';

/**
 * Leadership through a PostgreSQL session advisory lock on a dedicated connection. At most one
 * holder per name across every process using the same database; the lock goes away the moment the
 * holder's connection does (crash, kill -9, network loss), so a standby polling `acquire` takes over
 * within its poll interval. The holder checks its connection every `checkEveryMs` and calls `onLost`
 * when it is gone: it must then stop acting (the safe reaction is to exit and restart as a standby).
 */
export class AdvisoryLease {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private closed = false;
  private readonly log = new Logger('AdvisoryLease');

  constructor(
    private readonly url: string,
    readonly name: string,
    private readonly opts: { pollMs?: number; checkEveryMs?: number } = {},
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Resolves once this process holds the lease; polls until then (or until `release`). */
  async acquire(onLost: (why: string) => void): Promise<void> {
    const pollMs = this.opts.pollMs ?? 500;
    while (!this.closed) {
      try {
        const client = await this.connect();
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS ok',
          [this.name],
        );
        if (rows[0]?.ok) {
          this.held = true;
          this.log.log(`holding lease ${this.name}`);
          this.watch(client, onLost);
          return;
        }
      } catch (error) {
        this.log.warn(`lease ${this.name}: ${(error as Error).message}`);
        await this.dropClient();
      }
      await new Promise((r) => setTimeout(r, pollMs));
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
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
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
      onLost(why);
    };
    client.on('end', () => lost('the database connection ended'));
    client.on('error', (e) => lost(e.message));
    this.timer = setInterval(() => {
      client.query('SELECT 1').catch((e: Error) => lost(e.message));
    }, this.opts.checkEveryMs ?? 2000);
    this.timer.unref();
  }

  private async dropClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
