import type { Server } from 'node:http';

import { JetStreamTransport, PassThroughRpcFilter, type TransportOptions } from '@gantry/messaging';
import {
  ConsoleLogger,
  type DynamicModule,
  type INestApplication,
  type LogLevel,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions, NestMicroservice } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';

import { answerClientError, HttpErrorFilter, TracingInterceptor } from './http.js';
import { startTelemetry, stopTelemetry } from './telemetry.js';

const LEVELS: Record<string, LogLevel[]> = {
  debug: ['debug', 'log', 'warn', 'error', 'fatal'],
  info: ['log', 'warn', 'error', 'fatal'],
  warn: ['warn', 'error', 'fatal'],
  error: ['error', 'fatal'],
};

export interface ServiceOptions {
  /** Service name: logs, traces, NATS connection and durable consumer names. */
  name: string;
  module: Type<unknown> | DynamicModule;
  /** Port of the service's HTTP server (API, or just /healthz /readyz /metrics). 0 picks one. */
  port: number;
  host: string;
  logLevel: string;
  otlpEndpoint?: string;
  /** When set, the service's @OnEvent/@OnSignal/@OnQuery handlers are bound to NATS. */
  messaging?: TransportOptions;
  /**
   * When set, the handlers are bound only once this resolves (e.g. once the process holds a leader
   * lease); the HTTP server (health, metrics) is up meanwhile.
   */
  startWhen?: (app: INestApplication) => Promise<void>;
  /** Largest accepted request body. */
  bodyLimit?: string;
}

export function createLogger(name: string, level: string): ConsoleLogger {
  return new ConsoleLogger(name, { json: true, logLevels: LEVELS[level] ?? LEVELS['info'], colors: false });
}

/**
 * Starts one Gantry service: tracing, JSON logs, the HTTP server with the JSON error filter, and the
 * NATS transport for its handlers. SIGTERM/SIGINT close it gracefully (consumers drained, in-flight
 * work finished). A stray promise rejection is logged, never allowed to crash the process.
 */
export async function runService(opts: ServiceOptions): Promise<INestApplication> {
  startTelemetry(opts.name, opts.otlpEndpoint);
  const logger = createLogger(opts.name, opts.logLevel);
  process.on('unhandledRejection', (reason) => logger.error(`unhandled rejection: ${String(reason)}`));
  const app = await NestFactory.create<NestExpressApplication>(opts.module, {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  app.useBodyParser('json', { limit: opts.bodyLimit ?? '1mb' });
  app.useGlobalFilters(new HttpErrorFilter());
  app.useGlobalInterceptors(new TracingInterceptor());
  app.enableShutdownHooks();
  if (opts.messaging) {
    // Deferred, so that the filter is in place before the listeners are built; the application
    // itself runs the module init hooks, the microservice must not run them again.
    const ms = app.connectMicroservice<MicroserviceOptions>(
      { strategy: new JetStreamTransport(opts.messaging) },
      { deferInitialization: true },
    ) as NestMicroservice;
    ms.useGlobalFilters(new PassThroughRpcFilter());
    ms.setIsInitHookCalled(true);
  }
  if (!opts.startWhen) await app.startAllMicroservices();
  (app.getHttpServer() as Server).on('clientError', answerClientError);
  await app.listen(opts.port, opts.host);
  if (opts.startWhen) {
    const gate = opts.startWhen;
    void (async () => {
      await gate(app);
      await app.startAllMicroservices();
      logger.log(`${opts.name} is now handling messages`);
    })().catch((error: unknown) => {
      logger.fatal(`${opts.name} could not start handling messages: ${String(error)}`);
      process.exit(1);
    });
  }
  const closing = async (): Promise<void> => stopTelemetry();
  process.once('beforeExit', () => void closing());
  logger.log(`${opts.name} listening on ${await app.getUrl()}`);
  return app;
}
