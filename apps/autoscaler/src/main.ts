import 'reflect-metadata';

import { runService } from '@gantry/runtime';

import { AutoscalerModule, SERVICE } from './app.module.js';
import { loadAutoscalerConfig } from './config.js';

const config = loadAutoscalerConfig();
await runService({
  name: SERVICE,
  module: AutoscalerModule.forRoot(config),
  port: config.HTTP_PORT,
  host: config.HTTP_HOST,
  logLevel: config.LOG_LEVEL,
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  messaging: {
    service: SERVICE,
    natsUrl: config.NATS_URL,
    namespace: config.GANTRY_NAMESPACE,
    replicas: config.GANTRY_NATS_REPLICAS,
  },
});
