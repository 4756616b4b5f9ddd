import 'reflect-metadata';

import { runService } from '@gantry/runtime';

import { IngressRouterModule, SERVICE } from './app.module.js';
import { loadIngressRouterConfig } from './config.js';

const config = loadIngressRouterConfig();
await runService({
  name: SERVICE,
  module: IngressRouterModule.forRoot(config),
  port: config.HTTP_PORT,
  host: config.HTTP_HOST,
  logLevel: config.LOG_LEVEL,
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});
