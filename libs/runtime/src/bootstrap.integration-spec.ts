import { connect } from 'node:net';

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

  it('serves /healthz, /readyz and Prometheus /metrics on the service port (HealthModule)', async () => {
    const url = await app.getUrl();
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain('gantry_message_handle_seconds');
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

  it('answers a request Node refuses before routing (URL too large, not HTTP) with the JSON error body too', async () => {
    const url = await app.getUrl();
    const long = await fetch(`${url}/nowhere?q=${'a'.repeat(20_000)}`);
    expect(long.status).toBe(431);
    expect(await long.json()).toEqual({
      error: 'BAD_REQUEST',
      message: 'the request line and headers are too large',
    });
    const { port } = new URL(url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('HELLO THERE\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toContain('Content-Type: application/json');
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe(
      JSON.stringify({ error: 'BAD_REQUEST', message: 'the request is not valid HTTP' }),
    );
  });
});
