import { randomUUID } from 'node:crypto';

import {
  type App,
  type AppDesired,
  AppPageSchema,
  AppSchema,
  type AppState,
  type AppStatusChanged,
  FlavorListSchema,
  MeSchema,
  type Registry,
  type RegistryList,
  RegistrySchema,
  type Token,
  tokenKey,
  TokenSchema,
  UsageOutputSchema,
  wireStream,
  wireSubject,
} from '@gantry/contracts';
import { createDataSource, OutboxMessage, prepareDatabase, schemaDrift } from '@gantry/database';
import type { TypedKv } from '@gantry/messaging';
import {
  createTestDatabase,
  createTestNamespace,
  expectError,
  jsonClient,
  sleep,
  type TestDatabase,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';

import { startGateway } from './__fixtures__/gateway.js';
import { GATEWAY_MIGRATIONS, GATEWAY_SCHEMA } from './app.module.js';
import { GATEWAY_ENTITIES } from './store/entities.js';

const ADMIN = 'it-admin-secret-0123456789abcdef';
const SECRET_KEY = 'it-registry-key-0123456789abcdef0123456789';
const URL_TEMPLATE = 'http://{id}.apps.test:9999';

describe('api-gateway on real PostgreSQL and NATS', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let base: string;
  let tokensKv: TypedKv<'tokens'>;
  const desired: AppDesired[] = [];
  const responders: Subscription[] = [];

  const call = jsonClient(() => base, ADMIN);

  async function createApp(body: Record<string, unknown>, token: string = ADMIN): Promise<App> {
    const r = await call<App>('POST', '/v1/app', { body, token });
    if (r.status !== 200) throw new Error(`POST /v1/app → ${r.status} ${JSON.stringify(r.body)}`);
    return AppSchema.parse(r.body);
  }

  const desiredOf = (appId: string) =>
    desired.filter((d) => d.appId === appId).sort((a, b) => a.version - b.version);
  const waitForDesired = (appId: string, version: number) =>
    waitFor(`app.desired.v1 v${version} of ${appId}`, () =>
      desiredOf(appId).find((d) => d.version === version),
    );

  let statusVersion = 10;
  /** A status as the scheduler reports it. */
  function statusOf(
    a: App,
    state: AppState,
    opts: { version?: number; replicas?: number; message?: string } = {},
  ): AppStatusChanged {
    const version = opts.version ?? ++statusVersion;
    const at = new Date().toISOString();
    const status: AppStatusChanged = {
      id: `${a.id}:status:${version}:${state}`,
      appId: a.id,
      projectId: a.projectId,
      version,
      at,
      state,
      info: { code: 'APP_RUNNING', message: opts.message ?? `now ${state}` },
      availableReplicas: opts.replicas ?? 0,
      allocatedUnits: opts.replicas ?? 0,
      history: [...a.status.history, { state, date: at }],
      lastTransitionDate: at,
      rate: { flavor: a.spec.resources.flavor, unitPriceMicros: 30_000, currency: 'EUR' },
    };
    return status;
  }

  /** Publishes statuses in one `app.status.v2` message, as a scheduler pass does. */
  const publishStatuses = (...statuses: AppStatusChanged[]) =>
    ns.bus.publish('app.status.v2', { id: randomUUID(), statuses });

  /** Publishes a status as the scheduler would. */
  async function report(...args: Parameters<typeof statusOf>): Promise<AppStatusChanged> {
    const status = statusOf(...args);
    await publishStatuses(status);
    return status;
  }

  const stateOf = async (id: string) => (await call<App>('GET', `/v1/app/${id}`)).body.status.state;
  const waitForState = (id: string, state: AppState) =>
    waitFor(`${id} ${state}`, async () => ((await stateOf(id)) === state ? true : undefined));

  /** Answers a query subject in the `{ok, data}` envelope MessageBus expects, recording requests. */
  function respond(subject: string, answer: (req: unknown) => unknown, seen: unknown[] = []): unknown[] {
    const sub = ns.bus.nc.subscribe(wireSubject(ns.namespace, subject), {
      callback: (_err, m: Msg) => {
        const req = m.json<unknown>();
        seen.push(req);
        m.respond(JSON.stringify(answer(req)));
      },
    });
    responders.push(sub);
    return seen;
  }

  beforeAll(async () => {
    db = await createTestDatabase('gw');
    ns = await createTestNamespace('gw');
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.desired.v1'), {
      callback: (_e, m) => {
        desired.push(m.json<AppDesired>());
      },
    });
    ({ app, base } = await startGateway(db, ns, ADMIN, {
      GANTRY_APP_URL_TEMPLATE: URL_TEMPLATE,
      GANTRY_SECRET_KEY: SECRET_KEY,
      QUERY_TIMEOUT_MS: '600',
      // Rate limits have their own test (api-gateway-changes.integration-spec.ts); not in the way here.
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
    }));
    tokensKv = await ns.bus.kv('tokens');
  });

  afterAll(async () => {
    for (const s of responders) s.unsubscribe();
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('has migrations that match its entities', async () => {
    const ds = createDataSource({
      url: db.url,
      schema: GATEWAY_SCHEMA,
      entities: [...GATEWAY_ENTITIES, OutboxMessage],
      migrations: GATEWAY_MIGRATIONS,
    });
    await prepareDatabase(ds);
    expect(await schemaDrift(ds)).toEqual([]);
    await ds.destroy();
  });

  it('is ready when the database and NATS are', async () => {
    const r = await call('GET', '/readyz', { token: null });
    expect(r).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', nats: 'ok' } },
    });
    expect((await call('GET', '/healthz', { token: null })).status).toBe(200);
  });

  it('creates the bootstrap admin token and mirrors it into the tokens KV', async () => {
    const entry = await waitFor('the admin token in KV', () => tokensKv.get(tokenKey(ADMIN)));
    expect(entry).toMatchObject({ projectId: 'default', role: 'admin', version: 1 });
    const me = await call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(MeSchema.parse(me.body)).toMatchObject({
      name: 'admin',
      tenant: 'default',
      role: 'admin',
      quotas: {
        resources: { CPU: 32, GPU: 4, memory: 128 * 1024 ** 3, apps: 50, tokens: 100 },
        inUse: { CPU: 0, GPU: 0, memory: 0, apps: 0, tokens: 1 },
      },
    });
  });

  it('serves the flavor catalog with prices', async () => {
    const list = await call<unknown>('GET', '/v1/capabilities/flavor');
    expect(list.status).toBe(200);
    const flavors = FlavorListSchema.parse(list.body);
    expect(flavors.map((f) => [f.id, f.type, f.default, f.max, f.price.unitPrice])).toEqual([
      ['ai1-1-cpu', 'cpu', true, 12, '0.03'],
      ['ai1-1-gpu', 'gpu', true, 4, '1.93'],
      ['h100-1-gpu', 'gpu', false, 4, '2.99'],
    ]);
    const h100 = await call('GET', '/v1/capabilities/flavor/h100-1-gpu');
    expect(h100.body).toMatchObject({
      id: 'h100-1-gpu',
      resourcesPerUnit: { cpu: 28, memory: 350 * 1024 ** 3, ephemeralStorage: 3 * 1024 ** 4 },
      gpuInformation: { gpuBrand: 'NVIDIA', gpuModel: 'H100', gpuMemory: 80 * 1024 ** 3 },
      price: { unitPriceMicros: 2_990_000, currency: 'EUR', unitPrice: '2.99' },
    });
    expectError(
      await call('GET', '/v1/capabilities/flavor/ai9-tpu'),
      404,
      'NOT_FOUND',
      'flavor ai9-tpu does not exist',
    );
    expectError(
      await call('GET', '/v1/capabilities/flavor/BAD_ID'),
      400,
      'VALIDATION_FAILED',
      'id: must be a flavor id',
    );
  });

  describe('an app through its lifecycle', () => {
    let a: App;

    it('POST /v1/app creates it QUEUED with its URL, and writes app.desired.v1 v1 to the APPS stream', async () => {
      a = await createApp({
        image: 'gantry-test/web:1',
        name: 'hello',
        resources: { cpu: 2 },
        envVars: [{ name: 'GREETING', value: 'bonjour' }],
        labels: { team: 'vision' },
      });
      expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(a).toMatchObject({
        projectId: 'default',
        user: 'admin',
        spec: {
          name: 'hello',
          labels: { team: 'vision', 'gantry/id': a.id },
          resources: { flavor: 'ai1-1-cpu', units: 2, cpu: 2, memory: 8 * 1024 ** 3 },
          defaultHttpPort: 8080,
          probe: { path: '/', port: 8080 },
          unsecureHttp: false,
          scalingStrategy: { fixed: { replicas: 1 } },
        },
        status: {
          state: 'QUEUED',
          availableReplicas: 0,
          url: `http://${a.id}.apps.test:9999`,
          info: { code: 'APP_QUEUED' },
        },
      });
      expect(a.status.history).toEqual([{ state: 'QUEUED', date: a.createdAt }]);
      expect(a.status.lastTransitionDate).toBe(a.createdAt);

      const d = await waitForDesired(a.id, 1);
      expect(d).toMatchObject({
        appId: a.id,
        projectId: 'default',
        lifecycle: 'RUNNING',
        spec: a.spec,
        rate: { flavor: 'ai1-1-cpu', unitPriceMicros: 30_000, currency: 'EUR' },
        at: a.createdAt,
      });
      const jsm = await jetstreamManager(ns.bus.nc);
      const stored = await jsm.streams.getMessage(wireStream(ns.namespace, 'APPS'), {
        last_by_subj: wireSubject(ns.namespace, 'app.desired.v1'),
      });
      expect(stored?.json<AppDesired>()).toMatchObject({ appId: a.id, version: 1 });
    });

    it('lists and gets it', async () => {
      const got = await call<App>('GET', `/v1/app/${a.id}`);
      expect(got.status).toBe(200);
      expect(AppSchema.parse(got.body)).toEqual(a);
      const list = await call<unknown>('GET', '/v1/app');
      expect(list.status).toBe(200);
      const page = AppPageSchema.parse(list.body);
      expect(page).toMatchObject({ page: 1, size: 20, total: 1 });
      expect(page.items.map((x) => x.id)).toEqual([a.id]);
    });

    it('follows app.status.v2: newer versions apply, stale and duplicate ones are ignored', async () => {
      const running = await report(a, 'RUNNING', { version: 5, replicas: 1, message: 'serving' });
      await waitForState(a.id, 'RUNNING');
      const got = (await call<App>('GET', `/v1/app/${a.id}`)).body;
      expect(got.status).toEqual({
        state: 'RUNNING',
        availableReplicas: 1,
        url: a.status.url,
        info: { code: 'APP_RUNNING', message: 'serving' },
        history: running.history,
        lastTransitionDate: new Date(running.lastTransitionDate).toISOString(),
      });
      expect(Date.parse(got.updatedAt)).toBeGreaterThan(Date.parse(a.updatedAt));

      // Older and equal versions, then a marker on another app: once the marker shows, they were handled.
      await report(a, 'FAILED', { version: 4 });
      await report(a, 'ERROR', { version: 5 });
      const marker = await createApp({ image: 'gantry-test/web:1', name: 'marker' });
      await report(marker, 'INITIALIZING', { version: 1 });
      await waitForState(marker.id, 'INITIALIZING');
      expect(await stateOf(a.id)).toBe('RUNNING');
      // An unknown app is ignored too.
      await report({ ...marker, id: '00000000-0000-4000-8000-000000000001' }, 'RUNNING', { version: 9 });

      // Several statuses of one app in one message, newest first: the newest wins.
      await publishStatuses(
        statusOf(marker, 'RUNNING', { version: 4, replicas: 2 }),
        statusOf(marker, 'SCALING', { version: 3, replicas: 1 }),
        statusOf(marker, 'INITIALIZING', { version: 2 }),
      );
      await waitForState(marker.id, 'RUNNING');
      expect((await call<App>('GET', `/v1/app/${marker.id}`)).body.status.availableReplicas).toBe(2);

      // A status PostgreSQL cannot store (NUL in its text) is skipped; the rest of its message applies.
      const other = await createApp({ image: 'gantry-test/web:1', name: 'other' });
      await publishStatuses(
        statusOf(marker, 'SCALING', { version: 5, message: 'bad \u0000 text' }),
        statusOf(other, 'RUNNING', { version: 1, replicas: 1 }),
      );
      await waitForState(other.id, 'RUNNING');
      expect(await stateOf(marker.id)).toBe('RUNNING');

      // A status that breaks the contract (a scheduler newer than this gateway, say) is set aside
      // alone; the rest of its message applies.
      await publishStatuses(
        {
          ...statusOf(marker, 'RUNNING', { version: 6 }),
          state: 'HIBERNATING',
        } as unknown as AppStatusChanged,
        statusOf(other, 'INITIALIZING', { version: 2 }),
      );
      await waitForState(other.id, 'INITIALIZING');
      expect(await stateOf(marker.id)).toBe('RUNNING');

      // A status from a scheduler before `app.status.v2` still applies.
      await ns.bus.publish('app.status.v1', statusOf(other, 'SCALING', { version: 3 }));
      await waitForState(other.id, 'SCALING');

      // The newest status of an app cannot be stored: the newest one that can is applied instead.
      await publishStatuses(
        statusOf(other, 'STOPPED', { version: 5, message: 'bad \u0000 text' }),
        statusOf(other, 'RUNNING', { version: 4, replicas: 2 }),
      );
      await waitForState(other.id, 'RUNNING');
    });

    it('stop → desired STOPPED v2 (204); refused once STOPPED (409 naming the state)', async () => {
      const stop = await call('PUT', `/v1/app/${a.id}/stop`);
      expect(stop.status).toBe(204);
      expect(await waitForDesired(a.id, 2)).toMatchObject({ lifecycle: 'STOPPED', spec: a.spec });
      await report(a, 'STOPPED', { version: 6 });
      await waitForState(a.id, 'STOPPED');
      expectError(await call('PUT', `/v1/app/${a.id}/stop`), 409, 'CONFLICT', 'it is STOPPED');
    });

    it('start → desired RUNNING v3 (204); refused when not STOPPED (409)', async () => {
      expect((await call('PUT', `/v1/app/${a.id}/start`)).status).toBe(204);
      expect(await waitForDesired(a.id, 3)).toMatchObject({ lifecycle: 'RUNNING' });
      await report(a, 'QUEUED', { version: 7 });
      await waitForState(a.id, 'QUEUED');
      expectError(
        await call('PUT', `/v1/app/${a.id}/start`),
        409,
        'CONFLICT',
        `cannot start app ${a.id}: it is QUEUED (only a STOPPED app can be started)`,
      );
    });

    it('delete of an active app needs force (409), then → desired DELETED v4 (204)', async () => {
      expectError(
        await call('DELETE', `/v1/app/${a.id}`),
        409,
        'CONFLICT',
        'it is QUEUED; stop it first, or delete with ?force=true',
      );
      expectError(
        await call('DELETE', `/v1/app/${a.id}?force=maybe`),
        400,
        'VALIDATION_FAILED',
        'force: must be true or false',
      );
      expect((await call('DELETE', `/v1/app/${a.id}?force=true`)).status).toBe(204);
      expect(await waitForDesired(a.id, 4)).toMatchObject({ lifecycle: 'DELETED' });
      // Asking again changes nothing; stopping or starting is refused.
      expect((await call('DELETE', `/v1/app/${a.id}?force=true`)).status).toBe(204);
      expectError(await call('PUT', `/v1/app/${a.id}/stop`), 409, 'CONFLICT', 'is being deleted');
      await sleep(300);
      expect(desiredOf(a.id).map((d) => [d.version, d.lifecycle])).toEqual([
        [1, 'RUNNING'],
        [2, 'STOPPED'],
        [3, 'RUNNING'],
        [4, 'DELETED'],
      ]);
    });

    it('a DELETED status hides the app (404, not listed) and keeps its row', async () => {
      await report(a, 'DELETED', { version: 8 });
      await waitFor('the app to be gone', async () =>
        (await call('GET', `/v1/app/${a.id}`)).status === 404 ? true : undefined,
      );
      expectError(await call('GET', `/v1/app/${a.id}`), 404, 'NOT_FOUND', `app ${a.id} does not exist`);
      const list = AppPageSchema.parse((await call('GET', '/v1/app?size=100')).body);
      expect(list.items.map((x) => x.id)).not.toContain(a.id);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ deleted: boolean; state: string }>(
          `SELECT deleted, state FROM "${GATEWAY_SCHEMA}"."apps" WHERE id = $1`,
          [a.id],
        );
        expect(rows).toEqual([{ deleted: true, state: 'DELETED' }]);
      } finally {
        await client.end();
      }
      // A late status about a deleted app changes nothing.
      await report(a, 'RUNNING', { version: 9 });
      await sleep(300);
      expect((await call('GET', `/v1/app/${a.id}`)).status).toBe(404);
    });
  });

  describe('projects, tokens and who sees what', () => {
    let operatorB: Token;
    let readA: Token;
    let appA: App;

    it('admins create projects and tokens; the secret is shown once and mirrored (hashed) into KV', async () => {
      const project = await call('POST', '/v1/project', {
        body: { id: 'team-b', name: 'Team B', gpuQuota: 4 },
      });
      expect(project).toMatchObject({
        status: 200,
        body: { id: 'team-b', name: 'Team B', gpuQuota: 4, cpuQuota: 32, appQuota: 50, tokenQuota: 100 },
      });
      expectError(
        await call('POST', '/v1/project', { body: { id: 'team-b', name: 'Team B again' } }),
        409,
        'CONFLICT',
        'project team-b already exists',
      );
      const op = await call<Token>('POST', '/v1/token', {
        body: { name: 'ci', role: 'operator', projectId: 'team-b' },
      });
      expect(op.status).toBe(200);
      operatorB = TokenSchema.parse(op.body);
      expect(operatorB.status.value).toMatch(/^gantry_/);
      const rd = await call<Token>('POST', '/v1/token', { body: { name: 'viewer', role: 'read' } });
      readA = TokenSchema.parse(rd.body);
      expect(readA.spec).toEqual({ name: 'viewer', role: 'read', projectId: 'default' });
      expect(
        await waitFor(
          'the operator token in KV',
          async () => (await tokensKv.get(tokenKey(operatorB.status.value ?? ''))) ?? undefined,
        ),
      ).toEqual({
        tokenId: operatorB.id,
        projectId: 'team-b',
        role: 'operator',
        version: 1,
      });
      const listed = await call<{ items: Token[] }>('GET', '/v1/token');
      expect(listed.body.items.map((t) => t.spec.name).sort()).toEqual(['admin', 'viewer']);
      expect(listed.body.items.every((t) => t.status.value === undefined)).toBe(true);
      expectError(
        await call('POST', '/v1/token', { body: { name: 'viewer', role: 'read' } }),
        409,
        'CONFLICT',
        'already has a token named viewer',
      );
      expectError(
        await call('POST', '/v1/token', { body: { name: 'x', role: 'root' } }),
        400,
        'VALIDATION_FAILED',
        'role: must be one of read, operator, admin',
      );
    });

    it('a token never sees another project’s apps (404), and reaches its own', async () => {
      appA = await createApp({ image: 'gantry-test/web:1', name: 'in-default' });
      const b = await createApp({ image: 'gantry-test/web:1', name: 'in-team-b' }, operatorB.status.value);
      expect(b.projectId).toBe('team-b');
      expect(b.user).toBe('ci');
      const op = operatorB.status.value ?? '';
      expectError(
        await call('GET', `/v1/app/${appA.id}`, { token: op }),
        404,
        'NOT_FOUND',
        `app ${appA.id} does not exist`,
      );
      expectError(await call('PUT', `/v1/app/${appA.id}/stop`, { token: op }), 404, 'NOT_FOUND');
      expectError(await call('DELETE', `/v1/app/${appA.id}?force=true`, { token: op }), 404, 'NOT_FOUND');
      expectError(await call('GET', `/v1/app/${appA.id}/log`, { token: op }), 404, 'NOT_FOUND');
      const theirs = AppPageSchema.parse((await call('GET', '/v1/app', { token: op })).body);
      expect(theirs.items.map((x) => x.id)).toEqual([b.id]);
      expectError(
        await call('GET', '/v1/app?projectId=default', { token: op }),
        403,
        'FORBIDDEN',
        'only admin tokens',
      );
      // Admins reach every project.
      expect((await call('GET', `/v1/app/${b.id}`)).status).toBe(200);
      const asAdmin = AppPageSchema.parse((await call('GET', '/v1/app?projectId=team-b')).body);
      expect(asAdmin.items.map((x) => x.id)).toEqual([b.id]);
    });

    it('read tokens read and may not write (403); only admins manage tokens and projects (403)', async () => {
      const rd = readA.status.value ?? '';
      expect((await call('GET', `/v1/app/${appA.id}`, { token: rd })).status).toBe(200);
      expectError(
        await call('POST', '/v1/app', { token: rd, body: { image: 'x:1' } }),
        403,
        'FORBIDDEN',
        'is a read token: it may only read',
      );
      expectError(await call('PUT', `/v1/app/${appA.id}/stop`, { token: rd }), 403, 'FORBIDDEN');
      expectError(
        await call('GET', '/v1/token', { token: operatorB.status.value }),
        403,
        'FORBIDDEN',
        'needs an admin token',
      );
      expectError(
        await call('POST', '/v1/project', { token: operatorB.status.value, body: { name: 'x' } }),
        403,
        'FORBIDDEN',
      );
    });

    it('private registries: per project, passwords sealed and never shown, handed only to pulling agents', async () => {
      const rd = readA.status.value ?? '';
      const opB = operatorB.status.value ?? '';
      const created = await call<Registry>('POST', '/v1/registry', {
        body: { url: 'https://Registry.Example.com/team/', username: 'bot', password: 's3cret-pw' },
      });
      expect(created.status).toBe(200);
      const reg = RegistrySchema.parse(created.body);
      expect(reg).toMatchObject({
        url: 'registry.example.com/team',
        username: 'bot',
        user: 'admin',
        projectId: 'default',
        region: 'default',
      });
      expect(JSON.stringify(created.body)).not.toContain('s3cret-pw');
      // Sealed at rest.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ password_sealed: string }>(
          'SELECT password_sealed FROM gateway.registries WHERE id = $1',
          [reg.id],
        );
        expect(rows[0]?.password_sealed).toMatch(/^v1\./);
        expect(rows[0]?.password_sealed).not.toContain('s3cret');
      } finally {
        await client.end();
      }
      // Read tokens see them, may not change them; another project sees nothing of them.
      const listed = await call<RegistryList>('GET', '/v1/registry', { token: rd });
      expect(listed.body.items.map((r) => r.id)).toEqual([reg.id]);
      expect((await call('GET', `/v1/registry/${reg.id}`, { token: rd })).body).toEqual(reg);
      expectError(
        await call('POST', '/v1/registry', {
          token: rd,
          body: { url: 'x.io', username: 'u', password: 'p' },
        }),
        403,
        'FORBIDDEN',
      );
      expectError(await call('DELETE', `/v1/registry/${reg.id}`, { token: rd }), 403, 'FORBIDDEN');
      expectError(await call('GET', `/v1/registry/${reg.id}`, { token: opB }), 404, 'NOT_FOUND');
      expectError(await call('DELETE', `/v1/registry/${reg.id}`, { token: opB }), 404, 'NOT_FOUND');
      expect((await call<RegistryList>('GET', '/v1/registry', { token: opB })).body.items).toEqual([]);
      // The same address once per project; another project may have it too.
      expectError(
        await call('POST', '/v1/registry', {
          body: { url: 'registry.example.com/team', username: 'x', password: 'y' },
        }),
        409,
        'CONFLICT',
        'already has registry registry.example.com/team',
      );
      const theirs = await call<Registry>('POST', '/v1/registry', {
        token: opB,
        body: { url: 'registry.example.com', username: 'b-bot', password: 'b-pw' },
      });
      expect(theirs.body).toMatchObject({ projectId: 'team-b', url: 'registry.example.com', user: 'ci' });
      // Bad input is named.
      const bad = async (body: unknown, field: string) =>
        expectError(await call('POST', '/v1/registry', { body }), 400, 'VALIDATION_FAILED', field);
      await bad({ url: 'not a registry!', username: 'u', password: 'p' }, 'url');
      await bad({ url: 'x.io', username: 'u' }, 'password');
      await bad({ url: 'x.io', username: '', password: 'p' }, 'username');
      await bad({ url: 'x.io', username: 'u', password: 'p', token: 't' }, 'token');
      await bad([], 'body');
      expectError(
        await call('PUT', `/v1/registry/${reg.id}`, { body: {} }),
        400,
        'VALIDATION_FAILED',
        'name at least one of url, username, password',
      );
      expectError(await call('GET', '/v1/registry/not-a-uuid'), 400, 'VALIDATION_FAILED', 'id');
      // A new password; the answer still shows none.
      const updated = await call<Registry>('PUT', `/v1/registry/${reg.id}`, { body: { password: 'n3w-pw' } });
      expect(updated.status).toBe(200);
      expect(Date.parse((updated.body as Registry).updatedAt)).toBeGreaterThanOrEqual(
        Date.parse(reg.updatedAt),
      );
      expect(JSON.stringify(updated.body)).not.toContain('n3w-pw');

      // Moving the address takes the password again: a stored password never follows a new host.
      expectError(
        await call('PUT', `/v1/registry/${reg.id}`, { body: { url: 'evil.example.com' } }),
        400,
        'VALIDATION_FAILED',
        'password: is required to change url',
      );
      expectError(
        await call('POST', '/v1/registry', { body: { url: 'x.io', username: 'a:b', password: 'p' } }),
        400,
        'VALIDATION_FAILED',
        'username: must not contain a colon',
      );
      await bad({ url: 'x.io:99999', username: 'u', password: 'p' }, 'url');

      // What a node agent gets before it pulls: the project's most specific registry for the image,
      // and only for an image one of the project's live apps uses.
      const auth = (projectId: string, image: string) =>
        ns.bus.request('query.registry-auth.v1', { projectId, image });
      expect(await auth('default', 'registry.example.com/team/model:1')).toEqual({});
      await createApp({ image: 'registry.example.com/team/model:1', name: 'private-model' });
      await createApp({ image: 'registry.example.com/other/model:1', name: 'other-model' });
      await createApp({ image: 'registry.example.com/team/model:1', name: 'theirs' }, opB);
      expect(await auth('default', 'registry.example.com/team/model:1')).toEqual({
        auth: {
          url: 'registry.example.com/team',
          serverAddress: 'registry.example.com',
          username: 'bot',
          password: 'n3w-pw',
        },
      });
      expect(await auth('default', 'registry.example.com/other/model:1')).toEqual({});
      expect(await auth('default', 'nginx:1')).toEqual({});
      expect((await auth('team-b', 'registry.example.com/team/model:1')).auth).toMatchObject({
        username: 'b-bot',
        password: 'b-pw',
      });
      for (const hostile of ['{"projectId":1,"image":"x"}', 'not json', '{"projectId":"default"}']) {
        const reply = await ns.bus.nc.request(wireSubject(ns.namespace, 'query.registry-auth.v1'), hostile);
        expect(reply.json()).toMatchObject({
          ok: false,
          error: { error: expect.stringMatching(/INVALID_JSON|VALIDATION_FAILED/) },
        });
      }

      expect((await call('DELETE', `/v1/registry/${reg.id}`)).status).toBe(204);
      expectError(await call('GET', `/v1/registry/${reg.id}`), 404, 'NOT_FOUND');
      expect(await auth('default', 'registry.example.com/team/model:1')).toEqual({});
    });

    it('renew replaces the secret (old one refused, KV key moved); delete revokes', async () => {
      const oldSecret = readA.status.value ?? '';
      const renewed = await call<Token>('POST', `/v1/token/${readA.id}/renew`);
      expect(renewed.status).toBe(200);
      const newSecret = renewed.body.status.value ?? '';
      expect(renewed.body.status.version).toBe(2);
      expect(newSecret).not.toBe(oldSecret);
      expectError(await call('GET', '/v1/me', { token: oldSecret }), 401, 'UNAUTHORIZED');
      expect((await call('GET', '/v1/me', { token: newSecret })).body).toMatchObject({
        name: 'viewer',
        role: 'read',
      });
      await waitFor('the KV key to move', async () =>
        (await tokensKv.get(tokenKey(oldSecret))) === null &&
        (await tokensKv.get(tokenKey(newSecret)))?.version === 2
          ? true
          : undefined,
      );
      expect((await call('DELETE', `/v1/token/${readA.id}`)).status).toBe(204);
      expectError(await call('GET', '/v1/me', { token: newSecret }), 401, 'UNAUTHORIZED');
      await waitFor('the KV key to go', async () =>
        (await tokensKv.get(tokenKey(newSecret))) === null ? true : undefined,
      );
      expectError(await call('GET', `/v1/token/${readA.id}`), 404, 'NOT_FOUND');
      const admin = (await call<{ items: Token[] }>('GET', '/v1/token')).body.items.find(
        (t) => t.spec.name === 'admin',
      );
      expectError(await call('DELETE', `/v1/token/${admin?.id}`), 409, 'CONFLICT', 'GANTRY_ADMIN_TOKEN');
    });

    it('label-scoped tokens see only matching apps, and label what they create', async () => {
      const scoped = TokenSchema.parse(
        (
          await call('POST', '/v1/token', {
            body: { name: 'vision', role: 'operator', labelSelector: 'team=vision' },
          })
        ).body,
      );
      const token = scoped.status.value ?? '';
      const created = await createApp({ image: 'gantry-test/web:1' }, token);
      expect(created.spec.labels).toMatchObject({ team: 'vision' });
      expect(created.spec.name).toMatch(/^[a-z]+-[a-z]+-[0-9a-f]{4}$/);
      expectError(await call('GET', `/v1/app/${appA.id}`, { token }), 404, 'NOT_FOUND');
      const seen = AppPageSchema.parse((await call('GET', '/v1/app', { token })).body);
      expect(seen.items.map((x) => x.id)).toEqual([created.id]);
    });

    it('enforces the GPU quota of a project (403 QUOTA_EXCEEDED) and shows it', async () => {
      const op = operatorB.status.value ?? '';
      await createApp(
        { image: 'gantry-test/web:1', resources: { gpu: 2 }, scalingStrategy: { fixed: { replicas: 2 } } },
        op,
      );
      expectError(
        await call('POST', '/v1/app', { token: op, body: { image: 'x:1', resources: { gpu: 1 } } }),
        403,
        'QUOTA_EXCEEDED',
        'project team-b may hold 4 GPUs at once; 4 are in use and this app needs 1',
      );
      expect((await call('GET', '/v1/capabilities/quota', { token: op })).body).toEqual({
        projectId: 'team-b',
        resources: { CPU: 32, GPU: 4, memory: 128 * 1024 ** 3, apps: 50, tokens: 100 },
        // in-team-b and theirs (1 CPU, 4 GiB each), and the GPU app; the ci token.
        inUse: { CPU: 2, GPU: 4, memory: 8 * 1024 ** 3, apps: 3, tokens: 1 },
        storage: 0,
      });
      expect((await call('GET', '/v1/capabilities/quota?projectId=team-b')).body).toMatchObject({
        inUse: { GPU: 4 },
      });
    });
  });

  describe('listing', () => {
    it('pages, sorts and filters, validating every parameter', async () => {
      const names = ['list-c', 'list-a', 'list-b'];
      const created: App[] = [];
      for (const name of names)
        created.push(await createApp({ image: 'gantry-test/web:1', name, labels: { grp: 'list' } }));
      const q = 'labelSelector=grp%3Dlist&sort=name&order=asc';
      const p1 = AppPageSchema.parse((await call('GET', `/v1/app?${q}&size=2`)).body);
      expect(p1).toMatchObject({ page: 1, size: 2, total: 3 });
      expect(p1.items.map((x) => x.spec.name)).toEqual(['list-a', 'list-b']);
      const p2 = AppPageSchema.parse((await call('GET', `/v1/app?${q}&size=2&page=2`)).body);
      expect(p2.items.map((x) => x.spec.name)).toEqual(['list-c']);
      const first = created[0];
      if (!first) throw new Error('no app');
      await report(first, 'RUNNING', { version: 1, replicas: 1 });
      await waitForState(first.id, 'RUNNING');
      const running = AppPageSchema.parse(
        (await call('GET', `/v1/app?${q}&statusState=RUNNING,FAILED`)).body,
      );
      expect(running.items.map((x) => x.id)).toEqual([first.id]);
      expectError(
        await call('GET', '/v1/app?size=101'),
        400,
        'VALIDATION_FAILED',
        'size: must be at most 100',
      );
      expectError(
        await call('GET', '/v1/app?page=zero'),
        400,
        'VALIDATION_FAILED',
        'page: must be a whole number',
      );
      expectError(
        await call('GET', '/v1/app?statusState=SLEEPING'),
        400,
        'VALIDATION_FAILED',
        'statusState.0',
      );
      expectError(await call('GET', '/v1/app?sort=colour'), 400, 'VALIDATION_FAILED', 'sort: must be one of');
      expectError(
        await call('GET', '/v1/app?size=1&size=2'),
        400,
        'VALIDATION_FAILED',
        'size: must be given once',
      );
      expectError(
        await call('GET', '/v1/app?page[$gt]=1'),
        400,
        'VALIDATION_FAILED',
        'page[$gt]: is not a known field',
      );
    });
  });

  describe('every rejection is a JSON answer with the right status, and loses nothing', () => {
    it.each<[string, number, string, string, string]>([
      ['malformed JSON', 400, 'INVALID_JSON', 'JSON', '{"image": '],
      [
        'an unknown field',
        400,
        'VALIDATION_FAILED',
        'colour: is not a known field',
        JSON.stringify({ image: 'x:1', resources: { cpu: 1 }, colour: 'blue' }),
      ],
      [
        'a wrongly typed field',
        400,
        'VALIDATION_FAILED',
        'resources.cpu',
        JSON.stringify({ image: 'x:1', resources: { cpu: 'one' } }),
      ],
      [
        'a missing image',
        400,
        'VALIDATION_FAILED',
        'image: is required',
        JSON.stringify({ resources: { cpu: 1 } }),
      ],
      [
        'cpu and gpu together',
        400,
        'VALIDATION_FAILED',
        'pick one',
        JSON.stringify({ image: 'x:1', resources: { cpu: 1, gpu: 1 } }),
      ],
      [
        'too many units',
        400,
        'VALIDATION_FAILED',
        'at most 4 GPUs per replica',
        JSON.stringify({ image: 'x:1', resources: { gpu: 5 } }),
      ],
      [
        'a reserved label',
        400,
        'VALIDATION_FAILED',
        'reserved',
        JSON.stringify({ image: 'x:1', labels: { 'gantry/id': 'x' } }),
      ],
      [
        'a bad image reference',
        400,
        'VALIDATION_FAILED',
        'image: must be an image reference',
        JSON.stringify({ image: 'Not An Image' }),
      ],
      ['a JSON array', 400, 'VALIDATION_FAILED', 'the body must be a JSON object', '[1,2]'],
      ['a JSON scalar', 400, 'INVALID_JSON', 'JSON', '"image"'],
      ['an empty body', 400, 'VALIDATION_FAILED', 'image: is required', ''],
      [
        'a NUL in a string',
        400,
        'VALIDATION_FAILED',
        'name: must not contain NUL',
        JSON.stringify({ image: 'x:1', name: 'a\u0000b' }),
      ],
      [
        'a lone surrogate',
        400,
        'VALIDATION_FAILED',
        'envVars.0.value',
        '{"image":"x:1","envVars":[{"name":"A","value":"\\ud800"}]}',
      ],
    ])('POST /v1/app with %s → %i %s', async (_what, status, error, message, body) => {
      const before = (await call<{ total: number }>('GET', '/v1/app?size=1')).body.total;
      expectError(await call('POST', '/v1/app', { body }), status, error, message);
      expect((await call<{ total: number }>('GET', '/v1/app?size=1')).body.total).toBe(before);
    });

    it('a body that is not JSON → 415', async () => {
      const r = await call('POST', '/v1/app', {
        body: 'image=x:1',
        headers: { 'content-type': 'text/plain' },
      });
      expectError(r, 415, 'UNSUPPORTED_MEDIA_TYPE', 'request bodies must be JSON');
      const form = await call('POST', '/v1/app', {
        body: 'image=x%3A1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('a body over the limit → 413', async () => {
      const huge = JSON.stringify({ image: 'x:1', name: 'n', command: ['x'.repeat(2 * 1024 * 1024)] });
      expectError(await call('POST', '/v1/app', { body: huge }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('no token, a wrong token, a malformed header → 401 (with WWW-Authenticate)', async () => {
      const none = await call('GET', '/v1/app', { token: null });
      expectError(none, 401, 'UNAUTHORIZED', 'missing bearer token');
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expectError(await call('GET', '/v1/app', { token: 'not-a-token' }), 401, 'UNAUTHORIZED', 'not valid');
      expectError(
        await call('GET', '/v1/app', { token: null, headers: { authorization: 'Basic YTpi' } }),
        401,
        'UNAUTHORIZED',
        'must be Bearer',
      );
      expectError(
        await call('POST', '/v1/app', { token: null, body: { image: 'x:1' } }),
        401,
        'UNAUTHORIZED',
      );
    });

    it.each<
      [string, number, { method?: string; path?: string; body?: string; headers?: Record<string, string> }]
    >([
      ['a __proto__ label', 400, { body: '{"image":"x:1","labels":{"__proto__":"x"}}' }],
      ['a top-level __proto__', 400, { body: '{"image":"x:1","__proto__":{"admin":true}}' }],
      ['a constructor label', 200, { body: '{"image":"x:1","labels":{"constructor":"x"}}' }],
      ['a 1e400 port', 400, { body: '{"image":"x:1","defaultHttpPort":1e400}' }],
      [
        'JSON nested 100 000 deep',
        400,
        { body: '{"image":"x:1","command":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}' },
      ],
      [
        'an unsupported charset',
        415,
        { body: '{"image":"x:1"}', headers: { 'content-type': 'application/json; charset=ebcdic' } },
      ],
      [
        'a gzip body that is not gzip',
        400,
        { body: '{"image":"x:1"}', headers: { 'content-encoding': 'gzip' } },
      ],
      [
        'an unknown content encoding',
        415,
        { body: '{"image":"x:1"}', headers: { 'content-encoding': 'zstd-x' } },
      ],
      ['a year-0 date filter', 200, { method: 'GET', path: '/v1/app?updatedAfter=0000-01-01T00:00:00Z' }],
      [
        'a far-future date filter',
        200,
        { method: 'GET', path: '/v1/app?updatedBefore=9999-12-31T23:59:59%2B14:00' },
      ],
      ['February 30th', 400, { method: 'GET', path: '/v1/app?updatedAfter=2026-02-30T00:00:00Z' }],
      ['the last page there could be', 200, { method: 'GET', path: '/v1/app?page=1000000&size=100' }],
      ['a 600-character id', 404, { method: 'GET', path: `/v1/app/${'a'.repeat(600)}` }],
      ['a NUL in the query', 400, { method: 'GET', path: '/v1/app?labelSelector=a%00=b' }],
      [
        'an oversized token',
        401,
        { method: 'GET', path: '/v1/me', headers: { authorization: `Bearer ${'t'.repeat(4000)}` } },
      ],
      [
        'a text body on a PUT',
        415,
        {
          method: 'PUT',
          path: '/v1/app/00000000-0000-4000-8000-000000000000/stop',
          body: 'now',
          headers: { 'content-type': 'text/plain' },
        },
      ],
    ])('%s → %i, never a 500', async (_what, status, req) => {
      const r = await call(req.method ?? 'POST', req.path ?? '/v1/app', {
        ...(req.headers?.['authorization'] ? { token: null } : {}),
        ...(req.body !== undefined ? { body: req.body } : {}),
        ...(req.headers ? { headers: req.headers } : {}),
      });
      expect(r.status).toBe(status);
      if (status >= 400)
        expect(r.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    });

    it('unknown app → 404 (a malformed id names no app either), unknown route → 404, all JSON', async () => {
      expectError(
        await call('GET', '/v1/app/00000000-0000-4000-8000-000000000000'),
        404,
        'NOT_FOUND',
        'app 00000000-0000-4000-8000-000000000000 does not exist',
      );
      expectError(
        await call('GET', '/v1/app/not-a-uuid'),
        404,
        'NOT_FOUND',
        'app "not-a-uuid" does not exist',
      );
      expectError(await call('PUT', '/v1/app/00000000-0000-4000-8000-000000000000/start'), 404, 'NOT_FOUND');
      expectError(await call('GET', '/v1/nothing-here'), 404, 'NOT_FOUND', 'no such endpoint');
      expectError(await call('PATCH', '/v1/app'), 404, 'NOT_FOUND');
      const badPath = await call('GET', '/v1/app/%E0%A4%A');
      expect(badPath.status).toBe(400);
      expect(badPath.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
      expectError(await call('GET', '/v1/me?x=1'), 400, 'VALIDATION_FAILED', 'x: is not a known field');
    });
  });

  describe('logs, events and usage from the services that own them', () => {
    let a: App;

    beforeAll(async () => {
      a = await createApp({ image: 'gantry-test/web:1', name: 'queried' });
    });

    it('nobody answering → 503; an answer that never comes → 504', async () => {
      expectError(
        await call('GET', `/v1/app/${a.id}/log`),
        503,
        'UNAVAILABLE',
        'log-collector is not available',
      );
      expectError(await call('GET', `/v1/app/${a.id}/event`), 503, 'UNAVAILABLE', 'log-collector');
      expectError(
        await call('GET', '/v1/billing/usage'),
        503,
        'UNAVAILABLE',
        'billing-meter is not available',
      );
      const silent = ns.bus.nc.subscribe(wireSubject(ns.namespace, 'query.events.v1'));
      await ns.bus.nc.flush();
      expectError(await call('GET', `/v1/app/${a.id}/event`), 504, 'TIMEOUT', 'log-collector did not answer');
      silent.unsubscribe();
    });

    it('passes the log tail through, in the reference Logs shape', async () => {
      const logs = {
        lastActivity: '2026-11-23T09:00:01.000Z',
        logs: [
          {
            timestamp: '2026-11-23T09:00:01.123456789Z',
            content: 'listening on 8080',
            replica: 'r1',
            stream: 'stdout',
          },
        ],
      };
      const seen = respond('query.logs.v1', () => ({ ok: true, data: logs }));
      await ns.bus.nc.flush();
      const r = await call('GET', `/v1/app/${a.id}/log?tail=50&replica=r1`);
      expect(r).toMatchObject({ status: 200, body: logs });
      expect(seen).toEqual([{ appId: a.id, tail: 50, replica: 'r1' }]);
      expectError(
        await call('GET', `/v1/app/${a.id}/log?tail=0`),
        400,
        'VALIDATION_FAILED',
        'tail: must be at least 1',
      );
      expectError(await call('GET', `/v1/app/${a.id}/log?follow=true`), 400, 'VALIDATION_FAILED', 'follow');
    });

    it('passes events through; a contract-breaking answer → 503', async () => {
      const event = {
        id: 'e1',
        appId: a.id,
        projectId: 'default',
        at: '2026-11-23T09:00:00.000Z',
        source: 'scheduler',
        type: 'STATE_CHANGED',
        reason: 'APP_RUNNING',
        message: 'running',
      };
      let broken = false;
      respond('query.events.v1', () =>
        broken ? { ok: true, data: { events: 'nope' } } : { ok: true, data: { events: [event] } },
      );
      await ns.bus.nc.flush();
      expect(await call('GET', `/v1/app/${a.id}/event?limit=10`)).toMatchObject({
        status: 200,
        body: { events: [event] },
      });
      broken = true;
      expectError(
        await call('GET', `/v1/app/${a.id}/event`),
        503,
        'UNAVAILABLE',
        // The field the answer got wrong, not a dump of every issue.
        'log-collector could not answer: answer to query.events.v1: events: ',
      );
    });

    it('scopes usage to the caller’s project and renders charges as decimals', async () => {
      const usage = {
        asOf: '2026-11-23T16:00:00.000Z',
        runs: [
          {
            runId: 'run-1',
            appId: a.id,
            projectId: 'default',
            flavor: 'ai1-1-gpu',
            unitPriceMicros: 1_930_000,
            currency: 'EUR',
            start: '2026-11-23T10:00:00.000Z',
            end: '2026-11-23T16:00:00.000Z',
            minutes: 360,
            unitMinutes: 480,
            chargeMicros: 15_440_000,
            periods: [],
          },
        ],
        totals: [{ currency: 'EUR', minutes: 360, unitMinutes: 480, chargeMicros: 15_440_000 }],
      };
      const seen = respond('query.usage.v1', () => ({ ok: true, data: usage }));
      await ns.bus.nc.flush();
      const r = await call('GET', `/v1/billing/usage?appId=${a.id}&from=2026-11-23T00:00:00Z`);
      expect(r.status).toBe(200);
      const out = UsageOutputSchema.parse(r.body);
      expect(out.runs[0]).toMatchObject({ chargeMicros: 15_440_000, charge: '15.44', unitPrice: '1.93' });
      expect(out.totals[0]).toMatchObject({ charge: '15.44' });
      expect(seen.at(-1)).toEqual({ projectId: 'default', appId: a.id, from: '2026-11-23T00:00:00Z' });

      const op = TokenSchema.parse(
        (
          await call('POST', '/v1/token', {
            body: { name: 'billing-op', role: 'operator', projectId: 'team-b' },
          })
        ).body,
      ).status.value;
      await call('GET', '/v1/billing/usage', { token: op });
      expect(seen.at(-1)).toEqual({ projectId: 'team-b' });
      expectError(await call('GET', `/v1/billing/usage?appId=${a.id}`, { token: op }), 404, 'NOT_FOUND');
      expectError(await call('GET', '/v1/billing/usage?projectId=default', { token: op }), 403, 'FORBIDDEN');
      await call('GET', '/v1/billing/usage?projectId=team-b');
      expect(seen.at(-1)).toEqual({ projectId: 'team-b' });
      expectError(
        await call('GET', '/v1/billing/usage?from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z'),
        400,
        'VALIDATION_FAILED',
        'to: must be after from',
      );
    });
  });
});
