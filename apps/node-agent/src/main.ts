import 'reflect-metadata';

import { runService } from '@gantry/runtime';

import { NodeAgentModule, SERVICE } from './app.module.js';
import { loadNodeAgentConfig } from './config.js';

const config = loadNodeAgentConfig();
await runService({
  name: SERVICE,
  module: NodeAgentModule.forRoot(config),
  port: config.HTTP_PORT,
  host: config.HTTP_HOST,
  logLevel: config.LOG_LEVEL,
  otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});
