import { Controller, Get, Global, Header, HttpCode, Injectable, Module, Res } from '@nestjs/common';
import { register } from 'prom-client';

export type ReadinessCheck = () => Promise<boolean | string> | boolean | string;

/**
 * What `/readyz` asks. Each module that needs something before it can serve (a database, NATS, a
 * caught-up watch) registers a named check; a check answers true, or false / a reason.
 */
@Injectable()
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async evaluate(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const out: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      let verdict: boolean | string;
      try {
        verdict = await Promise.race([
          Promise.resolve(check()),
          new Promise<string>((r) => setTimeout(() => r('timed out'), 2000).unref()),
        ]);
      } catch (error) {
        verdict = (error as Error).message;
      }
      out[name] = verdict === true ? 'ok' : verdict === false ? 'not ready' : verdict;
      if (verdict !== true) ready = false;
    }
    return { ready, checks: out };
  }
}

/** `/healthz` and `/readyz`. */
@Controller()
export class HealthController {
  constructor(private readonly readiness: Readiness) {}

  /** Alive: the process answers. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready: every registered check passes. */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: { status(code: number): unknown }): Promise<unknown> {
    const result = await this.readiness.evaluate();
    res.status(result.ready ? 200 : 503);
    return { status: result.ready ? 'ready' : 'not ready', checks: result.checks };
  }
}

/** The Content-Type of Prometheus' text format. */
export const PROMETHEUS_CONTENT_TYPE = register.contentType;

/** This process's metrics, in Prometheus' text format. */
export const prometheusMetrics = (): Promise<string> => register.metrics();

/** `/metrics` for anyone who reaches the port: only on a port that is not public. */
@Controller()
export class MetricsController {
  /** Prometheus metrics of this process. */
  @Get('metrics')
  @HttpCode(200)
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  metrics(): Promise<string> {
    return prometheusMetrics();
  }
}

/**
 * `/healthz` and `/readyz` with the `Readiness` every module registers its checks with, without
 * `/metrics`: for a service whose HTTP port is public (the API), which serves its metrics its own way.
 */
@Global()
@Module({ controllers: [HealthController], providers: [Readiness], exports: [Readiness] })
export class HealthChecksModule {}

/**
 * `/healthz`, `/readyz` and `/metrics` on the service's HTTP port: for services whose HTTP port is
 * internal (bound to 127.0.0.1 by default), as every service's but the API's.
 */
@Module({ imports: [HealthChecksModule], controllers: [MetricsController] })
export class HealthModule {}
