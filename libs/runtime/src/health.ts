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

  /** Prometheus metrics of this process. */
  @Get('metrics')
  @HttpCode(200)
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}

@Global()
@Module({ controllers: [HealthController], providers: [Readiness], exports: [Readiness] })
export class HealthModule {}
