import { runService } from '@gantry/runtime';
import type { TestDatabase, TestNamespace } from '@gantry/testing';
import type { INestApplication } from '@nestjs/common';

import { ApiGatewayModule, SERVICE } from '../app.module.js';
import { ApiGatewayConfigSchema } from '../config.js';

/**
 * Starts an api-gateway of the test's own on its database and NATS namespace, on a free port of
 * 127.0.0.1, with `adminToken` as its bootstrap admin token and `env` over the defaults. Without
 * `messaging: false` it binds its NATS handlers too. Not part of the build.
 */
export async function startGateway(
  db: TestDatabase,
  ns: TestNamespace,
  adminToken: string,
  env: Record<string, string> = {},
  { messaging = true }: { messaging?: boolean } = {},
): Promise<{ app: INestApplication; base: string }> {
  const config = ApiGatewayConfigSchema.parse({
    DATABASE_URL: db.url,
    NATS_URL: ns.natsUrl,
    GANTRY_NAMESPACE: ns.namespace,
    HTTP_PORT: '0',
    LOG_LEVEL: 'error',
    GANTRY_ADMIN_TOKEN: adminToken,
    ...env,
  });
  const app = await runService({
    name: SERVICE,
    module: ApiGatewayModule.forRoot(config),
    port: 0,
    host: '127.0.0.1',
    logLevel: 'error',
    ...(messaging ? { messaging: { service: SERVICE, natsUrl: ns.natsUrl, namespace: ns.namespace } } : {}),
    bodyLimit: config.HTTP_BODY_LIMIT,
  });
  return { app, base: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}
