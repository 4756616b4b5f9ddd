import net from 'node:net';

import { createTestDatabase, type TestDatabase, waitFor } from '@gantry/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { AdvisoryLease, leaseHeldCountSql } from './lease.js';

/**
 * A TCP relay to PostgreSQL that can be frozen: bytes stop flowing both ways and no connection closes,
 * which is what a network partition looks like to both ends.
 */
class FreezableProxy {
  private frozen = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  private constructor(target: URL) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        from.on('data', (chunk) => {
          if (!this.frozen) to.write(chunk);
        });
        // A partition carries no goodbye either: once frozen, a side closing is not passed on.
        from.on('error', () => !this.frozen && to.destroy());
        from.on('close', () => !this.frozen && to.destroy());
      }
    });
  }

  static async start(url: string): Promise<{ proxy: FreezableProxy; url: string }> {
    const target = new URL(url);
    const proxy = new FreezableProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const via = new URL(url);
    via.hostname = '127.0.0.1';
    via.port = String((proxy.server.address() as net.AddressInfo).port);
    return { proxy, url: via.toString() };
  }

  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const NAME = 'test-lease';

describe('advisory lease', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const leases: AdvisoryLease[] = [];
  const proxies: FreezableProxy[] = [];

  const lease = (url: string, opts?: ConstructorParameters<typeof AdvisoryLease>[2]) => {
    const l = new AdvisoryLease(url, NAME, opts);
    leases.push(l);
    return l;
  };

  beforeAll(async () => {
    db = await createTestDatabase('lease');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });

  afterEach(async () => {
    for (const l of leases.splice(0)) await l.release();
    for (const p of proxies.splice(0)) await p.close();
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('gives up within its budget when the database stops answering, before a standby takes over', async () => {
    const { proxy, url } = await FreezableProxy.start(db.url);
    proxies.push(proxy);
    const leader = lease(url, { checkEveryMs: 1000, checkTimeoutMs: 1500, sessionIdleTimeoutMs: 5000 });
    let lostAt = 0;
    await leader.acquire(() => (lostAt = Date.now()));
    const standby = lease(db.url, { pollMs: 200, checkEveryMs: 1000, checkTimeoutMs: 1500 });
    let tookOver = 0;
    const standing = standby.acquire(() => undefined).then(() => (tookOver = Date.now()));
    await new Promise((r) => setTimeout(r, 1200));
    expect(standby.isHeld).toBe(false);

    const cut = Date.now();
    proxy.freeze();
    await waitFor('the leader to give up', () => lostAt > 0, { timeoutMs: 10_000 });
    expect(leader.isHeld).toBe(false);
    expect(lostAt - cut).toBeLessThanOrEqual(1000 + 1500 + 500);
    // PostgreSQL ends the silent session, freeing the lock: the standby leads, after the leader gave up.
    await standing;
    expect(standby.isHeld).toBe(true);
    expect(tookOver).toBeGreaterThan(lostAt);
    expect(tookOver - cut).toBeLessThan(15_000);
  }, 30_000);

  it('gives up when its session is terminated, and its fence no longer passes', async () => {
    const leader = lease(db.url, { checkEveryMs: 500, checkTimeoutMs: 1000 });
    const lost: string[] = [];
    await leader.acquire((why) => lost.push(why));
    const fence = leader.fence;
    if (!fence) throw new Error('a lease held has a fence');
    const held = async () => {
      const params: unknown[] = [];
      const { rows } = await admin.query<{ n: string }>(
        `SELECT ${leaseHeldCountSql(fence, (v) => `$${params.push(v)}`)} AS n`,
        params,
      );
      return Number(rows[0]?.n);
    };
    expect(await held()).toBe(1);

    await admin.query('SELECT pg_terminate_backend($1)', [fence.pid]);
    await waitFor('the leader to give up', () => lost.length > 0, { timeoutMs: 3000 });
    expect(leader.isHeld).toBe(false);
    expect(await held()).toBe(0);

    // Another session taking the lease does not make the old fence pass again.
    const next = lease(db.url);
    await next.acquire(() => undefined);
    expect(next.fence?.pid).not.toBe(fence.pid);
    expect(await held()).toBe(0);
  });

  it('refuses timings where a cut-off holder could still act after a standby took over', () => {
    expect(() => new AdvisoryLease(db.url, NAME, { checkEveryMs: 5000, checkTimeoutMs: 5000 })).toThrow(
      /must be below sessionIdleTimeoutMs/,
    );
  });
});
