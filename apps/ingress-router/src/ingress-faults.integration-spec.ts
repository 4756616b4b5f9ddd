import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createTcpServer,
  type Server as TcpServer,
  type Socket,
} from 'node:net';

import type { RouteEntry, TokenEntry } from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import {
  createTestNamespace,
  type IngressReply,
  sleep,
  uniqueName,
  viaIngress,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { IngressRouterModule, SERVICE } from './app.module.js';
import { IngressRouterConfigSchema } from './config.js';
import { IngressServer } from './ingress-server.js';

/**
 * The ingress facing faulty replicas (frozen, refusing, answering in bare LF) and a lost NATS
 * connection. Replicas are real servers: in this process, or a process stopped with SIGSTOP (as
 * `docker pause` freezes a container: the kernel still accepts connections, nothing answers).
 */

const DOMAIN = 'apps.test';
const CONNECT_TIMEOUT_MS = 300;
const HEADER_TIMEOUT_MS = 600;
const EJECT_AFTER = 2;
const EJECT_MS = 1_500;
const id = (prefix: string): string => uniqueName(prefix).replaceAll('_', '-').toLowerCase();
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

type Reply = IngressReply;

/** A replica answering JSON that names it, and remembering what it was asked. */
async function replica(name: string): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/sse') {
        // A stream: headers at once, then an event every 200 ms, longer than the header timeout.
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        let n = 0;
        const tick = setInterval(() => {
          res.write(`data: ${n}\n\n`);
          if (++n === 6) {
            clearInterval(tick);
            res.end();
          }
        }, 200);
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ replica: name, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** A TCP server that does something of its own with each connection; counts them. */
async function tcp(
  onConnection: (s: Socket) => void,
): Promise<{ server: TcpServer; port: number; count: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    onConnection(s);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, count: () => n };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A process listening (backlog 1), then frozen with SIGSTOP. With `full`, its accept queue is filled
 * first: new connections then hang in SYN_SENT, as to a host that does not answer.
 */
async function frozen(full: boolean): Promise<{ port: number; stop: () => void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      "require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},function(){console.log(this.address().port)})",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
  );
  child.kill('SIGSTOP');
  const held: Socket[] = [];
  if (full)
    for (let i = 0; i < 20; i++) {
      const connected = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        held.push(s);
        s.on('error', () => resolve(false));
        s.setTimeout(300, () => resolve(false));
        s.on('connect', () => resolve(true));
      });
      if (!connected) break;
    }
  return {
    port,
    stop: () => {
      child.kill('SIGKILL');
      for (const s of held) s.destroy();
    },
  };
}

/** A TCP relay to NATS that can be cut (connections dropped, new ones refused) and restored. */
async function natsRelay(
  natsUrl: string,
): Promise<{ url: string; cut: () => Promise<void>; restore: () => Promise<void> }> {
  const upstream = new URL(natsUrl.split(',')[0] as string);
  const pairs = new Set<Socket>();
  const relay = createTcpServer((client) => {
    const server = connect(Number(upstream.port || 4222), upstream.hostname);
    for (const s of [client, server]) {
      pairs.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        pairs.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const port = (relay.address() as AddressInfo).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut: async () => {
      const closed = new Promise<void>((r) => relay.close(() => r()));
      for (const s of pairs) s.destroy();
      await closed;
    },
    restore: () => new Promise<void>((r) => relay.listen(port, '127.0.0.1', r)),
  };
}

describe('ingress-router with faulty replicas and a lost NATS connection', () => {
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let relay: Awaited<ReturnType<typeof natsRelay>>;
  let app: INestApplication;
  let routes: TypedKv<'routes'>;
  let tokens: TypedKv<'tokens'>;
  let ingressPort: number;
  let adminUrl: string;
  let good: Awaited<ReturnType<typeof replica>>;
  const cleanups: Array<() => void | Promise<void>> = [];

  const route = (
    appId: string,
    ports: Array<[string, number]>,
    extra: Partial<RouteEntry> = {},
  ): RouteEntry => ({
    appId,
    projectId: 'p1',
    version: 1,
    updatedAt: new Date().toISOString(),
    state: 'RUNNING',
    unsecureHttp: true,
    labels: {},
    httpPort: 8080,
    ports: [8080],
    endpoints: ports.map(([replicaId, port]) => ({
      replicaId,
      nodeId: 'node-1',
      address: '127.0.0.1',
      ports: { '8080': port },
    })),
    ...extra,
  });

  /** One request to the ingress for `appId`, on a connection of its own. */
  const call = (
    appId: string,
    path = '/',
    opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> => viaIngress(`http://127.0.0.1:${ingressPort}`, `${appId}.${DOMAIN}`, path, opts);

  /**
   * Puts a route and waits until the ingress has it, without sending it a request (which would
   * take a turn of its round robin): the watch delivers in order, so a marker route put after it
   * shows it is in.
   */
  async function serve(entry: RouteEntry): Promise<void> {
    await routes.put(entry.appId, entry);
    const marker = id('mark');
    await routes.put(marker, route(marker, [['r-good', good.port]]));
    await waitFor(`the route of ${entry.appId}`, async () => (await call(marker)).status === 200);
    await routes.delete(marker);
  }

  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeAll(async () => {
    ns = await createTestNamespace('ingfault');
    routes = await ns.bus.kv('routes');
    tokens = await ns.bus.kv('tokens');
    relay = await natsRelay(ns.natsUrl);
    good = await replica('good');
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          good.server.closeAllConnections();
          good.server.close(() => r());
        }),
    );
    const config = IngressRouterConfigSchema.parse({
      NATS_URL: relay.url,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      INGRESS_PORT: '0',
      INGRESS_H2C_PORT: '0',
      GANTRY_APPS_DOMAIN: DOMAIN,
      INGRESS_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      INGRESS_RESPONSE_HEADER_TIMEOUT_MS: String(HEADER_TIMEOUT_MS),
      INGRESS_UPSTREAM_TIMEOUT_MS: '5000',
      INGRESS_EJECT_AFTER_FAILURES: String(EJECT_AFTER),
      INGRESS_EJECT_MS: String(EJECT_MS),
      LOG_LEVEL: 'error',
    });
    app = await runService({
      name: SERVICE,
      module: IngressRouterModule.forRoot(config),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
    });
    ingressPort = app.get(IngressServer).port();
    adminUrl = await app.getUrl();
    await waitFor('readiness', async () => (await fetch(`${adminUrl}/readyz`)).status === 200);
  });

  afterAll(async () => {
    await app?.close();
    for (const c of cleanups.reverse()) await c();
    await relay?.cut();
    await ns?.destroy();
  });

  it('answers from another replica when one is frozen (accepts, never answers), within the header timeout', async () => {
    const paused = await frozen(false);
    cleanups.push(paused.stop);
    const appId = id('paused');
    await serve(
      route(appId, [
        ['r-frozen', paused.port],
        ['r-good', good.port],
      ]),
    );
    // Round robin: of two requests in a row, one is sent to the frozen replica first.
    for (let i = 0; i < 2; i++) {
      const r = await call(appId, `/paused-${i}`);
      expect([r.status, r.headers['x-gantry-replica']]).toEqual([200, 'r-good']);
      expect(r.ms).toBeLessThan(HEADER_TIMEOUT_MS + 1_000);
    }
    expect(
      await metric('gantry_ingress_upstream_errors_total', `app="${appId}",code="RESPONSE_TIMEOUT"`),
    ).toBe(1);
  });

  it('tries another replica when a connection cannot be made in time', async () => {
    const unreachable = await frozen(true);
    cleanups.push(unreachable.stop);
    const appId = id('noconn');
    await serve(
      route(appId, [
        ['r-hang', unreachable.port],
        ['r-good', good.port],
      ]),
    );
    for (let i = 0; i < 2; i++) {
      // A POST too: nothing was sent to the first replica, so it may go to the next.
      const r = await call(appId, `/noconn-${i}`, { method: 'POST', body: `hello ${i}` });
      expect([r.status, r.json]).toEqual([200, { replica: 'good', body: `hello ${i}` }]);
      expect(r.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 1_000);
    }
    expect(
      await metric('gantry_ingress_upstream_errors_total', `app="${appId}",code="CONNECT_TIMEOUT"`),
    ).toBe(1);
  });

  it('answers 504 naming the timeout when the only replica is frozen', async () => {
    const paused = await frozen(false);
    cleanups.push(paused.stop);
    const appId = id('alone');
    await routes.put(appId, route(appId, [['r-frozen', paused.port]]));
    const r = await waitFor('the route', async () => {
      const x = await call(appId);
      return x.status === 404 ? undefined : x;
    });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({
      error: 'TIMEOUT',
      details: { replicaId: 'r-frozen', cause: 'RESPONSE_TIMEOUT' },
    });
    expect(r.ms).toBeGreaterThanOrEqual(HEADER_TIMEOUT_MS - 50);
    expect(r.ms).toBeLessThan(HEADER_TIMEOUT_MS + 1_000);
  });

  it('does not cut a streamed body that outlasts the header timeout', async () => {
    const appId = id('sse');
    await serve(route(appId, [['r-good', good.port]]));
    const r = await call(appId, '/sse');
    expect(r.status).toBe(200);
    expect(r.ms).toBeGreaterThan(HEADER_TIMEOUT_MS);
    expect(r.text).toBe([0, 1, 2, 3, 4, 5].map((n) => `data: ${n}\n\n`).join(''));
  });

  it('never sends a POST twice once it reached a replica', async () => {
    const hole = await tcp(() => undefined); // reads the request, never answers
    cleanups.push(() => void hole.server.close());
    const appId = id('post');
    await serve(
      route(appId, [
        ['r-hole', hole.port],
        ['r-good', good.port],
      ]),
    );
    // Round robin: turn 0 starts at r-hole, turn 1 at r-good.
    const r = await call(appId, '/post-0', { method: 'POST', body: 'once' });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({
      error: 'TIMEOUT',
      details: { replicaId: 'r-hole', cause: 'RESPONSE_TIMEOUT' },
    });
    expect(r.ms).toBeLessThan(HEADER_TIMEOUT_MS + 1_000);
    const next = await call(appId, '/post-1', { method: 'POST', body: 'once' });
    expect(next.json).toEqual({ replica: 'good', body: 'once' });
    expect(hole.count()).toBe(1);
    expect(good.seen).toContain('POST /post-1');
    expect(good.seen).not.toContain('POST /post-0');
  });

  it('ejects a replica that fails N times in a row, then tries it again after the ejection', async () => {
    const hole = await tcp(() => undefined);
    cleanups.push(() => void hole.server.close());
    const appId = id('eject');
    await serve(
      route(appId, [
        ['r-hole', hole.port],
        ['r-good', good.port],
      ]),
    );
    const sent = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const r = await call(appId, '/e');
        expect([r.status, r.headers['x-gantry-replica']]).toEqual([200, 'r-good']);
      }
    };
    await sent(8);
    expect(hole.count()).toBe(EJECT_AFTER); // then no more traffic
    expect(await metric('gantry_ingress_ejections_total', `app="${appId}"`)).toBe(1);
    await sleep(EJECT_MS + 100);
    await sent(6); // tried once more (half-open), fails, out again at once
    expect(hole.count()).toBe(EJECT_AFTER + 1);
    expect(await metric('gantry_ingress_ejections_total', `app="${appId}"`)).toBe(2);
  });

  it('ejects a replica that refuses connections after N refusals', async () => {
    const appId = id('refuse');
    await serve(
      route(appId, [
        ['r-dead', await deadPort()],
        ['r-good', good.port],
      ]),
    );
    for (let i = 0; i < 8; i++) {
      const r = await call(appId, '/r');
      expect([r.status, r.headers['x-gantry-replica']]).toEqual([200, 'r-good']);
    }
    const refused = await metric(
      'gantry_ingress_upstream_errors_total',
      `app="${appId}",code="ECONNREFUSED"`,
    );
    expect(refused).toBe(EJECT_AFTER);
    expect(await metric('gantry_ingress_ejections_total', `app="${appId}"`)).toBe(1);
  });

  it('reads replies whose header lines end in a bare LF, as nginx does', async () => {
    const lf = await tcp((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok'));
    });
    cleanups.push(() => void lf.server.close());
    const appId = id('lf');
    await routes.put(appId, route(appId, [['r-lf', lf.port]]));
    const r = await waitFor('the route', async () => {
      const x = await call(appId);
      return x.status === 404 ? undefined : x;
    });
    expect([r.status, r.text, r.headers['content-type']]).toEqual([200, 'ok', 'text/plain']);
  });

  it('is not ready while cut off from NATS, and applies what changed meanwhile once back', async () => {
    const secure = id('secure');
    await serve(route(secure, [['r-good', good.port]], { unsecureHttp: false }));
    const hash = sha256('gantry_cut');
    const entry: TokenEntry = { tokenId: 'tok-cut', projectId: 'p1', role: 'read', version: 1 };
    await tokens.put(hash, entry);
    const as = (): Promise<Reply> => call(secure, '/', { headers: { Authorization: 'Bearer gantry_cut' } });
    await waitFor('the token', async () => (await as()).status === 200);
    const ready = async (): Promise<{ status: number; checks: Record<string, string> }> => {
      const r = await fetch(`${adminUrl}/readyz`);
      return { status: r.status, checks: ((await r.json()) as { checks: Record<string, string> }).checks };
    };
    expect(await ready()).toMatchObject({ status: 200, checks: { nats: 'ok' } });

    await relay.cut();
    const down = await waitFor(
      'not ready',
      async () => {
        const r = await ready();
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 3_000, intervalMs: 50 },
    );
    expect(down.checks['nats']).toMatch(/^NATS connection down/);
    // Revoked while the ingress cannot hear it.
    await tokens.delete(hash);
    await sleep(500);
    await relay.restore();
    await waitFor('ready again', async () => (await ready()).status === 200, { timeoutMs: 10_000 });
    await waitFor('the revocation', async () => (await as()).status === 401, { timeoutMs: 10_000 });
  });
});
