import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ServerHttp2Session } from 'node:http2';
import { type AddressInfo, connect } from 'node:net';

import {
  type IngressTraffic,
  IngressTrafficSchema,
  type RouteEntry,
  type TokenEntry,
  wireSubject,
} from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import {
  createTestNamespace,
  type IngressReply,
  sleep,
  type TestNamespace,
  uniqueName,
  viaIngress,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Subscription } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';

import { IngressRouterModule, SERVICE } from './app.module.js';
import { IngressRouterConfigSchema } from './config.js';
import { IngressServer } from './ingress-server.js';

const DOMAIN = 'apps.test';
const TRAFFIC_INTERVAL_MS = 200;
const SHORT_HOLD_MS = 1000;
const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const id = (prefix: string): string => uniqueName(prefix).replaceAll('_', '-').toLowerCase();

/** A replica that records the order in which requests reach it, and echoes tunnels after an upgrade. */
async function recorder(): Promise<{ server: Server; port: number; arrived: string[] }> {
  const arrived: string[] = [];
  const server = createServer((req, res) => {
    arrived.push(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ url: req.url, bytes: body.length, sha256: sha256(body) }));
    });
  });
  server.on('upgrade', (req, socket) => {
    arrived.push(req.url ?? '');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, arrived };
}

/** One ingress of the test: its app, ports and traffic id. */
interface Ingress {
  app: INestApplication;
  id: string;
  port: number;
  h2cPort: number;
  admin: string;
}

describe('ingress activator and traffic reports on real NATS', () => {
  let ns: TestNamespace;
  let routes: TypedKv<'routes'>;
  let tokens: TypedKv<'tokens'>;
  let sub: Subscription | undefined;
  let rec: Awaited<ReturnType<typeof recorder>>;
  /** Hold timeout long enough for any test: the one most tests use. */
  let main: Ingress;
  /** Hold timeout of a second, at most two held per app. */
  let short: Ingress;
  const signals: IngressTraffic[] = [];

  const WAKE = id('wake');
  const WAKE_H2 = id('wake-h2');
  const WAKE_WS = id('wake-ws');
  const SLOW = id('slow');
  const LEAVE = id('leave');
  const SECRET = id('secret');
  const GONE = id('gone');
  const HALTED = id('halted');
  const PLAIN = id('plain');

  const route = (appId: string, extra: Partial<RouteEntry> = {}): RouteEntry => ({
    appId,
    projectId: 'p1',
    version: 1,
    updatedAt: new Date().toISOString(),
    state: 'RUNNING',
    unsecureHttp: true,
    labels: {},
    httpPort: 8080,
    ports: [8080],
    wakeable: true,
    endpoints: [],
    ...extra,
  });
  const ep = (ports: Record<string, number>): RouteEntry['endpoints'][number] => ({
    replicaId: 'r-1',
    nodeId: 'node-1',
    address: '127.0.0.1',
    ports,
  });
  const token = (extra: Partial<TokenEntry>): TokenEntry => ({
    tokenId: 'tok-1',
    projectId: 'p1',
    role: 'read',
    version: 1,
    ...extra,
  });
  const host = (appId: string): string => `${appId}.${DOMAIN}`;
  const call = (
    via: Ingress,
    appId: string,
    path = '/',
    opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<IngressReply> =>
    viaIngress(`http://127.0.0.1:${via.port}`, host(appId), path, { timeoutMs: 20_000, ...opts });

  /** The held-requests gauge of an app (absent: 0). */
  async function held(via: Ingress, appId: string): Promise<number> {
    const text = await (await fetch(`${via.admin}/metrics`)).text();
    const m = new RegExp(`^gantry_ingress_held_requests\\{app="${appId}"\\} (\\d+)$`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  }
  const heldReaches = (via: Ingress, appId: string, n: number): Promise<true> =>
    waitFor(`${n} held for ${appId}`, async () => (await held(via, appId)) === n || undefined, {
      intervalMs: 20,
    });
  /** What this ingress reported of an app, in the order signals came. */
  const reportsOf = (via: Ingress, appId: string) =>
    signals.flatMap((s) =>
      s.ingressId === via.id
        ? s.apps.filter((a) => a.appId === appId).map((a) => ({ ...a, intervalMs: s.intervalMs }))
        : [],
    );

  async function start(name: string, env: Record<string, string>): Promise<Ingress> {
    const ingressId = `${name}-${ns.namespace}`;
    const config = IngressRouterConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      INGRESS_PORT: '0',
      INGRESS_H2C_PORT: '0',
      GANTRY_APPS_DOMAIN: DOMAIN,
      INGRESS_TRAFFIC_INTERVAL_MS: String(TRAFFIC_INTERVAL_MS),
      INGRESS_ID: ingressId,
      LOG_LEVEL: 'warn',
      ...env,
    });
    const app = await runService({
      name: SERVICE,
      module: IngressRouterModule.forRoot(config),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
    });
    const server = app.get(IngressServer);
    const admin = await app.getUrl();
    await waitFor('readiness', async () => (await fetch(`${admin}/readyz`)).status === 200);
    return { app, id: ingressId, port: server.port(), h2cPort: server.h2cPort() ?? 0, admin };
  }

  beforeAll(async () => {
    ns = await createTestNamespace('activator');
    routes = await ns.bus.kv('routes');
    tokens = await ns.bus.kv('tokens');
    rec = await recorder();
    sub = ns.bus.nc.subscribe(wireSubject(ns.namespace, 'ingress.traffic.v1'), {
      callback: (_err, msg) => {
        signals.push(IngressTrafficSchema.parse(msg.json<unknown>()));
      },
    });
    // In the snapshot the ingresses load before they are ready: known from their first request on.
    for (const appId of [WAKE, WAKE_H2, WAKE_WS, SLOW, LEAVE, GONE, HALTED])
      await routes.put(appId, route(appId, appId === WAKE_H2 ? { grpcPort: 9000, ports: [8080] } : {}));
    await routes.put(SECRET, route(SECRET, { unsecureHttp: false }));
    await routes.put(PLAIN, route(PLAIN, { wakeable: false, endpoints: [ep({ '8080': rec.port })] }));
    await tokens.put(sha256('gantry_other'), token({ tokenId: 'tok-other', projectId: 'p2' }));
    main = await start('main', { INGRESS_HOLD_TIMEOUT_MS: '30000' });
    short = await start('short', {
      INGRESS_HOLD_TIMEOUT_MS: String(SHORT_HOLD_MS),
      INGRESS_HOLD_MAX_PER_APP: '2',
    });
  });

  afterAll(async () => {
    sub?.unsubscribe();
    await main?.app.close();
    await short?.app.close();
    if (rec) {
      rec.server.closeAllConnections();
      await new Promise<void>((r) => rec.server.close(() => r()));
    }
    await ns?.destroy();
  });

  it('holds requests for an app at zero, signals it, then serves them in arrival order, bodies intact', async () => {
    const big = Buffer.alloc(512 * 1024, 'held body, ').toString(); // beyond every socket buffer
    const settled: string[] = [];
    const send = (path: string, opts: { method?: string; body?: string } = {}) => {
      const p = call(main, WAKE, path, opts);
      void p.then(() => settled.push(path)).catch(() => undefined);
      return p;
    };
    const first = send('/1', { method: 'POST', body: big });
    await heldReaches(main, WAKE, 1);
    const second = send('/2');
    await heldReaches(main, WAKE, 2);
    const third = send('/3', { method: 'POST', body: 'third' });
    await heldReaches(main, WAKE, 3);

    // At once on the first held request (no interval), then with every report while they wait.
    await waitFor('a wake signal', () =>
      reportsOf(main, WAKE).some((r) => r.intervalMs === 0 && r.held === 1 && r.requests === 0),
    );
    await waitFor('a report of 3 held', () =>
      reportsOf(main, WAKE).some((r) => r.intervalMs > 0 && r.held === 3),
    );
    expect(settled).toEqual([]);
    expect(rec.arrived.filter((u) => ['/1', '/2', '/3'].includes(u))).toEqual([]);

    await routes.put(WAKE, route(WAKE, { endpoints: [ep({ '8080': rec.port })] }));
    const replies = await Promise.all([first, second, third]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.map((r) => r.headers['x-gantry-replica'])).toEqual(['r-1', 'r-1', 'r-1']);
    expect(rec.arrived.filter((u) => ['/1', '/2', '/3'].includes(u))).toEqual(['/1', '/2', '/3']);
    expect(replies[0]?.json).toEqual({ url: '/1', bytes: big.length, sha256: sha256(big) });
    expect(replies[2]?.json).toEqual({ url: '/3', bytes: 5, sha256: sha256('third') });
    expect(await held(main, WAKE)).toBe(0);
    const metrics = await (await fetch(`${main.admin}/metrics`)).text();
    expect(metrics).toContain(`gantry_ingress_hold_seconds_count{app="${WAKE}",outcome="released"} 3`);
    // All three requests are counted once, held or not.
    await waitFor('3 requests reported', () =>
      reportsOf(main, WAKE).reduce((n, r) => n + r.requests, 0) === 3 ? true : undefined,
    );
    // The app serves now: the next request goes straight through.
    const after = await call(main, WAKE, '/4');
    expect([after.status, after.ms < 2000]).toEqual([200, true]);
  });

  it('answers 503 with Retry-After past the hold timeout, and at once beyond the bound per app', async () => {
    const started = Date.now();
    const one = call(short, SLOW, '/a');
    const two = call(short, SLOW, '/b');
    await heldReaches(short, SLOW, 2);
    const third = await call(short, SLOW, '/c');
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('5');
    expect(third.json).toMatchObject({
      error: 'UNAVAILABLE',
      message: expect.stringContaining('starting from zero replicas and already has 2 requests waiting'),
      details: { cause: 'HOLD_FULL' },
    });
    expect(third.ms).toBeLessThan(SHORT_HOLD_MS);
    for (const r of await Promise.all([one, two])) {
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(r.json).toMatchObject({
        error: 'UNAVAILABLE',
        message: `app ${SLOW} is starting from zero replicas and had no ready replica within 1 s; try again shortly`,
        details: { cause: 'HOLD_TIMEOUT' },
      });
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_HOLD_MS - 50);
    expect(await held(short, SLOW)).toBe(0);
    const metrics = await (await fetch(`${short.admin}/metrics`)).text();
    expect(metrics).toContain(`gantry_ingress_hold_timeouts_total{app="${SLOW}"} 2`);
    expect(metrics).toContain(`gantry_ingress_hold_overflows_total{app="${SLOW}"} 1`);
  });

  it('forgets a client that leaves while held', async () => {
    const req = request({
      host: '127.0.0.1',
      port: main.port,
      path: '/leaving',
      headers: { host: host(LEAVE) },
      agent: false,
    });
    req.on('error', () => undefined);
    req.end();
    await heldReaches(main, LEAVE, 1);
    req.destroy();
    await heldReaches(main, LEAVE, 0);
    const leftAt = Date.now();
    await sleep(TRAFFIC_INTERVAL_MS * 3);
    // Reports sent once the client was gone (a report in flight as it left may still count it).
    const late = signals.filter((s) => Date.parse(s.at) > leftAt + TRAFFIC_INTERVAL_MS);
    expect(late.flatMap((s) => s.apps).filter((a) => a.appId === LEAVE && a.held > 0)).toEqual([]);
    const metrics = await (await fetch(`${main.admin}/metrics`)).text();
    expect(metrics).toContain(`gantry_ingress_hold_seconds_count{app="${LEAVE}",outcome="left"} 1`);
    // Nothing left behind: when the app wakes, no request of the client that left reaches it.
    await routes.put(LEAVE, route(LEAVE, { endpoints: [ep({ '8080': rec.port })] }));
    await waitFor('the woken app', async () => (await call(main, LEAVE, '/after')).status === 200);
    expect(rec.arrived).not.toContain('/leaving');
  });

  it('reports request counts for an app that serves, never held', async () => {
    for (let i = 0; i < 3; i++) expect((await call(main, PLAIN, `/plain-${i}`)).status).toBe(200);
    await waitFor('3 requests of the plain app reported', () =>
      reportsOf(main, PLAIN).reduce((n, r) => n + r.requests, 0) === 3 ? true : undefined,
    );
    const reports = reportsOf(main, PLAIN);
    expect(reports.every((r) => r.held === 0 && r.intervalMs > 0)).toBe(true);
    // Another ingress reports its own traffic only.
    expect(reportsOf(short, PLAIN)).toEqual([]);
  });

  it('refuses an unauthorized request to a restricted app at zero at once, without waking it', async () => {
    const anonymous = await call(main, SECRET);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ error: 'UNAUTHORIZED' });
    const other = await waitFor('the other project’s token', async () => {
      const r = await call(main, SECRET, '/', { headers: { Authorization: 'Bearer gantry_other' } });
      return r.status === 403 ? r : undefined;
    });
    expect(other.json).toMatchObject({ error: 'FORBIDDEN' });
    expect(Math.max(anonymous.ms, other.ms)).toBeLessThan(1000);
    await sleep(TRAFFIC_INTERVAL_MS * 2);
    expect(await held(main, SECRET)).toBe(0);
    expect(reportsOf(main, SECRET)).toEqual([]);
  });

  it('gives held requests the answer of a deleted or stopped app when their route goes', async () => {
    const gone = call(main, GONE, '/g');
    const halted = call(main, HALTED, '/h');
    await heldReaches(main, GONE, 1);
    await heldReaches(main, HALTED, 1);
    await routes.delete(GONE);
    await routes.put(HALTED, route(HALTED, { state: 'STOPPED' }));
    const [g, h] = await Promise.all([gone, halted]);
    expect([g.status, g.json]).toEqual([404, { error: 'NOT_FOUND', message: `app ${GONE} does not exist` }]);
    expect(h.status).toBe(503);
    expect(h.json).toMatchObject({ error: 'UNAVAILABLE', message: `app ${HALTED} is STOPPED` });
    expect(await held(main, GONE)).toBe(0);
  });

  it('holds an h2c (gRPC) call and a WebSocket upgrade the same way', async () => {
    const upstream = createH2Server((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.addTrailers({ 'grpc-status': '0' });
        res.end(Buffer.concat([Buffer.from('echo:'), ...chunks]));
      });
    });
    const sessions = new Set<ServerHttp2Session>();
    upstream.on('session', (s: ServerHttp2Session) => sessions.add(s));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const client = h2connect(`http://127.0.0.1:${main.h2cPort}`);
    client.on('error', () => undefined);
    const ws = connect(main.port, '127.0.0.1');
    ws.on('error', () => undefined);
    try {
      const grpc = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = client.request({
          ':method': 'POST',
          ':path': '/demo.Echo/Say',
          ':authority': `${WAKE_H2}-9000.${DOMAIN}`,
          'content-type': 'application/grpc',
        });
        let status = 0;
        const chunks: Buffer[] = [];
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
        stream.on('error', reject);
        stream.end('ping');
      });
      await heldReaches(main, WAKE_H2, 1);
      let tunnel = '';
      const echoed = new Promise<void>((resolve) =>
        ws.on('data', (c: Buffer) => {
          tunnel += c.toString();
          if (tunnel.includes('\r\n\r\n') && !tunnel.includes('hello')) ws.write('hello');
          if (tunnel.includes('hello')) resolve();
        }),
      );
      ws.write(
        `GET /ws HTTP/1.1\r\nHost: ${host(WAKE_WS)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      );
      await heldReaches(main, WAKE_WS, 1);
      const h2port = (upstream.address() as AddressInfo).port;
      await routes.put(
        WAKE_H2,
        route(WAKE_H2, { grpcPort: 9000, endpoints: [ep({ '8080': rec.port, '9000': h2port })] }),
      );
      await routes.put(WAKE_WS, route(WAKE_WS, { endpoints: [ep({ '8080': rec.port })] }));
      expect(await grpc).toEqual({ status: 200, body: 'echo:ping' });
      await echoed;
      expect(tunnel).toMatch(/^HTTP\/1\.1 101 /);
      expect(await held(main, WAKE_H2)).toBe(0);
      expect(await held(main, WAKE_WS)).toBe(0);
    } finally {
      ws.destroy();
      client.close();
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});
