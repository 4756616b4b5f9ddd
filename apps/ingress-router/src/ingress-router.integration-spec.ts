import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ServerHttp2Session } from 'node:http2';
import { type AddressInfo, connect } from 'node:net';

import { type RouteEntry, type TokenEntry, wireBucket } from '@gantry/contracts';
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
import { Kvm } from '@nats-io/kv';
import type { INestApplication } from '@nestjs/common';

import { IngressRouterModule, SERVICE } from './app.module.js';
import { IngressRouterConfigSchema } from './config.js';
import { IngressServer } from './ingress-server.js';

const DOMAIN = 'apps.test';
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const id = (prefix: string): string => uniqueName(prefix).replaceAll('_', '-').toLowerCase();

type Reply = IngressReply;

/** What a fake replica saw of a request. */
interface Seen {
  replica: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A tiny replica: answers JSON describing the request it got; echoes bytes after a WebSocket-like upgrade. */
async function replica(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = {
        replica: name,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Gantry-Replica', 'spoofed-by-app');
      res.end(JSON.stringify(seen));
    });
  });
  server.on('upgrade', (req, socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Replica: ${name}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('ingress-router on real NATS', () => {
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let routes: TypedKv<'routes'>;
  let tokens: TypedKv<'tokens'>;
  let ingressPort: number;
  let adminUrl: string;
  const replicas: Array<{ server: Server; port: number }> = [];
  let a: { port: number };
  let b: { port: number };
  let dead: number;

  const OPEN = id('open');
  const PAIR = id('pair');
  const FLAKY = id('flaky');
  const DOWN = id('down');
  const SECURE = id('secure');
  const SNAPSHOT = id('snap');

  const route = (appId: string, extra: Partial<RouteEntry> = {}): RouteEntry => ({
    appId,
    projectId: 'p1',
    version: 1,
    updatedAt: new Date().toISOString(),
    state: 'RUNNING',
    unsecureHttp: true,
    labels: {},
    httpPort: 8080,
    ports: [8080, 9000],
    endpoints: [],
    ...extra,
  });
  const ep = (replicaId: string, port8080: number, port9000?: number): RouteEntry['endpoints'][number] => ({
    replicaId,
    nodeId: 'node-1',
    address: '127.0.0.1',
    ports: { '8080': port8080, ...(port9000 ? { '9000': port9000 } : {}) },
  });
  const token = (extra: Partial<TokenEntry> = {}): TokenEntry => ({
    tokenId: 'tok-1',
    projectId: 'p1',
    role: 'read',
    version: 1,
    ...extra,
  });

  /** One HTTP request to the ingress, Host header of our choosing, no connection reuse. */
  const call = (
    host: string,
    path = '/',
    opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> => viaIngress(`http://127.0.0.1:${ingressPort}`, host, path, opts);

  /** Sends raw bytes; resolves with the status and body of the answer (the connection is closed after). */
  function raw(
    bytes: string | Buffer,
    until?: (text: string) => boolean,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(ingressPort, '127.0.0.1');
      let text = '';
      const done = (): void => {
        socket.destroy();
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
      };
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (until?.(text)) done();
      });
      socket.on('end', done);
      socket.on('error', reject);
      socket.setTimeout(5000, done);
      socket.write(bytes);
    });
  }
  const body = (text: string): Record<string, unknown> =>
    JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  const host = (appId: string): string => `${appId}.${DOMAIN}:${ingressPort}`;

  beforeAll(async () => {
    ns = await createTestNamespace('ingress');
    routes = await ns.bus.kv('routes');
    tokens = await ns.bus.kv('tokens');
    for (const name of ['a', 'b']) replicas.push(await replica(name));
    a = replicas[0] as { port: number };
    b = replicas[1] as { port: number };
    dead = await deadPort();
    // Present before the router starts: must come with the initial snapshot.
    await routes.put(SNAPSHOT, route(SNAPSHOT, { endpoints: [ep('r-a', a.port)] }));
    await tokens.put(sha256('gantry_before'), token({ tokenId: 'tok-before' }));
    const config = IngressRouterConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      HTTP_PORT: '0',
      INGRESS_PORT: '0',
      INGRESS_H2C_PORT: '0',
      GANTRY_APPS_DOMAIN: DOMAIN.toUpperCase(),
      INGRESS_UPSTREAM_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'warn',
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

    await routes.put(OPEN, route(OPEN, { endpoints: [ep('r-a', a.port, b.port)] }));
    await routes.put(PAIR, route(PAIR, { endpoints: [ep('r-a', a.port), ep('r-b', b.port)] }));
    await routes.put(FLAKY, route(FLAKY, { endpoints: [ep('r-dead', dead), ep('r-b', b.port)] }));
    await routes.put(DOWN, route(DOWN, { endpoints: [ep('r-dead', dead)] }));
    await routes.put(
      SECURE,
      route(SECURE, { unsecureHttp: false, labels: { team: 'vision' }, endpoints: [ep('r-a', a.port)] }),
    );
    await waitFor('the routes', async () => (await call(host(SECURE))).status === 401);
  });

  afterAll(async () => {
    await app?.close();
    for (const r of replicas) {
      r.server.closeAllConnections();
      await new Promise<void>((res) => r.server.close(() => res()));
    }
    await ns?.destroy();
  });

  it('is ready once the snapshots are in, and serves what was there before it started', async () => {
    const ready = await fetch(`${adminUrl}/readyz`);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { routes: 'ok', tokens: 'ok', nats: 'ok', ingress: 'ok' },
    });
    const r = await call(host(SNAPSHOT));
    expect(r.status).toBe(200);
    expect(r.json['replica']).toBe('a');
    const before = await call(`${SNAPSHOT}.${DOMAIN}`, '/', {}); // open app: no token needed
    expect(before.status).toBe(200);
  });

  it('routes by Host to the app’s HTTP port, naming the replica, with forwarding headers', async () => {
    const r = await call(host(OPEN).toUpperCase(), '/some/path?q=1', {
      headers: { 'X-Forwarded-For': '6.6.6.6', Cookie: 'session=1; gantry_token_x=secret' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-gantry-replica']).toBe('r-a');
    const seen = r.json as unknown as Seen;
    expect(seen).toMatchObject({ replica: 'a', method: 'GET', url: '/some/path?q=1' });
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers.host).toBe(host(OPEN).toUpperCase());
    expect(seen.headers.cookie).toBe('session=1');
  });

  it('routes <appId>-<port> to that container port, and names the open ports when it is closed', async () => {
    const r = await call(`${OPEN}-9000.${DOMAIN}`);
    expect(r.status).toBe(200);
    expect(r.json['replica']).toBe('b');
    const closed = await call(`${OPEN}-1234.${DOMAIN}`);
    expect(closed.status).toBe(404);
    expect(closed.json).toMatchObject({
      error: 'NOT_FOUND',
      message: `app ${OPEN} has no port 1234; open ports: 8080, 9000`,
    });
  });

  it('answers 404 JSON for an unknown app or a host outside the apps domain', async () => {
    for (const h of [`nope.${DOMAIN}`, `nope-8080.${DOMAIN}`, 'example.com', DOMAIN, `a.b.${DOMAIN}`]) {
      const r = await call(h);
      expect([h, r.status, r.json['error']]).toEqual([h, 404, 'NOT_FOUND']);
      expect(typeof r.json['message']).toBe('string');
    }
  });

  it('balances round robin across ready replicas', async () => {
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push(String((await call(host(PAIR))).headers['x-gantry-replica']));
    expect(served.filter((s) => s === 'r-a')).toHaveLength(3);
    expect(served.filter((s) => s === 'r-b')).toHaveLength(3);
    for (let i = 1; i < served.length; i++) expect(served[i]).not.toBe(served[i - 1]);
  });

  it('skips a replica that refuses connections', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await call(host(FLAKY), `/try-${i}`);
      expect([r.status, r.headers['x-gantry-replica']]).toEqual([200, 'r-b']);
    }
    // A request with a body is not sent twice; the refusing replica is now tried last, so it succeeds.
    const post = await call(host(FLAKY), '/post', { method: 'POST', body: 'hello' });
    expect(post.status).toBe(200);
    expect(post.json).toMatchObject({ replica: 'b', body: 'hello' });
  });

  it('answers 502 JSON when no replica can be reached', async () => {
    const r = await call(host(DOWN));
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({
      error: 'UNAVAILABLE',
      details: { replicaId: 'r-dead', cause: 'ECONNREFUSED' },
    });
    expect(r.headers['x-gantry-replica']).toBeUndefined();
  });

  it('answers 503 naming the state of an app that is not running, Retry-After while it starts', async () => {
    const stopped = id('stopped');
    const starting = id('starting');
    await routes.put(stopped, route(stopped, { state: 'STOPPED' }));
    await routes.put(starting, route(starting, { state: 'INITIALIZING' }));
    const s = await waitFor('the stopped app', async () => {
      const r = await call(host(stopped));
      return r.status === 503 ? r : undefined;
    });
    expect(s.json).toEqual({
      error: 'UNAVAILABLE',
      message: `app ${stopped} is STOPPED`,
      details: { state: 'STOPPED' },
    });
    expect(s.headers['retry-after']).toBeUndefined();
    const i = await waitFor('the starting app', async () => {
      const r = await call(host(starting));
      return r.status === 503 ? r : undefined;
    });
    expect(i.json['details']).toEqual({ state: 'INITIALIZING' });
    expect(i.headers['retry-after']).toBe('5');
    // Deleting the key deletes the app.
    await routes.delete(stopped);
    await waitFor('the deleted app', async () => (await call(host(stopped))).status === 404);
  });

  it('lets through only tokens of the app’s project whose selector matches', async () => {
    const grant = async (secret: string, entry: TokenEntry): Promise<void> => {
      await tokens.put(sha256(secret), entry);
    };
    await grant('gantry_good', token({ tokenId: 'good' }));
    await grant('gantry_other', token({ tokenId: 'other', projectId: 'p2' }));
    await grant('gantry_nlp', token({ tokenId: 'nlp', labelSelector: 'team=nlp' }));
    await grant(
      'gantry_vision',
      token({ tokenId: 'vision', role: 'operator', labelSelector: 'team=vision' }),
    );
    await grant('gantry_admin', token({ tokenId: 'admin', projectId: 'p9', role: 'admin' }));
    const as = (secret: string): Promise<Reply> =>
      call(host(SECURE), '/', { headers: { Authorization: `Bearer ${secret}` } });
    await waitFor('the tokens', async () => (await as('gantry_admin')).status === 200);

    const none = await call(host(SECURE));
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json).toMatchObject({ error: 'UNAUTHORIZED' });
    expect((await as('gantry_unknown')).status).toBe(401);
    expect((await as('gantry_other')).json).toMatchObject({ error: 'FORBIDDEN' });
    expect((await as('gantry_other')).status).toBe(403);
    expect((await as('gantry_nlp')).status).toBe(403);
    for (const ok of ['gantry_good', 'gantry_vision', 'gantry_admin', 'gantry_before']) {
      const r = await as(ok);
      expect([ok, r.status]).toEqual([ok, 200]);
      expect((r.json as unknown as Seen).headers.authorization).toBeUndefined();
    }
  });

  it('signs a browser in with a host-only cookie, and out', async () => {
    await tokens.put(sha256('gantry_browser'), token({ tokenId: 'browser' }));
    const html = { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const page = await call(host(SECURE), '/', { headers: html });
    expect(page.status).toBe(401);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('action="/__gantry/login"');

    const form = { ...html, 'Content-Type': 'application/x-www-form-urlencoded' };
    const wrong = await call(host(SECURE), '/__gantry/login', {
      method: 'POST',
      headers: form,
      body: 'token=nope',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const login = await waitFor('the browser token', async () => {
      const r = await call(host(SECURE), '/__gantry/login', {
        method: 'POST',
        headers: form,
        body: 'token=gantry_browser',
      });
      return r.status === 303 ? r : undefined;
    });
    expect(login.headers.location).toBe('/');
    const setCookie = login.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(new RegExp(`^gantry_token_${SECURE}=gantry_browser;`));
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Lax');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).not.toMatch(/domain=/i);

    const cookie = `theme=dark; ${setCookie.split(';')[0]}`;
    const after = await call(host(SECURE), '/', { headers: { ...html, Cookie: cookie } });
    expect(after.status).toBe(200);
    expect((after.json as unknown as Seen).headers.cookie).toBe('theme=dark');
    // The cookie is for this app only.
    const elsewhere = await call(host(SECURE), '/', {
      headers: { Cookie: `gantry_token_${OPEN}=gantry_browser` },
    });
    expect(elsewhere.status).toBe(401);

    const logout = await call(host(SECURE), '/__gantry/logout', { headers: { Cookie: cookie } });
    expect(logout.status).toBe(303);
    expect(logout.headers['set-cookie']?.[0]).toMatch(new RegExp(`^gantry_token_${SECURE}=;.*Max-Age=0`));
  });

  it('stops honouring a token within 2 s of its deletion', async () => {
    const hash = sha256('gantry_revoked');
    await tokens.put(hash, token({ tokenId: 'revoked' }));
    const as = (): Promise<Reply> =>
      call(host(SECURE), '/', { headers: { Authorization: 'Bearer gantry_revoked' } });
    await waitFor('the token', async () => (await as()).status === 200);
    await tokens.delete(hash);
    const deletedAt = Date.now();
    await waitFor('the revocation', async () => (await as()).status === 401, {
      timeoutMs: 2000,
      intervalMs: 20,
    });
    expect(Date.now() - deletedAt).toBeLessThan(2000);
  });

  it('ignores malformed KV values without crashing', async () => {
    const kvm = new Kvm(ns.bus.nc);
    const rawRoutes = await kvm.open(wireBucket(ns.namespace, 'routes'));
    const rawTokens = await kvm.open(wireBucket(ns.namespace, 'tokens'));
    const bad = id('bad');
    await rawRoutes.put(bad, 'not json at all');
    await rawRoutes.put(OPEN, JSON.stringify({ appId: OPEN, state: 'NONSENSE' }));
    await rawTokens.put(sha256('gantry_malformed'), JSON.stringify({ role: 'god' }));
    // Something valid after them, to know they were all delivered.
    const marker = id('marker');
    await routes.put(marker, route(marker, { endpoints: [ep('r-a', a.port)] }));
    await waitFor('the marker', async () => (await call(host(marker))).status === 200);
    expect((await call(host(bad))).status).toBe(404);
    expect((await call(host(OPEN))).status).toBe(200); // the last valid route stays
    const r = await call(host(SECURE), '/', { headers: { Authorization: 'Bearer gantry_malformed' } });
    expect(r.status).toBe(401);
    expect((await fetch(`${adminUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/gantry_ingress_invalid_kv_entries_total\{bucket="routes"\} [2-9]/);
  });

  it('answers hostile Host headers and request lines with 4xx JSON', async () => {
    const cases: Array<[string, string | Buffer]> = [
      ['empty Host', 'GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n'],
      ['no Host', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'],
      ['long Host', `GET / HTTP/1.1\r\nHost: ${'a'.repeat(5000)}.${DOMAIN}\r\nConnection: close\r\n\r\n`],
      ['huge Host', `GET / HTTP/1.1\r\nHost: ${'a'.repeat(100_000)}\r\nConnection: close\r\n\r\n`],
      ['markup', `GET / HTTP/1.1\r\nHost: <script>.${DOMAIN}\r\nConnection: close\r\n\r\n`],
      ['path in Host', `GET / HTTP/1.1\r\nHost: evil.com/../${OPEN}.${DOMAIN}\r\nConnection: close\r\n\r\n`],
      [
        'UTF-8',
        Buffer.from(`GET / HTTP/1.1\r\nHost: é${OPEN}.${DOMAIN}\r\nConnection: close\r\n\r\n`, 'utf8'),
      ],
      ['control bytes', `GET / HTTP/1.1\r\nHost: a\x01\x02.${DOMAIN}\r\nConnection: close\r\n\r\n`],
      ['IPv6 literal', 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n'],
      ['absolute target', `GET http://${OPEN}.${DOMAIN}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      ['garbage', 'HELLO\r\n\r\n'],
    ];
    for (const [what, bytes] of cases) {
      const r = await raw(bytes);
      expect([what, r.status >= 400 && r.status < 500]).toEqual([what, true]);
      expect(body(r.text)).toMatchObject({ error: expect.stringMatching(/^(BAD_REQUEST|NOT_FOUND)$/) });
    }
    expect((await call(host(OPEN))).status).toBe(200); // still serving
  });

  it('proxies WebSocket upgrades under the same rules', async () => {
    const upgrade = (h: string, extra = ''): string =>
      `GET /ws HTTP/1.1\r\nHost: ${h}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${extra}\r\n`;
    const open = await new Promise<string>((resolve, reject) => {
      const socket = connect(ingressPort, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\r\n\r\n') && !text.includes('ping')) socket.write('ping');
        if (text.includes('ping')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.write(upgrade(host(PAIR)));
    });
    expect(open).toMatch(/^HTTP\/1\.1 101 /);
    expect(open).toMatch(/x-replica: [ab]/i);

    const refused = await raw(upgrade(host(SECURE)));
    expect(refused.status).toBe(401);
    expect(body(refused.text)).toMatchObject({ error: 'UNAUTHORIZED' });
    const allowed = await raw(upgrade(host(SECURE), 'Authorization: Bearer gantry_good\r\n'), (t) =>
      t.includes('\r\n\r\n'),
    );
    expect(allowed.status).toBe(101);
    const unknown = await raw(upgrade(`nope.${DOMAIN}`));
    expect(unknown.status).toBe(404);
  });

  it('closes a WebSocket tunnel when the token that opened it is revoked', async () => {
    const hash = sha256('gantry_tunnel');
    await tokens.put(hash, token({ tokenId: 'tunnel' }));
    const as = (): Promise<Reply> =>
      call(host(SECURE), '/', { headers: { Authorization: 'Bearer gantry_tunnel' } });
    await waitFor('the token', async () => (await as()).status === 200);
    const socket = connect(ingressPort, '127.0.0.1');
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    const upgraded = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${host(SECURE)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Authorization: Bearer gantry_tunnel\r\n\r\n',
    );
    await upgraded;
    await sleep(100);
    expect(socket.destroyed).toBe(false);
    await tokens.delete(hash);
    const deletedAt = Date.now();
    const at = await Promise.race([closed, sleep(2000).then(() => Infinity)]);
    expect(at - deletedAt).toBeLessThan(2000);
  });

  it('speaks h2c (gRPC) on its second port: routes by :authority, passes body and trailers, checks tokens', async () => {
    // A gRPC-like replica: HTTP/2 in cleartext, status in trailers.
    const upstream = createH2Server((req, res) => {
      if (req.url === '/demo.Echo/Hold') {
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.write('held'); // and never ends: a server stream
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, {
          'content-type': 'application/grpc',
          'x-saw-authority': String(req.headers[':authority']),
        });
        res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'pong' });
        res.end(Buffer.concat([Buffer.from('echo:'), ...chunks]));
      });
    });
    const sessions = new Set<ServerHttp2Session>();
    upstream.on('session', (session: ServerHttp2Session) => sessions.add(session));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    const GRPC = id('grpc');
    await routes.put(GRPC, route(GRPC, { grpcPort: 9000, endpoints: [ep('r-g', a.port, upstreamPort)] }));
    const h2cPort = app.get(IngressServer).h2cPort() ?? 0;
    const client = h2connect(`http://127.0.0.1:${h2cPort}`);
    client.on('error', () => undefined);
    const call2 = (authority: string, body: string, headers: Record<string, string> = {}) =>
      new Promise<{
        status: number;
        headers: Record<string, unknown>;
        body: string;
        trailers: Record<string, unknown>;
      }>((resolve, reject) => {
        const stream = client.request({
          ':method': 'POST',
          ':path': '/demo.Echo/Say',
          ':authority': authority,
          'content-type': 'application/grpc',
          ...headers,
        });
        let head: Record<string, unknown> = {};
        let trailers: Record<string, unknown> = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => (head = h));
        stream.on('trailers', (t) => (trailers = t));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () =>
          resolve({
            status: Number(head[':status']),
            headers: head,
            body: Buffer.concat(chunks).toString(),
            trailers,
          }),
        );
        stream.on('error', reject);
        stream.end(body);
      });
    try {
      const ok = await waitFor('the h2c route', async () => {
        const r = await call2(`${GRPC}-9000.${DOMAIN}`, 'ping');
        return r.status === 200 ? r : undefined;
      });
      expect(ok.body).toBe('echo:ping');
      expect(ok.trailers).toMatchObject({ 'grpc-status': '0', 'grpc-message': 'pong' });
      expect(ok.headers).toMatchObject({
        'x-gantry-replica': 'r-g',
        'x-saw-authority': `${GRPC}-9000.${DOMAIN}`,
      });
      const locked = await call2(`${SECURE}.${DOMAIN}`, 'ping');
      expect(locked.status).toBe(401);
      expect(JSON.parse(locked.body)).toMatchObject({ error: 'UNAUTHORIZED' });
      const unknown = await call2(`nope.${DOMAIN}`, 'ping');
      expect(unknown.status).toBe(404);
      // A protected gRPC app: a stream opened with a token ends when the token is deleted.
      const HELD = id('held');
      await routes.put(
        HELD,
        route(HELD, { unsecureHttp: false, grpcPort: 9000, endpoints: [ep('r-h', a.port, upstreamPort)] }),
      );
      const hash = sha256('gantry_grpc');
      await tokens.put(hash, token({ tokenId: 'tok-grpc' }));
      const held = await waitFor('a held stream', async () => {
        const stream = client.request({
          ':method': 'POST',
          ':path': '/demo.Echo/Hold',
          ':authority': `${HELD}-9000.${DOMAIN}`,
          'content-type': 'application/grpc',
          authorization: 'Bearer gantry_grpc',
        });
        stream.on('error', () => undefined);
        const status = await new Promise<number>((resolve) => {
          stream.on('response', (h) => resolve(Number(h[':status'])));
          stream.on('close', () => resolve(0));
        });
        if (status === 200) return stream;
        stream.close();
        return undefined;
      });
      const closed = new Promise<number>((resolve) => held.on('close', () => resolve(Date.now())));
      await sleep(100);
      expect(held.closed).toBe(false);
      await tokens.delete(hash);
      const deletedAt = Date.now();
      const at = await Promise.race([closed, sleep(2000).then(() => Infinity)]);
      expect(at - deletedAt).toBeLessThan(2000);
    } finally {
      client.close();
      for (const session of sessions) session.destroy();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it('exports request, latency and route metrics', async () => {
    await sleep(50);
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metrics).toContain(`gantry_ingress_requests_total{app="${PAIR}",status_class="2xx"}`);
    expect(metrics).toContain(`gantry_ingress_requests_total{app="${SECURE}",status_class="4xx"}`);
    expect(metrics).toContain(`gantry_ingress_upstream_seconds_count{app="${PAIR}"}`);
    expect(metrics).toMatch(/gantry_ingress_routes \d+/);
    expect(metrics).not.toContain('app="nope');
  });
});
