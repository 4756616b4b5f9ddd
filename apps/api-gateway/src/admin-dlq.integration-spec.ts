import { randomUUID } from 'node:crypto';

import {
  type App,
  AppSchema,
  type AppStatusChanged,
  type DeadLetter,
  type DeadLetterPage,
  DeadLetterPageSchema,
  type ReplayDeadLettersResult,
  type Token,
} from '@gantry/contracts';
import {
  createTestDatabase,
  createTestNamespace,
  expectError,
  jsonClient,
  type TestDatabase,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { startGateway } from './__fixtures__/gateway.js';

const ADMIN = 'it-admin-secret-0123456789abcdef';

describe('api-gateway: the dead-letter stream, listed and replayed (admin tokens)', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let base: string;
  let operator: string;
  const call = jsonClient(() => base, ADMIN);

  /** A letter as a consumer leaves it: the whole message, where it was stored, its headers. */
  const letter = (subject: string, data: unknown, over: Partial<DeadLetter> = {}): DeadLetter => ({
    subject,
    consumer: `billing-meter--${subject.replace(/\./g, '_')}`,
    reason: 'permanent failure: refused',
    data: JSON.stringify(data),
    deliveries: 1,
    at: new Date().toISOString(),
    stream: 'APPS',
    seq: 1,
    headers: { traceparent: ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'] },
    ...over,
  });
  const deadLetter = (l: DeadLetter) => ns.bus.publish('dlq.v1', l, randomUUID());
  const list = async (query = '') => {
    const r = await call<DeadLetterPage>('GET', `/v1/admin/dlq${query}`);
    expect(r.status).toBe(200);
    return DeadLetterPageSchema.parse(r.body);
  };

  beforeAll(async () => {
    db = await createTestDatabase('gwdlq');
    ns = await createTestNamespace('gwdlq');
    ({ app, base } = await startGateway(db, ns, ADMIN, {
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
    }));
    const t = await call<Token>('POST', '/v1/token', { body: { name: 'ops', role: 'operator' } });
    operator = t.body.status.value ?? '';
    expect(operator).not.toBe('');
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('refuses every other token (403) and bad input (400)', async () => {
    expectError(await call('GET', '/v1/admin/dlq', { token: operator }), 403, 'FORBIDDEN');
    expectError(
      await call('POST', '/v1/admin/dlq/replay', { token: operator, body: { all: true } }),
      403,
      'FORBIDDEN',
    );
    expectError(await call('GET', '/v1/admin/dlq', { token: null }), 401, 'UNAUTHORIZED');
    expectError(await call('GET', '/v1/admin/dlq?limit=0'), 400, 'VALIDATION_FAILED', /limit/);
    expectError(await call('GET', '/v1/admin/dlq?after=-1'), 400, 'VALIDATION_FAILED', /after/);
    expectError(await call('GET', '/v1/admin/dlq?bogus=1'), 400, 'VALIDATION_FAILED');
    for (const body of [
      {},
      { all: true, ids: [1] },
      { ids: [] },
      { ids: ['x'] },
      { all: false },
      { subject: 'A B' },
    ])
      expectError(await call('POST', '/v1/admin/dlq/replay', { body }), 400, 'VALIDATION_FAILED');
  });

  it('lists letters page by page, and replays one to its subject, where its consumer applies it', async () => {
    const created = await call<App>('POST', '/v1/app', { body: { image: 'img:1', resources: { cpu: 1 } } });
    expect(created.status).toBe(200);
    const a = AppSchema.parse(created.body);
    const at = new Date().toISOString();
    const running: AppStatusChanged = {
      id: `${a.id}:status:7:RUNNING`,
      appId: a.id,
      projectId: a.projectId,
      version: 7,
      at,
      state: 'RUNNING',
      info: { code: 'APP_RUNNING', message: 'replayed' },
      availableReplicas: 1,
      allocatedUnits: 1,
      history: [...a.status.history, { state: 'RUNNING', date: at }],
      lastTransitionDate: at,
      rate: { flavor: a.spec.resources.flavor, unitPriceMicros: 30_000, currency: 'EUR' },
    };
    await deadLetter(letter('app.status.v2', { id: randomUUID(), statuses: [running] }));
    await deadLetter(letter('app.status.v2', running, { part: true }));
    await deadLetter(
      letter('app.event.v2', { id: randomUUID(), events: [] }, { truncated: true, seq: 999_999 }),
    );

    const all = await list();
    expect(all.total).toBe(3);
    expect(all.items.map((l) => [l.subject, l.part ?? false])).toEqual([
      ['app.status.v2', false],
      ['app.status.v2', true],
      ['app.event.v2', false],
    ]);
    const [whole, part, truncated] = all.items.map((l) => l.id) as [number, number, number];
    const first = await list('?limit=2');
    expect(first.items.map((l) => l.id)).toEqual([whole, part]);
    expect(first.next).toBe(part);
    const second = await list(`?limit=2&after=${first.next}`);
    expect(second.items.map((l) => l.id)).toEqual([truncated]);
    expect(second.next).toBeUndefined();
    expect((await list('?subject=app.event.v2')).items.map((l) => l.id)).toEqual([truncated]);

    const r = await call<ReplayDeadLettersResult>('POST', '/v1/admin/dlq/replay', {
      body: { ids: [whole, 424242] },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ replayed: [whole], failed: [{ id: 424242, reason: 'no such dead letter' }] });
    await waitFor('the replayed status applied', async () => {
      const got = AppSchema.parse((await call<App>('GET', `/v1/app/${a.id}`)).body);
      return got.status.state === 'RUNNING' ? got : undefined;
    });
    expect((await list()).items.map((l) => l.id)).toEqual([part, truncated]);

    // What cannot be replayed stays, with the reason.
    const rest = await call<ReplayDeadLettersResult>('POST', '/v1/admin/dlq/replay', { body: { all: true } });
    expect(rest.body.replayed).toEqual([]);
    expect(rest.body.failed.map((f) => f.id)).toEqual([part, truncated]);
    expect(rest.body.failed[0]?.reason).toMatch(/part of a batch/);
    expect(rest.body.failed[1]?.reason).toMatch(/no longer has the message/);
    expect((await list()).total).toBe(2);
  });
});
