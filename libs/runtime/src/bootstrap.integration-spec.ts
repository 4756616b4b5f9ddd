import type { QueryRequest, QueryResponse } from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { OnQuery } from '@gantry/messaging';
import { createTestNamespace } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  type INestApplication,
  Injectable,
  Module,
  type OnModuleInit,
} from '@nestjs/common';

import { runService } from './bootstrap.js';
import { HealthModule } from './health.js';

let inits = 0;

@Injectable()
class CountsInits implements OnModuleInit {
  onModuleInit(): void {
    inits++;
  }
}

@Controller()
class Handlers {
  @OnQuery('query.events.v1')
  events(q: QueryRequest<'query.events.v1'>): QueryResponse<'query.events.v1'> {
    throw notFound('app', q.appId);
  }

  @Get('boom')
  boom(): never {
    throw new Error('secret internals');
  }
}

@Module({ imports: [HealthModule], controllers: [Handlers], providers: [CountsInits] })
class TestModule {}

describe('runService', () => {
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;

  beforeAll(async () => {
    ns = await createTestNamespace('boot');
    app = await runService({
      name: 'boot-test',
      module: TestModule,
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
      messaging: { service: 'boot-test', natsUrl: ns.natsUrl, namespace: ns.namespace },
    });
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
  });

  it('carries a handler’s domain error back to the asker unchanged', async () => {
    await expect(ns.bus.request('query.events.v1', { appId: 'x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'app x does not exist',
    });
  });

  it('runs module init hooks once, not again for the message handlers', () => {
    expect(inits).toBe(1);
  });

  it('answers HTTP errors as JSON without leaking internals', async () => {
    const url = await app.getUrl();
    const boom = await fetch(`${url}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'INTERNAL', message: 'an internal error occurred' });
    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'NOT_FOUND', message: 'no such endpoint: GET /nowhere' });
  });
});
