import {
  Agent,
  type ClientRequest,
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  type ClientHttp2Session,
  connect as h2connect,
  constants as h2,
  createServer as createH2Server,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders as H2Headers,
  type ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { PassThrough, Readable } from 'node:stream';

import { type ErrorBody, type RouteEntry, tokenKey } from '@gantry/contracts';
import { answerClientError, Readiness, writeRawJson } from '@gantry/runtime';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import httpProxy from 'http-proxy';

import { Activator } from './activator.js';
import { ingressMetrics, statusClass } from './metrics.js';
import { type AccessDecision, decideAccess } from './model/access.js';
import {
  afterAttempt,
  type EndpointHealth,
  mayRetry,
  serving,
  tryOrder,
  type Upstream,
  upstreamKey,
} from './model/balancer.js';
import { credentialOf, loginCookie, logoutCookie, wantsHtml } from './model/credentials.js';
import { cleanResponseHeaders, upstreamRequestHeaders } from './model/headers.js';
import { parseHost, resolveTarget } from './model/host.js';
import { LOGIN_PATH, loginPage, LOGOUT_PATH, tokenFromForm } from './model/login-page.js';
import { RouteTable } from './route-table.js';
import { TrafficReporter } from './traffic.js';

export const INGRESS_OPTIONS = Symbol('INGRESS_OPTIONS');

/** Where the ingress listens and how it treats replicas. */
export interface IngressOptions {
  host: string;
  /** 0 picks a free port (see `port()`). */
  port: number;
  /** Apps answer at `<appId>.<domain>` and `<appId>-<port>.<domain>` (lower case). */
  domain: string;
  /** Longest silence on a replica's connection (either way), headers or body, before giving up. */
  upstreamTimeoutMs: number;
  /** Longest wait for a connection to a replica. */
  connectTimeoutMs: number;
  /** Longest wait for a replica's response headers once the request is sent (not for its body). */
  responseHeaderTimeoutMs: number;
  /** Most replicas one HTTP/1.1 request is tried on. */
  maxAttempts: number;
  /** Failed attempts in a row that eject a replica. */
  ejectAfterFailures: number;
  /** How long an ejected replica is tried only when nothing else is left. */
  ejectMs: number;
  /**
   * A second listener for HTTP/2 in cleartext with prior knowledge (h2c), as gRPC clients speak it
   * (`grpcurl -plaintext`); same hosts, routing and access control. 0 picks a free port; absent: none.
   */
  h2cPort?: number;
}

type ProxyServer = httpProxy<IncomingMessage, ServerResponse>;

/** What a revoked token closes: a tunnel's socket, or an HTTP/2 call. */
interface Closable {
  once(event: 'close', listener: () => void): unknown;
  destroy(): void;
}

/** One request (or upgrade) on its way to a replica. */
interface Flight {
  appId: string;
  attempt: number;
  upstream?: Upstream;
  startedAt: number;
  timedOut: boolean;
  upgraded: boolean;
  /** Called with the current attempt's request to the replica once it has a socket. */
  onProxyReq?: (proxyReq: ClientRequest) => void;
}

/** A flight's first attempt; with its replica already chosen, it is under way from now. */
function newFlight(appId: string, upstream?: Upstream): Flight {
  return {
    appId,
    attempt: 0,
    ...(upstream ? { upstream } : {}),
    startedAt: upstream ? performance.now() : 0,
    timedOut: false,
    upgraded: false,
  };
}

/** Our codes for an attempt that ran out of time: connecting, waiting for headers, silent connection. */
const CONNECT_TIMEOUT = 'CONNECT_TIMEOUT';
const RESPONSE_TIMEOUT = 'RESPONSE_TIMEOUT';
const IDLE_TIMEOUT = 'TIMEOUT';
const TIMEOUTS = new Set([CONNECT_TIMEOUT, RESPONSE_TIMEOUT, IDLE_TIMEOUT]);
/**
 * Failures of the replica (or of the way to it) before it answered: they count against its health
 * and may send the request to another replica (when `mayRetry` allows).
 */
const RETRYABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  ...TIMEOUTS,
]);
/** Failures that say the endpoint itself is down (WebSocket and h2c, which are not retried). */
const DOWN = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Health of endpoints not heard of for this long is forgotten (they left the routes, most likely). */
const HEALTH_MEMORY_MS = 10 * 60_000;
const LOGIN_BODY_LIMIT = 8 * 1024;
/** Most bytes kept of what a client sends over an upgrade held for its app to wake. */
const EARLY_TUNNEL_BYTES = 64 * 1024;
/** Metrics label for requests that named no existing app. */
const NO_APP = '-';

/** Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2), never forwarded either way. */
const H2_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/** A reply of the ingress itself (not of a replica). */
interface Reply {
  status: number;
  body: ErrorBody;
  headers?: OutgoingHttpHeaders;
}

/**
 * The ingress: a plain HTTP server that routes `<appId>[-<port>].<domain>` to ready replicas through
 * one http-proxy instance (keep-alive agent), after checking the app's access rules. Answers of its
 * own are JSON `{error, message, details?}` (or the login page for browsers); nothing a client sends
 * makes it fail.
 */
@Injectable()
export class IngressServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(IngressServer.name);
  private readonly agent = new Agent({
    keepAlive: true,
    maxSockets: 1024,
    maxFreeSockets: 64,
    timeout: 60_000,
  });
  private readonly proxy: ProxyServer;
  private server?: Server;
  private h2server?: Http2Server;
  private readonly h2sessions = new Map<string, ClientHttp2Session>();
  /** Callers' HTTP/2 connections, ended at shutdown (a gRPC stream may never end on its own). */
  private readonly h2clients = new Set<ServerHttp2Session>();
  private listening = false;
  private readonly turns = new Map<string, number>();
  /** Passive health of endpoints that failed lately (key: `upstreamKey`). */
  private readonly health = new Map<string, EndpointHealth>();
  private readonly flights = new WeakMap<IncomingMessage, Flight>();
  /** Upgraded connections by the hash of the token that opened them: closed when it is revoked. */
  private readonly tunnels = new Map<string, Set<Closable>>();
  /** Every upgraded connection: the HTTP server no longer tracks them, shutdown must close them. */
  private readonly upgrades = new Set<Duplex>();

  constructor(
    private readonly table: RouteTable,
    private readonly readiness: Readiness,
    private readonly activator: Activator,
    private readonly traffic: TrafficReporter,
    @Inject(INGRESS_OPTIONS) private readonly opts: IngressOptions,
  ) {
    this.proxy = httpProxy.createProxyServer<IncomingMessage, ServerResponse>({
      xfwd: true,
      ws: true,
      agent: this.agent,
      proxyTimeout: opts.upstreamTimeoutMs,
    });
    this.proxy.on('proxyReq', (proxyReq, req) => {
      const flight = this.flights.get(req);
      if (!flight) return;
      const attempt = flight.attempt;
      proxyReq.once('timeout', () => {
        if (flight.attempt === attempt) flight.timedOut = true;
      });
      flight.onProxyReq?.(proxyReq);
    });
    this.proxy.on('proxyReqWs', (proxyReq, req, socket) => {
      const flight = this.flights.get(req);
      if (!flight) return;
      proxyReq.once('upgrade', (_res: IncomingMessage, upstream: Duplex) => {
        flight.upgraded = true;
        if (flight.upstream) this.attempted(flight.appId, flight.upstream, true);
        // A tunnel lives and dies as one: closing either side (revocation, shutdown) closes the other.
        socket.once('close', () => upstream.destroy());
        upstream.once('close', () => socket.destroy());
        this.observeUpstream(flight);
        ingressMetrics.requests.inc({ app: flight.appId, status_class: '1xx' });
      });
      proxyReq.once('response', (res: IncomingMessage) => {
        if (res.statusCode === 101) return;
        if (flight.upstream) this.attempted(flight.appId, flight.upstream, true);
        this.observeUpstream(flight);
        ingressMetrics.requests.inc({ app: flight.appId, status_class: statusClass(res.statusCode ?? 502) });
      });
    });
    this.proxy.on('proxyRes', (proxyRes, req, res) => {
      cleanResponseHeaders(proxyRes.headers);
      const flight = this.flights.get(req);
      if (!flight?.upstream) return;
      this.attempted(flight.appId, flight.upstream, true);
      this.observeUpstream(flight);
      if (!res.headersSent) res.setHeader('X-Gantry-Replica', flight.upstream.replicaId);
    });
    // Without a callback, http-proxy reports here; never let an error escape as an exception.
    this.proxy.on('error', (err) => this.log.warn(`proxy error: ${err.message}`));
    this.proxy.on('econnreset', () => undefined);
    this.table.onRevoked((hash) => this.closeTunnels(hash));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.readiness.register('ingress', () => this.listening || 'the ingress port is not listening yet');
    // requireHostHeader off: a request without Host gets our JSON 400, not Node's bare one.
    const server = createServer({ keepAliveTimeout: 65_000, requireHostHeader: false });
    server.on('request', (req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    server.on('clientError', answerClientError);
    await this.listen(server, this.opts.port, 'ingress');
    this.server = server;
    if (this.opts.h2cPort !== undefined) {
      const h2server = createH2Server();
      h2server.on('request', (req, res) => this.onH2Request(req, res));
      h2server.on('sessionError', () => undefined);
      h2server.on('session', (session: ServerHttp2Session) => {
        this.h2clients.add(session);
        session.once('close', () => this.h2clients.delete(session));
      });
      await this.listen(h2server, this.opts.h2cPort, 'h2c');
      this.h2server = h2server;
      this.log.log(`ingress listening for h2c (gRPC) on ${this.opts.host}:${this.h2cPort()}`);
    }
    this.listening = true;
    this.log.log(`ingress listening on http://${this.opts.host}:${this.port()} for *.${this.opts.domain}`);
  }

  /** Listens, failing on a first error (the port is taken) and only logging later ones. */
  private listen(server: Server | Http2Server, port: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error(`${what} server error: ${err.message}`));
        resolve();
      });
    });
  }

  /** Counts a request by app and outcome once its response is done. */
  private countOnClose(res: ServerResponse | Http2ServerResponse, app: () => string): void {
    res.once('close', () =>
      ingressMetrics.requests.inc({
        app: app(),
        status_class: res.writableFinished ? statusClass(res.statusCode) : 'aborted',
      }),
    );
  }

  /**
   * After routing, shared by requests, upgrades and HTTP/2 calls: the access decision, then the
   * replicas that may take it — or why not.
   */
  private pass(
    req: IncomingMessage,
    route: RouteEntry,
    containerPort: number,
  ):
    | { denied: Exclude<AccessDecision, { allow: true }>; viaCookie: boolean }
    | { reply: Reply }
    | { access: ReturnType<IngressServer['access']>; upstreams: Upstream[] } {
    const access = this.access(req, route);
    if (!access.decision.allow) return { denied: access.decision, viaCookie: access.viaCookie };
    const where = serving(route, containerPort);
    if (!where.ok) return { reply: unavailable(where) };
    return { access, upstreams: where.upstreams };
  }

  /** The h2c port (useful when configured with 0); undefined without that listener. */
  h2cPort(): number | undefined {
    return (this.h2server?.address() as AddressInfo | null)?.port ?? this.opts.h2cPort;
  }

  /**
   * An HTTP/2 request (h2c): admitted like any other, then sent over one HTTP/2 connection per
   * replica, headers, body and trailers (gRPC's status travels in trailers) both ways. No retry: a
   * gRPC call is not known to be idempotent.
   */
  private onH2Request(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const label = { app: NO_APP };
    this.countOnClose(res, () => label.app);
    this.handleH2(req, res, label);
  }

  /** Routes an HTTP/2 call and sends it on; like `handle`, a held one comes back `released`. */
  private handleH2(
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    label: { app: string },
    released?: () => void,
  ): void {
    const h2reply = (reply: Reply): void => {
      if (res.headersSent) {
        res.stream.close(h2.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      const text = JSON.stringify(reply.body);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(reply.headers ?? {})) headers[k.toLowerCase()] = String(v);
      res.writeHead(reply.status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      res.end(text);
    };
    try {
      const authority = header(req.headers[':authority']) ?? header(req.headers.host);
      const asHttp1 = { url: req.url, method: req.method, headers: { ...req.headers, host: authority } };
      const routed = this.admit(asHttp1 as unknown as IncomingMessage);
      if ('reply' in routed) {
        if (routed.app) label.app = routed.app;
        h2reply(routed.reply);
        return;
      }
      const { route, containerPort } = routed;
      const app = route.appId;
      label.app = app;
      const passed = this.pass(asHttp1 as unknown as IncomingMessage, route, containerPort);
      if ('denied' in passed) return h2reply(deniedReply(passed.denied));
      if (!released) {
        this.traffic.count(app);
        if (this.activator.mustHold(route, containerPort))
          return this.activator.hold(route, containerPort, {
            release: (sent) => {
              res.once('close', sent);
              this.handleH2(req, res, label, sent);
            },
            refuse: h2reply,
            onClose: (listener) => res.once('close', listener),
          });
      }
      if ('reply' in passed) return h2reply(passed.reply);
      const { access } = passed;
      const upstream = this.order(route.appId, passed.upstreams)[0] as Upstream;
      const forwarded: H2Headers = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k.startsWith(':') || H2_HOP.has(k)) continue;
        if (k === 'authorization' && access.stripAuthorization) continue;
        forwarded[k] = v;
      }
      const flight = newFlight(app, upstream);
      const up = this.h2session(upstream).request({
        ...forwarded,
        ':method': req.method,
        ':path': req.url,
        ':authority': authority ?? `${upstream.address}:${upstream.port}`,
        ':scheme': 'http',
      });
      up.setTimeout(this.opts.upstreamTimeoutMs, () => up.close(h2.NGHTTP2_CANCEL));
      up.on('response', (headers) => {
        this.attempted(app, upstream, true);
        this.observeUpstream(flight);
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(headers))
          if (!k.startsWith(':') && !H2_HOP.has(k) && v !== undefined) out[k] = v;
        out['x-gantry-replica'] = upstream.replicaId;
        res.writeHead(Number(headers[':status'] ?? 502), out);
      });
      up.on('trailers', (trailers) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(trailers))
          if (!k.startsWith(':') && (typeof v === 'string' || Array.isArray(v))) out[k] = v;
        res.addTrailers(out);
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'EUNKNOWN';
        ingressMetrics.upstreamErrors.inc({ app, code });
        if (DOWN.has(code)) this.attempted(app, upstream, false);
        h2reply(badGateway(route.appId, upstream, code));
      });
      up.pipe(res);
      req.pipe(up);
      // Calls go to a replica over one connection: in the order they are opened.
      released?.();
      // A call open on a token (a gRPC stream may last) ends, both ways, when the token is deleted.
      if (access.tokenHash)
        this.track(access.tokenHash, {
          once: (_event, listener) => res.stream.once('close', listener),
          destroy: () => {
            up.close(h2.NGHTTP2_CANCEL);
            res.stream.close(h2.NGHTTP2_CANCEL);
          },
        });
      res.once('close', () => {
        if (!up.closed) up.close(h2.NGHTTP2_CANCEL);
      });
    } catch (error) {
      this.log.error(`h2c request failed: ${describe(error)}`);
      h2reply({ status: 500, body: { error: 'INTERNAL', message: 'an internal error occurred' } });
    }
  }

  /** One HTTP/2 connection per replica, opened on first use and forgotten when it ends. */
  private h2session(u: Upstream): ClientHttp2Session {
    const key = upstreamKey(u);
    const open = this.h2sessions.get(key);
    if (open && !open.closed && !open.destroyed) return open;
    const session = h2connect(`http://${u.address}:${u.port}`);
    session.on('error', () => undefined); // each stream reports its own failure
    const forget = () => {
      if (this.h2sessions.get(key) === session) this.h2sessions.delete(key);
    };
    session.once('close', forget);
    session.once('goaway', forget);
    session.unref();
    this.h2sessions.set(key, session);
    return session;
  }

  async onApplicationShutdown(): Promise<void> {
    this.listening = false;
    this.activator.close(); // held requests would keep the server from closing
    const server = this.server;
    this.server = undefined;
    for (const s of this.upgrades) s.destroy();
    this.upgrades.clear();
    this.tunnels.clear();
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), 5_000);
      timer.unref();
      await closed;
      clearTimeout(timer);
    }
    const h2server = this.h2server;
    this.h2server = undefined;
    for (const session of [...this.h2sessions.values(), ...this.h2clients]) session.destroy();
    this.h2sessions.clear();
    this.h2clients.clear();
    if (h2server) await new Promise<void>((resolve) => h2server.close(() => resolve()));
    this.proxy.close();
    this.agent.destroy();
  }

  /** The port the ingress listens on (useful when configured with 0). */
  port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const label = { app: NO_APP };
    this.countOnClose(res, () => label.app);
    this.handle(req, res, label);
  }

  /**
   * Routes a request and sends it on. A request held for its app to wake comes back here once
   * released (`released`: to call once it is on its way to a replica), routed and checked again
   * (its route or token may have changed meanwhile); it is counted and held only the first time.
   */
  private handle(
    req: IncomingMessage,
    res: ServerResponse,
    label: { app: string },
    released?: () => void,
  ): void {
    try {
      const routed = this.admit(req);
      if ('reply' in routed) {
        if (routed.app) label.app = routed.app;
        this.reply(res, routed.reply);
        return;
      }
      const { route, containerPort } = routed;
      label.app = route.appId;
      const path = (req.url ?? '/').split('?')[0];
      if (!route.unsecureHttp && (path === LOGIN_PATH || path === LOGOUT_PATH)) {
        if (path === LOGIN_PATH) this.login(req, res, route);
        else this.logout(req, res, route);
        return;
      }
      const passed = this.pass(req, route, containerPort);
      if ('denied' in passed) return this.refuse(req, res, route, passed.denied, passed.viaCookie);
      if (!released) {
        this.traffic.count(route.appId);
        if (this.activator.mustHold(route, containerPort))
          return this.activator.hold(route, containerPort, {
            release: (sent) => {
              res.once('close', sent);
              this.handle(req, res, label, sent);
            },
            refuse: (reply) => this.reply(res, reply),
            onClose: (listener) => res.once('close', listener),
          });
      }
      if ('reply' in passed) return this.reply(res, passed.reply);
      req.headers = upstreamRequestHeaders(req.headers, {
        stripAuthorization: passed.access.stripAuthorization,
        upgrade: false,
      });
      this.forward(req, res, route.appId, passed.upstreams, released);
    } catch (error) {
      this.log.error(`request to ${String(req.headers.host).slice(0, 100)} failed: ${describe(error)}`);
      if (!res.headersSent)
        this.reply(res, { status: 500, body: { error: 'INTERNAL', message: 'an internal error occurred' } });
      else res.destroy();
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    this.upgrades.add(socket);
    socket.once('close', () => this.upgrades.delete(socket));
    this.handleUpgrade(req, socket, head);
  }

  /** Routes an upgrade and sends it on; like `handle`, a held one comes back `released`. */
  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, released?: () => void): void {
    let app = NO_APP;
    try {
      const routed = this.admit(req);
      if ('reply' in routed) {
        if (routed.app) app = routed.app;
        this.rejectUpgrade(socket, app, routed.reply);
        return;
      }
      const { route, containerPort } = routed;
      app = route.appId;
      const passed = this.pass(req, route, containerPort);
      if ('denied' in passed) return this.rejectUpgrade(socket, app, deniedReply(passed.denied));
      if (!released) {
        this.traffic.count(app);
        if (this.activator.mustHold(route, containerPort))
          return this.holdUpgrade(req, socket, head, route, containerPort);
      }
      if ('reply' in passed) return this.rejectUpgrade(socket, app, passed.reply);
      const { access, upstreams } = passed;
      req.headers = upstreamRequestHeaders(req.headers, {
        stripAuthorization: access.stripAuthorization,
        upgrade: true,
      });
      if (access.tokenHash) this.track(access.tokenHash, socket);
      const upstream = this.order(route.appId, upstreams)[0] as Upstream;
      const flight = newFlight(app, upstream);
      this.flights.set(req, flight);
      this.proxy.ws(req, socket, head, { target: target(upstream), ssl: lenient() }, (err) => {
        const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
        if (flight.upgraded) return; // the tunnel broke after the switch: http-proxy ends the socket
        ingressMetrics.upstreamErrors.inc({ app, code });
        if (DOWN.has(code)) this.attempted(app, upstream, false);
        this.rejectUpgrade(socket, app, badGateway(route.appId, upstream, code));
      });
      // Tunnels are dialled in arrival order; which one the replica accepts first is up to it.
      released?.();
    } catch (error) {
      this.log.error(`upgrade to ${String(req.headers.host).slice(0, 100)} failed: ${describe(error)}`);
      this.rejectUpgrade(socket, app, {
        status: 500,
        body: { error: 'INTERNAL', message: 'an internal error occurred' },
      });
    }
  }

  /**
   * Holds an upgrade while its app wakes. What the client sends before its answer (it should send
   * nothing) is kept, up to a bound, and goes to the replica first; reading on lets a client that
   * leaves be noticed (a half-closed connection is given up).
   */
  private holdUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    route: RouteEntry,
    containerPort: number,
  ): void {
    const early: Buffer[] = [head];
    let size = head.length;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > EARLY_TUNNEL_BYTES) socket.destroy();
      else early.push(chunk);
    };
    const onEnd = (): void => void socket.destroy();
    socket.on('data', onData);
    socket.once('end', onEnd);
    this.activator.hold(route, containerPort, {
      release: (sent) => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.pause();
        socket.once('close', sent);
        this.handleUpgrade(req, socket, Buffer.concat(early), sent);
      },
      refuse: (reply) => this.rejectUpgrade(socket, route.appId, reply),
      onClose: (listener) => socket.once('close', listener),
    });
  }

  /** Routing shared by requests and upgrades: which app and port, or the reply saying why none. */
  private admit(
    req: IncomingMessage,
  ): { route: RouteEntry; containerPort: number } | { reply: Reply; app?: string } {
    const url = req.url ?? '';
    if (!url.startsWith('/'))
      return {
        reply: { status: 400, body: { error: 'BAD_REQUEST', message: 'the request target must be a path' } },
      };
    if (!this.table.loaded)
      return {
        reply: {
          status: 503,
          body: { error: 'UNAVAILABLE', message: 'the ingress is still loading its routes' },
          headers: { 'Retry-After': '1' },
        },
      };
    const host = parseHost(header(req.headers.host), this.opts.domain);
    if (!host.ok)
      return {
        reply: {
          status: host.status,
          body: { error: host.status === 400 ? 'BAD_REQUEST' : 'NOT_FOUND', message: host.message },
        },
      };
    const target = resolveTarget(host.label, (id) => this.table.route(id));
    if (!target.ok)
      return {
        reply: {
          status: 404,
          body: {
            error: 'NOT_FOUND',
            message: target.message,
            ...(target.details ? { details: target.details } : {}),
          },
        },
        ...(target.details ? { app: String(target.details['appId']) } : {}),
      };
    return { route: target.route, containerPort: target.containerPort };
  }

  /** The access decision for a request, and what to strip before forwarding it. */
  private access(
    req: IncomingMessage,
    route: RouteEntry,
  ): { decision: AccessDecision; viaCookie: boolean; stripAuthorization: boolean; tokenHash?: string } {
    const credential = credentialOf(
      { authorization: header(req.headers.authorization), cookie: header(req.headers.cookie) },
      route.appId,
    );
    const tokenHash = credential ? tokenKey(credential.secret) : undefined;
    const token = tokenHash ? this.table.token(tokenHash) : undefined;
    const decision = decideAccess(route, credential, token);
    return {
      decision,
      viaCookie: credential?.source === 'cookie',
      // A protected app's Authorization is ours; on an open app, only a Gantry token is withheld.
      stripAuthorization: !route.unsecureHttp || (credential?.source === 'bearer' && token !== undefined),
      ...(tokenHash && token && !route.unsecureHttp ? { tokenHash } : {}),
    };
  }

  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    route: RouteEntry,
    decision: Exclude<AccessDecision, { allow: true }>,
    viaCookie: boolean,
  ): void {
    const headers: OutgoingHttpHeaders = {};
    if (decision.status === 401) headers['WWW-Authenticate'] = 'Bearer';
    // A session cookie that no longer works is dropped, so that the browser asks again.
    if (viaCookie && decision.status === 401) headers['Set-Cookie'] = logoutCookie(route.appId);
    if (wantsHtml(req.method ?? '', header(req.headers.accept))) {
      const problem = viaCookie || header(req.headers.authorization) ? decision.message : undefined;
      this.html(res, decision.status, loginPage(route.appId, problem), headers);
      return;
    }
    this.reply(res, {
      status: decision.status,
      body: { error: decision.code, message: decision.message },
      headers,
    });
  }

  /** `/__gantry/login`: GET shows the form; POST checks the token and stores it in a host-only cookie. */
  private login(req: IncomingMessage, res: ServerResponse, route: RouteEntry): void {
    const method = req.method ?? '';
    if (method === 'GET' || method === 'HEAD') {
      this.html(res, 200, loginPage(route.appId));
      return;
    }
    if (method !== 'POST') {
      this.reply(res, {
        status: 405,
        body: { error: 'METHOD_NOT_ALLOWED', message: `${LOGIN_PATH} accepts GET and POST` },
        headers: { Allow: 'GET, HEAD, POST' },
      });
      return;
    }
    const html = (header(req.headers.accept) ?? '').includes('text/html');
    const declared = Number(header(req.headers['content-length']) ?? '0');
    if (Number.isFinite(declared) && declared > LOGIN_BODY_LIMIT) {
      this.reply(res, {
        status: 413,
        body: { error: 'PAYLOAD_TOO_LARGE', message: 'the login form is too large' },
        headers: { Connection: 'close' },
      });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > LOGIN_BODY_LIMIT) {
        done = true;
        this.reply(res, {
          status: 413,
          body: { error: 'PAYLOAD_TOO_LARGE', message: 'the login form is too large' },
          headers: { Connection: 'close' },
        });
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (done) return;
      done = true;
      const secret = tokenFromForm(
        Buffer.concat(chunks).toString('utf8'),
        header(req.headers['content-type']),
      );
      if (secret === undefined) {
        const message = 'send the token as the form field "token"';
        if (html) this.html(res, 400, loginPage(route.appId, message));
        else this.reply(res, { status: 400, body: { error: 'BAD_REQUEST', message } });
        return;
      }
      const decision = decideAccess(
        { ...route, unsecureHttp: false },
        { source: 'bearer', secret },
        this.table.token(tokenKey(secret)),
      );
      if (!decision.allow) {
        if (html) this.html(res, decision.status, loginPage(route.appId, decision.message));
        else
          this.reply(res, {
            status: decision.status,
            body: { error: decision.code, message: decision.message },
          });
        return;
      }
      res.writeHead(303, {
        Location: '/',
        'Set-Cookie': loginCookie(route.appId, secret),
        'Cache-Control': 'no-store',
        'Content-Length': '0',
      });
      res.end();
    });
  }

  /** `/__gantry/logout`: forgets the app's token cookie. */
  private logout(req: IncomingMessage, res: ServerResponse, route: RouteEntry): void {
    req.resume();
    res.writeHead(303, {
      Location: '/',
      'Set-Cookie': logoutCookie(route.appId),
      'Cache-Control': 'no-store',
      'Content-Length': '0',
    });
    res.end();
  }

  /**
   * Proxies to the app's replicas in round-robin order, ejected ones last. Each attempt has its own
   * deadlines: to connect, then (once the request is sent) to get response headers; a body after
   * the headers is bound only by the connection's silence (`upstreamTimeoutMs`). A failed attempt
   * goes to the next replica when `mayRetry` allows: whatever the method while nothing was sent (a
   * request body is read only once connected), else only for an idempotent request without a body.
   */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    appId: string,
    upstreams: Upstream[],
    /** Called when an attempt reaches a replica (its request headers are on their way). */
    sent?: () => void,
  ): void {
    const order = this.order(appId, upstreams);
    const method = req.method ?? 'GET';
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
    // Nothing to read: let the request end, each attempt sends an empty body of its own.
    if (!hasBody) req.resume();
    const maxAttempts = Math.min(order.length, this.opts.maxAttempts);
    const flight = newFlight(appId);
    this.flights.set(req, flight);
    const attempt = (i: number): void => {
      const upstream = order[i] as Upstream;
      flight.attempt = i;
      flight.upstream = upstream;
      flight.startedAt = performance.now();
      flight.timedOut = false;
      const state: { sent: boolean; failure?: string } = { sent: false };
      // The body reaches the replica through a stream of this attempt's own, opened once connected.
      const pipe = hasBody ? new PassThrough() : undefined;
      const body = pipe ?? Readable.from([]);
      flight.onProxyReq = (proxyReq) =>
        this.watchAttempt(proxyReq, state, () => {
          if (pipe) req.pipe(pipe);
          sent?.();
        });
      this.proxy.web(req, res, { target: target(upstream), buffer: body, ssl: lenient() }, (err) => {
        if (flight.attempt !== i) return; // a late report about an attempt already given up
        flight.onProxyReq = undefined;
        const code =
          state.failure ??
          (flight.timedOut ? IDLE_TIMEOUT : ((err as NodeJS.ErrnoException).code ?? 'EUNKNOWN'));
        ingressMetrics.upstreamErrors.inc({ app: appId, code });
        if (RETRYABLE.has(code)) this.attempted(appId, upstream, false);
        if (pipe) req.unpipe(pipe);
        if (res.headersSent || res.destroyed) {
          res.destroy();
          return;
        }
        const again = mayRetry({
          method,
          hasBody,
          sent: state.sent,
          answered: false,
          attempts: i + 1,
          maxAttempts,
        });
        if (again && RETRYABLE.has(code) && !req.socket.destroyed) {
          this.log.debug(`replica ${upstream.replicaId} of ${appId} failed (${code}); trying another`);
          attempt(i + 1);
          return;
        }
        if (TIMEOUTS.has(code)) this.reply(res, this.timedOut(appId, upstream, code));
        else this.reply(res, badGateway(appId, upstream, code));
      });
    };
    attempt(0);
  }

  /**
   * Arms one attempt's deadlines on its request to the replica: `connectTimeoutMs` while the
   * connection is being made (a pooled one is already made), then `responseHeaderTimeoutMs` from
   * the moment the request is fully written until response headers arrive. Calls `connected` when
   * the connection is made (the request body may flow from then on), and marks the attempt `sent`.
   */
  private watchAttempt(
    proxyReq: ClientRequest,
    state: { sent: boolean; failure?: string },
    connected: () => void,
  ): void {
    let timer: NodeJS.Timeout | undefined;
    let over = false; // answered or closed: no deadline any more
    const arm = (ms: number, code: string, what: string): void => {
      clearTimeout(timer);
      if (over) return;
      timer = setTimeout(() => {
        state.failure = code;
        proxyReq.destroy(Object.assign(new Error(`${what} within ${ms} ms`), { code }));
      }, ms);
    };
    const disarm = (): void => {
      over = true;
      clearTimeout(timer);
    };
    const onConnect = (): void => {
      clearTimeout(timer);
      state.sent = true;
      connected();
    };
    const socket = proxyReq.socket;
    if (socket?.connecting) {
      arm(this.opts.connectTimeoutMs, CONNECT_TIMEOUT, 'no connection');
      socket.once('connect', onConnect);
      proxyReq.once('close', () => socket.off('connect', onConnect));
    } else onConnect();
    proxyReq.once('finish', () =>
      arm(this.opts.responseHeaderTimeoutMs, RESPONSE_TIMEOUT, 'no response headers'),
    );
    proxyReq.once('response', disarm);
    proxyReq.once('close', disarm);
  }

  private timedOut(appId: string, upstream: Upstream, code: string): Reply {
    const what =
      code === CONNECT_TIMEOUT
        ? `could not be connected to within ${this.opts.connectTimeoutMs} ms`
        : code === RESPONSE_TIMEOUT
          ? `did not answer within ${this.opts.responseHeaderTimeoutMs} ms`
          : `was silent for ${this.opts.upstreamTimeoutMs} ms`;
    return {
      status: 504,
      body: {
        error: 'TIMEOUT',
        message: `replica ${upstream.replicaId} of app ${appId} ${what}`,
        details: { replicaId: upstream.replicaId, cause: code },
      },
    };
  }

  private order(appId: string, upstreams: Upstream[]): Upstream[] {
    const turn = this.turns.get(appId) ?? 0;
    this.turns.set(appId, (turn + 1) % 1_000_000_007);
    const now = Date.now();
    for (const [key, h] of this.health)
      if (h.ejectedUntil <= now && now - h.lastFailureAt > HEALTH_MEMORY_MS) this.health.delete(key);
    return tryOrder(upstreams, turn, this.health, now);
  }

  /** Records how an attempt on a replica went (passive health): answered, or failed. */
  private attempted(appId: string, upstream: Upstream, ok: boolean): void {
    const key = upstreamKey(upstream);
    const prev = this.health.get(key);
    if (ok && !prev) return;
    const next = afterAttempt(prev, ok, Date.now(), {
      afterFailures: this.opts.ejectAfterFailures,
      ejectMs: this.opts.ejectMs,
    });
    if (next.health) this.health.set(key, next.health);
    else this.health.delete(key);
    if (next.ejected) {
      ingressMetrics.ejections.inc({ app: appId });
      this.log.warn(
        `replica ${upstream.replicaId} of ${appId} (${key}) failed ${next.health?.failures ?? 0} times in a row: ` +
          `ejected for ${this.opts.ejectMs} ms`,
      );
    }
  }

  private observeUpstream(flight: Flight): void {
    ingressMetrics.upstreamSeconds.observe(
      { app: flight.appId },
      (performance.now() - flight.startedAt) / 1000,
    );
  }

  private track(hash: string, socket: Closable): void {
    let set = this.tunnels.get(hash);
    if (!set) this.tunnels.set(hash, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.tunnels.get(hash) === set) this.tunnels.delete(hash);
    });
  }

  private closeTunnels(hash: string): void {
    const set = this.tunnels.get(hash);
    if (!set) return;
    this.tunnels.delete(hash);
    for (const s of set) s.destroy();
  }

  private rejectUpgrade(socket: Duplex, app: string, reply: Reply): void {
    ingressMetrics.requests.inc({ app, status_class: statusClass(reply.status) });
    writeRawJson(socket, reply.status, reply.body, reply.headers);
  }

  private reply(res: ServerResponse, reply: Reply): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...reply.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
  }

  private html(res: ServerResponse, status: number, page: string, headers: OutgoingHttpHeaders = {}): void {
    res.writeHead(status, {
      ...headers,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(page),
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    });
    res.end(page);
  }
}

/**
 * Per-request options of the request to a replica (http-proxy passes its `ssl` option as the base
 * of them, for plain HTTP too): answers are parsed leniently, as nginx and curl do, so that a
 * header line ending in a bare LF (busybox httpd's CGI) is read instead of failing the request
 * (HPE_CR_EXPECTED). The replica is the app itself: a lenient parse lets it confuse only its own
 * answers. A fresh object each time: http-proxy writes into it.
 */
const lenient = (): { insecureHTTPParser: boolean } => ({ insecureHTTPParser: true });

const target = (u: Upstream): { protocol: string; host: string; port: number } => ({
  protocol: 'http:',
  host: u.address,
  port: u.port,
});

/** A refused credential, as JSON (what a browser gets instead is the login page). */
function deniedReply(d: Exclude<AccessDecision, { allow: true }>): Reply {
  return {
    status: d.status,
    body: { error: d.code, message: d.message },
    headers: d.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
  };
}

function unavailable(where: { message: string; state: string; retryAfterSeconds?: number }): Reply {
  return {
    status: 503,
    body: { error: 'UNAVAILABLE', message: where.message, details: { state: where.state } },
    headers: where.retryAfterSeconds ? { 'Retry-After': String(where.retryAfterSeconds) } : {},
  };
}

/** 502: no code of ERROR_CODES maps to it, so it carries UNAVAILABLE (the replica is). */
function badGateway(appId: string, upstream: Upstream, code: string): Reply {
  return {
    status: 502,
    body: {
      error: 'UNAVAILABLE',
      message: `replica ${upstream.replicaId} of app ${appId} could not be reached (${code})`,
      details: { replicaId: upstream.replicaId, cause: code },
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
