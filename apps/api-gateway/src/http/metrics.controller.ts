import { PROMETHEUS_CONTENT_TYPE, prometheusMetrics } from '@gantry/runtime';
import { Controller, Get, Header, UseGuards } from '@nestjs/common';

import { AdminOnly, AuthGuard, JsonBodyGuard } from './guards.js';

/**
 * `/metrics` of the gateway, whose HTTP port is the public API's: only for admin tokens (Prometheus
 * sends one with `authorization: {credentials: …}`). Every other service serves it on its internal
 * port (runtime's HealthModule).
 */
@Controller('metrics')
@UseGuards(JsonBodyGuard, AuthGuard)
@AdminOnly(true)
export class AdminMetricsController {
  @Get()
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  metrics(): Promise<string> {
    return prometheusMetrics();
  }
}
