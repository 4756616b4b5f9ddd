import type { RouteEntry, TokenEntry } from '@gantry/contracts';
import { type KvWatch, MessageBus } from '@gantry/messaging';
import { Readiness } from '@gantry/runtime';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { ingressMetrics } from './metrics.js';

/** How long the readiness check waits for NATS to answer a ping. */
const NATS_PING_MS = 1_000;

/**
 * The ingress's view of KV `routes` and `tokens`: a snapshot, then every change as the watches
 * deliver it. Values that fail validation are logged and ignored: an invalid route leaves the last
 * valid one in place; an invalid token entry removes the token (access fails closed).
 */
@Injectable()
export class RouteTable implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(RouteTable.name);
  /** Key: app id in lower case (hosts are case-insensitive). */
  private readonly routes = new Map<string, RouteEntry>();
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly watches: KvWatch[] = [];
  private routesLoaded = false;
  private tokensLoaded = false;
  private readonly revokedListeners: Array<(hash: string) => void> = [];
  private readonly routeListeners: Array<(appId: string) => void> = [];

  constructor(
    private readonly bus: MessageBus,
    private readonly readiness: Readiness,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.register('routes', () => this.routesLoaded || 'route snapshot not loaded yet');
    this.readiness.register('tokens', () => this.tokensLoaded || 'token snapshot not loaded yet');
    // Cut off from NATS, the table may miss a route change or a revoked token: not ready.
    this.readiness.register('nats', () => this.natsAnswers());
    const routes = await this.bus.kv('routes');
    const routesWatch = await routes.watch((key, value) => this.onRoute(key, value), {
      onInvalid: (key, error) => this.invalid('routes', key, error),
    });
    const tokens = await this.bus.kv('tokens');
    const tokensWatch = await tokens.watch((key, value) => this.onToken(key, value), {
      onInvalid: (key, error) => {
        this.invalid('tokens', key, error);
        this.onToken(key, null);
      },
    });
    this.watches.push(routesWatch, tokensWatch);
    void routesWatch.ready.then(() => {
      this.routesLoaded = true;
      this.log.log(`route snapshot loaded: ${this.routes.size} apps`);
    });
    void tokensWatch.ready.then(() => {
      this.tokensLoaded = true;
      this.log.log(`token snapshot loaded: ${this.tokens.size} tokens`);
    });
  }

  onApplicationShutdown(): void {
    for (const w of this.watches.splice(0)) w.stop();
  }

  /**
   * Whether the NATS connection answers a ping within `NATS_PING_MS` (a connection known to be down
   * fails at once; one that went silent fails when the ping times out).
   */
  private async natsAnswers(): Promise<true | string> {
    let timer: NodeJS.Timeout | undefined;
    const rtt = this.bus.nc.rtt();
    rtt.catch(() => undefined); // answered after the deadline, or failed: already reported
    try {
      await Promise.race([
        rtt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${NATS_PING_MS} ms`)), NATS_PING_MS);
        }),
      ]);
      return true;
    } catch (error) {
      return `NATS connection down: ${(error as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether both snapshots are in. */
  get loaded(): boolean {
    return this.routesLoaded && this.tokensLoaded;
  }

  route(appId: string): RouteEntry | undefined {
    return this.routes.get(appId.toLowerCase());
  }

  /** The token whose secret hashes to `hash` (SHA-256, hex). */
  token(hash: string): TokenEntry | undefined {
    return this.tokens.get(hash);
  }

  /** Calls `listener` with the hash of every token that goes away. */
  onRevoked(listener: (hash: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /**
   * Calls `listener` with the app id of every route that changed or went away, once the table has
   * it (what waits for an app's endpoints reads `route()` then).
   */
  onRouteChanged(listener: (appId: string) => void): void {
    this.routeListeners.push(listener);
  }

  private onRoute(key: string, value: RouteEntry | null): void {
    if (value === null) this.routes.delete(key.toLowerCase());
    else if (value.appId !== key) {
      this.invalid('routes', key, new Error(`appId ${value.appId} differs from its key`));
      return;
    } else this.routes.set(key.toLowerCase(), value);
    ingressMetrics.routes.set(this.routes.size);
    this.notify(this.routeListeners, key, 'route');
  }

  private onToken(key: string, value: TokenEntry | null): void {
    if (value === null) {
      if (this.tokens.delete(key)) this.notify(this.revokedListeners, key, 'revocation');
    } else this.tokens.set(key, value);
    ingressMetrics.tokens.set(this.tokens.size);
  }

  private notify(listeners: Array<(key: string) => void>, key: string, what: string): void {
    for (const l of listeners) {
      try {
        l(key);
      } catch (error) {
        this.log.error(`${what} listener failed: ${String(error)}`);
      }
    }
  }

  private invalid(bucket: 'routes' | 'tokens', key: string, error: unknown): void {
    ingressMetrics.invalidEntries.inc({ bucket });
    this.log.warn(
      `ignored invalid ${bucket} entry ${JSON.stringify(key.slice(0, 200))}: ${String((error as Error)?.message ?? error)}`,
    );
  }
}
