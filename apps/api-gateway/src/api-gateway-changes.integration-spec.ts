import { randomUUID } from 'node:crypto';

import {
  type App,
  type AppDesired,
  type AppEvent,
  type AppEventBatch,
  AppEventSchema,
  AppSchema,
  type AppState,
  type AppStatusChanged,
  MeSchema,
  type NodeRecord,
  NodeRecordSchema,
  ProjectSchema,
  QuotaSchema,
  type Token,
  TokenSchema,
  wireSubject,
} from '@gantry/contracts';
import {
  type CallOptions,
  createTestDatabase,
  createTestNamespace,
  expectError,
  jsonClient,
  type Reply,
  sleep,
  type TestDatabase,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import { Validator } from '@seriousme/openapi-schema-validator';

import { startGateway } from './__fixtures__/gateway.js';
import { GatewayStore } from './store/gateway-store.js';

const ADMIN = 'it-admin-secret-changes-0123456789';
const WEB = 'gantry-test/web:1';
const GiB = 1024 ** 3;

/** Calls the gateway at `base` as a client would (the admin token unless told otherwise). */
const call = <T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  opts: CallOptions = {},
) => jsonClient(() => base, ADMIN)<T>(method, path, opts);

describe('api-gateway: changing apps, quotas, nodes, docs (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let base: string;
  const desired: AppDesired[] = [];
  const events: AppEvent[] = [];
  const subs: Subscription[] = [];
  let operatorC: string; // operator of project team-c
  let reader: string; // read token of the default project
  let vision: string; // operator of the default project scoped to team=vision

  const api = jsonClient(() => base, ADMIN);

  async function createApp(body: Record<string, unknown>, token = ADMIN): Promise<App> {
    const r = await api<App>('POST', '/v1/app', { body, token });
    if (r.status !== 200) throw new Error(`POST /v1/app → ${r.status} ${JSON.stringify(r.body)}`);
    return AppSchema.parse(r.body);
  }

  async function newToken(body: Record<string, unknown>): Promise<string> {
    const r = await api<Token>('POST', '/v1/token', { body });
    return TokenSchema.parse(r.body).status.value ?? '';
  }

  const desiredOf = (appId: string) =>
    desired.filter((d) => d.appId === appId).sort((a, b) => a.version - b.version);
  const waitForDesired = (appId: string, version: number) =>
    waitFor(`app.desired.v1 v${version} of ${appId}`, () =>
      desiredOf(appId).find((d) => d.version === version),
    );
  const waitForEvent = (appId: string, text: string) =>
    waitFor(`an app event of ${appId} saying ${text}`, () =>
      events.find((e) => e.appId === appId && e.message.includes(text)),
    );

  let statusVersion = 10;
  /** Publishes a status as the scheduler would, and waits for the gateway to show it. */
  async function report(a: App, state: AppState, replicas = 0): Promise<void> {
    const version = ++statusVersion;
    const at = new Date().toISOString();
    const status: AppStatusChanged = {
      id: `${a.id}:status:${version}`,
      appId: a.id,
      projectId: a.projectId,
      version,
      at,
      state,
      info: { code: state === 'FAILED' ? 'APP_FAILED' : 'APP_RUNNING', message: `now ${state}` },
      availableReplicas: replicas,
      allocatedUnits: replicas,
      history: [...a.status.history, { state, date: at }],
      lastTransitionDate: at,
      rate: { flavor: a.spec.resources.flavor, unitPriceMicros: 1, currency: 'EUR' },
    };
    await ns.bus.publish('app.status.v2', { id: randomUUID(), statuses: [status] });
    await waitFor(`${a.id} ${state}`, async () =>
      (await api<App>('GET', `/v1/app/${a.id}`)).body.status.state === state ? true : undefined,
    );
  }

  /** Answers a query subject the way a service's @OnQuery handler does, recording the requests. */
  function respond(subject: string, answer: (req: Record<string, unknown>) => unknown): unknown[] {
    const seen: unknown[] = [];
    const sub = ns.bus.nc.subscribe(wireSubject(ns.namespace, subject), {
      callback: (_err, m: Msg) => {
        const req = m.json<Record<string, unknown>>();
        seen.push(req);
        m.respond(JSON.stringify(answer(req)));
      },
    });
    subs.push(sub);
    return seen;
  }

  beforeAll(async () => {
    db = await createTestDatabase('gwc');
    ns = await createTestNamespace('gwc');
    subs.push(
      ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.desired.v1'), {
        callback: (_e, m) => {
          desired.push(m.json<AppDesired>());
        },
      }),
      ns.bus.nc.subscribe(wireSubject(ns.namespace, 'app.event.v2'), {
        callback: (_e, m) => {
          events.push(...m.json<AppEventBatch>().events.map((x) => AppEventSchema.parse(x)));
        },
      }),
    );
    ({ app, base } = await startGateway(db, ns, ADMIN, {
      QUERY_TIMEOUT_MS: '600',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
    }));
    expect((await api('POST', '/v1/project', { body: { id: 'team-c', name: 'Team C' } })).status).toBe(200);
    operatorC = await newToken({ name: 'ci', role: 'operator', projectId: 'team-c' });
    reader = await newToken({ name: 'viewer', role: 'read' });
    vision = await newToken({ name: 'vision', role: 'operator', labelSelector: 'team=vision' });
  });

  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  describe('PUT /v1/app/{id}/label', () => {
    let a: App;

    beforeAll(async () => {
      a = await createApp({ image: WEB, name: 'labelled', labels: { team: 'vision' } });
    });

    it('sets a label: 200 with the App, desired v2 with the whole spec, an event naming who', async () => {
      const r = await api<App>('PUT', `/v1/app/${a.id}/label`, { body: { name: 'stage', value: 'prod' } });
      expect(r.status).toBe(200);
      const got = AppSchema.parse(r.body);
      expect(got.spec.labels).toEqual({ team: 'vision', stage: 'prod', 'gantry/id': a.id });
      expect(Date.parse(got.updatedAt)).toBeGreaterThan(Date.parse(a.updatedAt));
      expect(await waitForDesired(a.id, 2)).toMatchObject({
        lifecycle: 'RUNNING',
        spec: { ...a.spec, labels: got.spec.labels },
      });
      expect(await waitForEvent(a.id, 'label stage set to "prod" (by admin)')).toMatchObject({
        type: 'SPEC_CHANGED',
        source: 'api-gateway',
        id: `${a.id}:api:2`,
      });
      expect((await api<App>('GET', `/v1/app/${a.id}`)).body.spec.labels).toEqual(got.spec.labels);
    });

    it('setting what is already set publishes nothing; no value removes the label', async () => {
      expect(
        (await api('PUT', `/v1/app/${a.id}/label`, { body: { name: 'stage', value: 'prod' } })).status,
      ).toBe(200);
      const removed = await api<App>('PUT', `/v1/app/${a.id}/label`, { body: { name: 'stage' } });
      expect(removed.body.spec.labels).toEqual({ team: 'vision', 'gantry/id': a.id });
      await waitForDesired(a.id, 3);
      await waitForEvent(a.id, 'label stage removed (was "prod") (by admin)');
      await sleep(200);
      expect(desiredOf(a.id).map((d) => d.version)).toEqual([1, 2, 3]);
    });

    it('refuses platform labels (400 naming the key) and malformed bodies (400 naming the field)', async () => {
      const path = `/v1/app/${a.id}/label`;
      expectError(
        await api('PUT', path, { body: { name: 'gantry/id', value: 'mine' } }),
        400,
        'VALIDATION_FAILED',
        'name: "gantry/id" is reserved: the gantry/ prefix belongs to the platform',
      );
      expectError(
        await api('PUT', path, { body: { name: 'gantry/owner', value: 'x' } }),
        400,
        'VALIDATION_FAILED',
        '"gantry/owner" is reserved',
      );
      expectError(
        await api('PUT', path, { body: { key: 'stage', value: 'x' } }),
        400,
        'VALIDATION_FAILED',
        'key: the label body is {"name": key, "value": value}: use name',
      );
      expectError(
        await api('PUT', path, { body: { name: 'stage', value: 'not ok' } }),
        400,
        'VALIDATION_FAILED',
        'value: label values are up to 63',
      );
      expectError(
        await api('PUT', path, { body: { value: 'x' } }),
        400,
        'VALIDATION_FAILED',
        'name: is required',
      );
      expectError(await api('PUT', path), 400, 'VALIDATION_FAILED', 'is required');
      expectError(
        await api('PUT', `${path}?force=true`, { body: { name: 'x', value: 'y' } }),
        400,
        'VALIDATION_FAILED',
        'force: is not a known field',
      );
    });

    it('403 for a read token, 404 for another project’s token, unknown or malformed ids', async () => {
      const body = { name: 'stage', value: 'x' };
      expectError(
        await api('PUT', `/v1/app/${a.id}/label`, { body, token: reader }),
        403,
        'FORBIDDEN',
        'token viewer is a read token: it may only read, not change anything',
      );
      expectError(
        await api('PUT', `/v1/app/${a.id}/label`, { body, token: operatorC }),
        404,
        'NOT_FOUND',
        `app ${a.id} does not exist`,
      );
      expectError(
        await api('PUT', '/v1/app/00000000-0000-4000-8000-000000000000/label', { body }),
        404,
        'NOT_FOUND',
        'app 00000000-0000-4000-8000-000000000000 does not exist',
      );
      expectError(
        await api('PUT', '/v1/app/nope/label', { body }),
        404,
        'NOT_FOUND',
        'app "nope" does not exist',
      );
    });

    it('a label-scoped token may label its apps, not change the label that scopes them (403)', async () => {
      const r = await api<App>('PUT', `/v1/app/${a.id}/label`, {
        body: { name: 'owner', value: 'cv' },
        token: vision,
      });
      expect(r.status).toBe(200);
      await waitForEvent(a.id, 'label owner set to "cv" (by vision)');
      expectError(
        await api('PUT', `/v1/app/${a.id}/label`, { body: { name: 'team', value: 'nlp' }, token: vision }),
        403,
        'FORBIDDEN',
        'a token scoped to team=vision cannot change label team: the app would leave its reach',
      );
      expectError(
        await api('PUT', `/v1/app/${a.id}/label`, { body: { name: 'team' }, token: vision }),
        403,
        'FORBIDDEN',
        'cannot remove label team',
      );
      // Admins may: the app then leaves the scoped token's reach (404 for it).
      expect(
        (await api('PUT', `/v1/app/${a.id}/label`, { body: { name: 'team', value: 'nlp' } })).status,
      ).toBe(200);
      expectError(await api('GET', `/v1/app/${a.id}`, { token: vision }), 404, 'NOT_FOUND');
    });
  });

  describe('PUT /v1/app/{id}/scalingstrategy, and the GPU quota (PUT /v1/project/{id}/quota)', () => {
    let gpu: App;

    beforeAll(async () => {
      gpu = await createApp({ image: WEB, name: 'gpu-app', resources: { gpu: 1 } }, operatorC);
      await report(gpu, 'RUNNING', 1);
    });

    it('scales a RUNNING app: 200 with the App, desired RUNNING with the new count, an APP_SCALING event', async () => {
      const r = await api<App>('PUT', `/v1/app/${gpu.id}/scalingstrategy`, {
        body: { fixed: { replicas: 3 } },
        token: operatorC,
      });
      expect(r.status).toBe(200);
      expect(r.body.spec.scalingStrategy).toEqual({ fixed: { replicas: 3 } });
      expect(r.body.status.state).toBe('RUNNING'); // the scheduler reports SCALING when it acts
      expect(await waitForDesired(gpu.id, 2)).toMatchObject({
        lifecycle: 'RUNNING',
        spec: { scalingStrategy: { fixed: { replicas: 3 } } },
      });
      expect(await waitForEvent(gpu.id, 'replicas 1 → 3 (by ci)')).toMatchObject({ reason: 'APP_SCALING' });
      expect((await api('GET', '/v1/capabilities/quota', { token: operatorC })).body).toMatchObject({
        resources: { GPU: 4 },
        inUse: { GPU: 3 },
      });
    });

    it('refuses more GPUs than the quota (403 QUOTA_EXCEEDED, counting the new replica count)', async () => {
      expectError(
        await api('PUT', `/v1/app/${gpu.id}/scalingstrategy`, {
          body: { fixed: { replicas: 5 } },
          token: operatorC,
        }),
        403,
        'QUOTA_EXCEEDED',
        'project team-c may hold 4 GPUs at once; 0 are in use and this app needs 5',
      );
      const other = await createApp({ image: WEB, resources: { gpu: 1 } }, operatorC);
      expectError(
        await api('PUT', `/v1/app/${other.id}/scalingstrategy`, {
          body: { fixed: { replicas: 2 } },
          token: operatorC,
        }),
        403,
        'QUOTA_EXCEEDED',
        '3 are in use and this app needs 2',
      );
      // Scaling down is always allowed.
      const down = await api<App>('PUT', `/v1/app/${gpu.id}/scalingstrategy`, {
        body: { fixed: { replicas: 2 } },
        token: operatorC,
      });
      expect(down.body.spec.scalingStrategy).toEqual({ fixed: { replicas: 2 } });
    });

    it('an admin raises the quota; GET /v1/capabilities/quota reflects it; the scale-up now passes', async () => {
      const r = await api('PUT', '/v1/project/team-c/quota', { body: { gpuQuota: 8 } });
      expect(r.status).toBe(200);
      // The other quotas keep their defaults; what counts against each is shown beside it.
      expect(QuotaSchema.parse(r.body)).toEqual({
        projectId: 'team-c',
        resources: { CPU: 32, GPU: 8, memory: 128 * GiB, apps: 50, tokens: 100 },
        inUse: { CPU: 0, GPU: 3, memory: 0, apps: 2, tokens: 1 },
        storage: 0,
      });
      expect((await api('GET', '/v1/capabilities/quota', { token: operatorC })).body).toMatchObject({
        resources: { GPU: 8 },
      });
      expect((await api('GET', '/v1/capabilities/quota?projectId=team-c')).body).toMatchObject({
        resources: { GPU: 8 },
      });
      const up = await api<App>('PUT', `/v1/app/${gpu.id}/scalingstrategy`, {
        body: { fixed: { replicas: 5 } },
        token: operatorC,
      });
      expect(up.status).toBe(200);
      expect(up.body.spec.scalingStrategy).toEqual({ fixed: { replicas: 5 } });
    });

    it('quota changes: 403 for non-admins, 404 for unknown projects, 400 naming the field', async () => {
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { gpuQuota: 100 }, token: operatorC }),
        403,
        'FORBIDDEN',
        'this endpoint needs an admin token; token ci is operator',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { gpuQuota: 100 }, token: reader }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await api('PUT', '/v1/project/no-such-team/quota', { body: { gpuQuota: 1 } }),
        404,
        'NOT_FOUND',
        'project no-such-team does not exist',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { gpuQuota: -1 } }),
        400,
        'VALIDATION_FAILED',
        'gpuQuota: must be at least 0',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { gpuQuota: 2.5 } }),
        400,
        'VALIDATION_FAILED',
        'gpuQuota: must be a whole number of GPUs',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { maxGpus: 3 } }),
        400,
        'VALIDATION_FAILED',
        'maxGpus: is not a known field',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: {} }),
        400,
        'VALIDATION_FAILED',
        'give at least one of cpuQuota, gpuQuota, memoryQuota, appQuota, tokenQuota',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { memoryQuota: -1 } }),
        400,
        'VALIDATION_FAILED',
        'memoryQuota: must be at least 0',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { cpuQuota: 1.5 } }),
        400,
        'VALIDATION_FAILED',
        'cpuQuota: must be a whole number of CPUs',
      );
      expectError(
        await api('PUT', '/v1/project/team-c/quota', { body: { appQuota: 100_001 } }),
        400,
        'VALIDATION_FAILED',
        'appQuota: must be at most 100000',
      );
      expectError(
        await api('POST', '/v1/project', { body: { name: 'Team Z', tokenQuota: 'many' } }),
        400,
        'VALIDATION_FAILED',
        'tokenQuota: must be a whole number of tokens',
      );
    });

    it('refuses replica counts outside 1-10 and malformed automatic scaling (400 naming the field)', async () => {
      const path = `/v1/app/${gpu.id}/scalingstrategy`;
      expectError(
        await api('PUT', path, { body: { fixed: { replicas: 11 } } }),
        400,
        'VALIDATION_FAILED',
        'fixed.replicas: must be at most 10',
      );
      expectError(
        await api('PUT', path, { body: { fixed: { replicas: 0 } } }),
        400,
        'VALIDATION_FAILED',
        'fixed.replicas: must be at least 1',
      );
      expectError(
        await api('PUT', path, { body: { fixed: { replicas: '3' } } }),
        400,
        'VALIDATION_FAILED',
        'fixed.replicas: must be a whole number of replicas (1-10)',
      );
      expectError(
        await api('PUT', path, { body: { automatic: { replicasMin: 3, replicasMax: 2 } } }),
        400,
        'VALIDATION_FAILED',
        'automatic.replicasMax: must be at least replicasMin (3)',
      );
      expectError(
        await api('PUT', path, { body: {} }),
        400,
        'VALIDATION_FAILED',
        'set exactly one of fixed and automatic',
      );
      expectError(
        await api('PUT', path, { body: { fixed: { replicas: 2 } }, token: reader }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await api('PUT', path, { body: { fixed: { replicas: 2 } }, token: vision }),
        404,
        'NOT_FOUND',
      );
    });

    it('409 on a FAILED app (it can only be deleted) and on an app being deleted', async () => {
      const failing = await createApp({ image: WEB, name: 'failing' });
      await report(failing, 'FAILED');
      expectError(
        await api('PUT', `/v1/app/${failing.id}/scalingstrategy`, { body: { fixed: { replicas: 2 } } }),
        409,
        'CONFLICT',
        `cannot change app ${failing.id}: it is FAILED`,
      );
      expectError(
        await api('PUT', `/v1/app/${failing.id}/image`, { body: { url: 'gantry-test/web:2' } }),
        409,
        'CONFLICT',
        'it is FAILED',
      );
      // Labels still apply.
      expect(
        (await api('PUT', `/v1/app/${failing.id}/label`, { body: { name: 'triage', value: 'yes' } })).status,
      ).toBe(200);
      expect((await api('DELETE', `/v1/app/${failing.id}`)).status).toBe(204);
      expectError(
        await api('PUT', `/v1/app/${failing.id}/label`, { body: { name: 'triage', value: 'no' } }),
        409,
        'CONFLICT',
        `cannot change app ${failing.id}: it is being deleted`,
      );
      expectError(
        await api('PUT', `/v1/app/${failing.id}`, { body: { defaultHttpPort: 9000 } }),
        409,
        'CONFLICT',
        'being deleted',
      );
    });
  });

  describe('quotas per project: CPUs, memory, apps and tokens (403 QUOTA_EXCEEDED naming the quota)', () => {
    let opQ: string; // operator of project team-q
    let a: App;

    /** `GET /v1/me` of team-q's operator: its quotas and what is in use against each. */
    const quotasOfQ = async () => MeSchema.parse((await api('GET', '/v1/me', { token: opQ })).body).quotas;

    it('an admin creates a project with some quotas (the rest default); /v1/me shows usage against each', async () => {
      const created = await api('POST', '/v1/project', {
        body: { id: 'team-q', name: 'Team Q', cpuQuota: 8, appQuota: 3, tokenQuota: 2 },
      });
      expect(ProjectSchema.parse(created.body)).toMatchObject({
        id: 'team-q',
        cpuQuota: 8,
        gpuQuota: 4,
        memoryQuota: 128 * GiB,
        appQuota: 3,
        tokenQuota: 2,
      });
      opQ = await newToken({ name: 'q-ci', role: 'operator', projectId: 'team-q' });
      a = await createApp(
        { image: WEB, resources: { cpu: 2 }, scalingStrategy: { fixed: { replicas: 2 } } },
        opQ,
      );
      expect(await quotasOfQ()).toEqual({
        projectId: 'team-q',
        resources: { CPU: 8, GPU: 4, memory: 128 * GiB, apps: 3, tokens: 2 },
        inUse: { CPU: 4, GPU: 0, memory: 16 * GiB, apps: 1, tokens: 1 },
        storage: 0,
      });
    });

    it('refuses an app, or a scale-up (an automatic app at replicasMax), past the CPU quota', async () => {
      const tooBig = await api('POST', '/v1/app', {
        token: opQ,
        body: { image: WEB, resources: { cpu: 5 } },
      });
      expectError(
        tooBig,
        403,
        'QUOTA_EXCEEDED',
        'project team-q may hold 8 CPUs at once; 4 are in use and this app needs 5',
      );
      expect(tooBig.body['details']).toEqual({ quota: 'CPU', limit: 8, inUse: 4, needed: 5 });
      expectError(
        await api('PUT', `/v1/app/${a.id}/scalingstrategy`, {
          token: opQ,
          body: { automatic: { replicasMin: 1, replicasMax: 5, resourceType: 'CPU' } },
        }),
        403,
        'QUOTA_EXCEEDED',
        'project team-q may hold 8 CPUs at once; 0 are in use and this app needs 10',
      );
      expect((await quotasOfQ()).inUse).toMatchObject({ CPU: 4, apps: 1 }); // nothing was created
    });

    it('an admin lowers the memory quota: more memory is refused, less always passes', async () => {
      const set = await api('PUT', '/v1/project/team-q/quota', { body: { memoryQuota: 20 * GiB } });
      expect(QuotaSchema.parse(set.body)).toMatchObject({
        resources: { CPU: 8, memory: 20 * GiB, apps: 3, tokens: 2 },
        inUse: { CPU: 4, memory: 16 * GiB },
      });
      const message =
        'project team-q may hold 20 GiB of memory at once; 0 bytes are in use and this app needs 24 GiB';
      expectError(
        await api('PUT', `/v1/app/${a.id}`, { token: opQ, body: { resources: { cpu: 3 } } }),
        403,
        'QUOTA_EXCEEDED',
        message,
      );
      const scaleUp = await api('PUT', `/v1/app/${a.id}/scalingstrategy`, {
        token: opQ,
        body: { fixed: { replicas: 3 } },
      });
      expectError(scaleUp, 403, 'QUOTA_EXCEEDED', message);
      expect(scaleUp.body['details']).toEqual({
        quota: 'memory',
        limit: 20 * GiB,
        inUse: 0,
        needed: 24 * GiB,
      });
      // Down to 8 GiB; then 12 GiB (3 CPUs × 1 replica) grows it again, within the quota.
      const down = await api<App>('PUT', `/v1/app/${a.id}/scalingstrategy`, {
        token: opQ,
        body: { fixed: { replicas: 1 } },
      });
      expect(down.status).toBe(200);
      const update = await api<App>('PUT', `/v1/app/${a.id}`, {
        token: opQ,
        body: { resources: { cpu: 3 } },
      });
      expect(update.status).toBe(200);
      a = AppSchema.parse(update.body);
      expect((await quotasOfQ()).inUse).toMatchObject({ CPU: 3, memory: 12 * GiB });
    });

    it('checks a start again: a stopped app holds nothing, and may start only within the quotas', async () => {
      expect((await api('PUT', `/v1/app/${a.id}/stop`, { token: opQ })).status).toBe(204);
      await report(a, 'STOPPED');
      expect((await quotasOfQ()).inUse).toMatchObject({ CPU: 0, memory: 0, apps: 1 });
      // While a is stopped another app takes 16 GiB of the 20.
      await createApp({ image: WEB, resources: { cpu: 4 } }, opQ);
      expectError(
        await api('PUT', `/v1/app/${a.id}/start`, { token: opQ }),
        403,
        'QUOTA_EXCEEDED',
        'project team-q may hold 20 GiB of memory at once; 16 GiB are in use and this app needs 12 GiB',
      );
      expect((await api('PUT', '/v1/project/team-q/quota', { body: { memoryQuota: 28 * GiB } })).status).toBe(
        200,
      );
      expect((await api('PUT', `/v1/app/${a.id}/start`, { token: opQ })).status).toBe(204);
      expect((await quotasOfQ()).inUse).toMatchObject({ CPU: 7, memory: 28 * GiB, apps: 2 });
    });

    it('refuses an app past the apps quota, stopped apps counted', async () => {
      expect(
        (await api('PUT', '/v1/project/team-q/quota', { body: { cpuQuota: 9, memoryQuota: 64 * GiB } }))
          .status,
      ).toBe(200);
      await createApp({ image: WEB, resources: { cpu: 1 } }, opQ);
      const fourth = await api('POST', '/v1/app', {
        token: opQ,
        body: { image: WEB, resources: { cpu: 1 } },
      });
      expectError(
        fourth,
        403,
        'QUOTA_EXCEEDED',
        'project team-q may have 3 apps; it has 3: delete one before creating another',
      );
      expect(fourth.body['details']).toEqual({ quota: 'apps', limit: 3, inUse: 3, needed: 1 });
    });

    it('refuses a token past the tokens quota; revoking one makes room', async () => {
      const second = await api<Token>('POST', '/v1/token', {
        body: { name: 'q-viewer', role: 'read', projectId: 'team-q' },
      });
      expect(second.status).toBe(200);
      const third = await api('POST', '/v1/token', {
        body: { name: 'q-more', role: 'read', projectId: 'team-q' },
      });
      expectError(
        third,
        403,
        'QUOTA_EXCEEDED',
        'project team-q may have 2 tokens; it has 2: revoke one before creating another',
      );
      expect(third.body['details']).toEqual({ quota: 'tokens', limit: 2, inUse: 2, needed: 1 });
      expect((await api('DELETE', `/v1/token/${TokenSchema.parse(second.body).id}`)).status).toBe(204);
      expect(
        (await api('POST', '/v1/token', { body: { name: 'q-more', role: 'read', projectId: 'team-q' } }))
          .status,
      ).toBe(200);
      expect(await quotasOfQ()).toEqual({
        projectId: 'team-q',
        resources: { CPU: 9, GPU: 4, memory: 64 * GiB, apps: 3, tokens: 2 },
        inUse: { CPU: 8, GPU: 0, memory: 32 * GiB, apps: 3, tokens: 2 },
        storage: 0,
      });
      expect((await api('GET', '/v1/project')).body['items']).toContainEqual(
        expect.objectContaining({
          id: 'team-q',
          cpuQuota: 9,
          memoryQuota: 64 * GiB,
          appQuota: 3,
          tokenQuota: 2,
        }),
      );
    });
  });

  describe('PUT /v1/app/{id} and PUT /v1/app/{id}/image', () => {
    let a: App;

    beforeAll(async () => {
      a = await createApp({ image: WEB, name: 'updated' });
    });

    it('updates ports: the probe port follows the HTTP port; desired and event say so', async () => {
      const r = await api<App>('PUT', `/v1/app/${a.id}`, { body: { defaultHttpPort: 8501 } });
      expect(r.status).toBe(200);
      expect(r.body.spec).toMatchObject({ defaultHttpPort: 8501, probe: { path: '/', port: 8501 } });
      expect(await waitForDesired(a.id, 2)).toMatchObject({ spec: { defaultHttpPort: 8501 } });
      await waitForEvent(a.id, 'defaultHttpPort 8080 → 8501; probe / on 8080 → / on 8501 (by admin)');
    });

    it('takes the regional API’s {appUpdate, id} form, probe and rolling-update fields', async () => {
      const r = await api<App>('PUT', `/v1/app/${a.id}`, {
        body: {
          appUpdate: { grpcPort: 9000, probe: { path: '/health' }, deploymentStrategy: { maxSurge: 1 } },
          id: a.id,
        },
      });
      expect(r.status).toBe(200);
      expect(r.body.spec).toMatchObject({
        grpcPort: 9000,
        probe: { path: '/health', port: 8501 },
        deploymentStrategy: { maxSurge: '1', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
      });
      expect(await waitForDesired(a.id, 3)).toMatchObject({ spec: { grpcPort: 9000 } });
      const dropped = await api<App>('PUT', `/v1/app/${a.id}`, { body: { grpcPort: null } });
      expect(dropped.body.spec.grpcPort).toBeUndefined();
    });

    it('validates like create (400 naming the field)', async () => {
      const path = `/v1/app/${a.id}`;
      const cases: Array<[unknown, string]> = [
        [
          {},
          'must change at least one of envVars, command, resources, defaultHttpPort, grpcPort, probe, deploymentStrategy',
        ],
        [{ defaultHttpPort: 70000 }, 'defaultHttpPort: must be at most 65535'],
        [{ grpcPort: 8501 }, 'grpcPort: must differ from defaultHttpPort (8501)'],
        [{ probe: { path: 'health' } }, 'probe.path: must start with /'],
        [
          { deploymentStrategy: { maxSurge: 0, maxUnavailable: 0 } },
          'deploymentStrategy: maxSurge and maxUnavailable cannot both be 0',
        ],
        [{ url: 'gantry-test/web:2' }, 'url: change the image with PUT /v1/app/{id}/image'],
        [{ volumes: [] }, 'volumes: is not a known field'],
        [
          { appUpdate: { defaultHttpPort: 'x' } },
          'appUpdate.defaultHttpPort: must be a number, not a string',
        ],
        [
          { appUpdate: { defaultHttpPort: 8000 }, id: '00000000-0000-4000-8000-000000000000' },
          "id: must be this app's id",
        ],
      ];
      for (const [body, message] of cases)
        expectError(await api('PUT', path, { body }), 400, 'VALIDATION_FAILED', message);
      expectError(
        await api('PUT', path, { body: { defaultHttpPort: 9001 }, token: reader }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await api('PUT', path, { body: { defaultHttpPort: 9001 }, token: operatorC }),
        404,
        'NOT_FOUND',
      );
    });

    it('stores a new image (200 with the App) as a new desired version, with an event', async () => {
      const before = desiredOf(a.id).at(-1)?.version ?? 0;
      const r = await api<App>('PUT', `/v1/app/${a.id}/image`, {
        body: { url: 'registry.example.com/team/web:2' },
      });
      expect(r.status).toBe(200);
      expect(r.body.spec.image).toBe('registry.example.com/team/web:2');
      expect(await waitForDesired(a.id, before + 1)).toMatchObject({
        lifecycle: 'RUNNING',
        spec: { image: 'registry.example.com/team/web:2' },
      });
      await waitForEvent(a.id, 'image gantry-test/web:1 → registry.example.com/team/web:2 (by admin)');
      const path = `/v1/app/${a.id}/image`;
      expectError(
        await api('PUT', path, { body: { url: 'Not An Image' } }),
        400,
        'VALIDATION_FAILED',
        'url: must be an image reference',
      );
      expectError(
        await api('PUT', path, { body: { image: 'x:1' } }),
        400,
        'VALIDATION_FAILED',
        'image: the body is {"url": image}: use url',
      );
      expectError(await api('PUT', path, { body: {} }), 400, 'VALIDATION_FAILED', 'url: is required');
      expectError(await api('PUT', path, { body: 'url=x', token: ADMIN }), 400, 'INVALID_JSON');
      expectError(await api('PUT', path, { body: { url: 'x:1' }, token: reader }), 403, 'FORBIDDEN');
    });

    it('a STOPPED app takes changes for its next start (desired stays STOPPED)', async () => {
      expect((await api('PUT', `/v1/app/${a.id}/stop`)).status).toBe(204);
      await report(a, 'STOPPED');
      const version = desiredOf(a.id).at(-1)?.version ?? 0;
      const r = await api<App>('PUT', `/v1/app/${a.id}/image`, { body: { url: 'gantry-test/web:3' } });
      expect(r.body.spec.image).toBe('gantry-test/web:3');
      expect(await waitForDesired(a.id, version + 1)).toMatchObject({
        lifecycle: 'STOPPED',
        spec: { image: 'gantry-test/web:3' },
      });
    });
  });

  describe('/v1/node (admins; proxied to the scheduler over NATS)', () => {
    const node = (id: string, state: NodeRecord['state'] = 'READY'): NodeRecord => ({
      id,
      address: '10.0.0.7',
      state,
      schedulable: state === 'READY',
      draining: state === 'DRAINING',
      simulatedGpus: true,
      labels: {},
      lastHeartbeatAt: '2026-11-23T09:00:00.000Z',
      capacity: { cpus: 16, memory: 64 * 1024 ** 3, gpus: 2 },
      allocated: { cpus: 2, memory: 8 * 1024 ** 3, gpus: 1 },
      gpus: [
        { index: 0, uuid: 'GPU-0', model: 'H100', memory: 80 * 1024 ** 3, appId: 'a1', replicaId: 'r1' },
        { index: 1, uuid: 'GPU-1', model: 'H100', memory: 80 * 1024 ** 3 },
      ],
      replicas: [{ replicaId: 'r1', appId: 'a1', phase: 'READY', units: 1 }],
    });
    const notFoundReply = (id: unknown) => ({
      ok: false,
      error: { error: 'NOT_FOUND', message: `node ${String(id)} does not exist` },
    });
    let queries: unknown[];
    let commands: unknown[];

    it('503 while no scheduler answers', async () => {
      expectError(await api('GET', '/v1/node'), 503, 'UNAVAILABLE', 'scheduler is not available');
      expectError(await api('PUT', '/v1/node/n1/cordon'), 503, 'UNAVAILABLE', 'scheduler is not available');
    });

    it('lists and gets nodes through query.nodes.v1; unknown → 404', async () => {
      queries = respond('query.nodes.v1', (req) => {
        if (req['nodeId'] === undefined) return { ok: true, data: { nodes: [node('n1'), node('n2')] } };
        if (req['nodeId'] === 'n1') return { ok: true, data: { nodes: [node('n1')] } };
        return notFoundReply(req['nodeId']);
      });
      commands = respond('command.node.v1', (req) => {
        const id = String(req['nodeId']);
        if (id === 'broken') return { ok: true, data: { node: { id } } };
        if (id !== 'n1' && id !== 'n2') return notFoundReply(id);
        switch (req['action']) {
          case 'cordon':
            return { ok: true, data: { node: node(id, 'CORDONED') } };
          case 'drain':
            return { ok: true, data: { node: node(id, 'DRAINING') } };
          case 'uncordon':
            return { ok: true, data: { node: node(id) } };
          default:
            return id === 'n1'
              ? {
                  ok: false,
                  error: {
                    error: 'CONFLICT',
                    message: 'node n1 still holds 1 replica(s): drain it first',
                    details: { replicas: ['r1'] },
                  },
                }
              : { ok: true, data: { node: null } };
        }
      });
      await ns.bus.nc.flush();
      const list = await api<{ items: NodeRecord[] }>('GET', '/v1/node');
      expect(list.status).toBe(200);
      expect(list.body.items.map((n) => NodeRecordSchema.parse(n).id)).toEqual(['n1', 'n2']);
      const one = await api('GET', '/v1/node/n1');
      expect(one).toMatchObject({ status: 200, body: node('n1') });
      expectError(await api('GET', '/v1/node/ghost'), 404, 'NOT_FOUND', 'node ghost does not exist');
      expectError(await api('GET', '/v1/node/bad%20id'), 404, 'NOT_FOUND', 'node "bad id" does not exist');
      expect(queries).toEqual([{}, { nodeId: 'n1' }, { nodeId: 'ghost' }]);
    });

    it('cordons, drains and uncordons through command.node.v1 (200 with the node)', async () => {
      const cordoned = await api<NodeRecord>('PUT', '/v1/node/n1/cordon');
      expect(cordoned).toMatchObject({
        status: 200,
        body: { id: 'n1', state: 'CORDONED', schedulable: false },
      });
      expect((await api<NodeRecord>('PUT', '/v1/node/n1/drain')).body).toMatchObject({
        state: 'DRAINING',
        draining: true,
      });
      expect((await api<NodeRecord>('PUT', '/v1/node/n1/uncordon')).body).toMatchObject({
        state: 'READY',
        schedulable: true,
      });
      expect(commands.slice(-3)).toEqual([
        { nodeId: 'n1', action: 'cordon' },
        { nodeId: 'n1', action: 'drain' },
        { nodeId: 'n1', action: 'uncordon' },
      ]);
      expectError(await api('PUT', '/v1/node/ghost/drain'), 404, 'NOT_FOUND', 'node ghost does not exist');
    });

    it('deletes a drained node (204); one still holding replicas → 409; unknown → 404', async () => {
      expect((await api('DELETE', '/v1/node/n2')).status).toBe(204);
      const refused = await api('DELETE', '/v1/node/n1');
      expectError(refused, 409, 'CONFLICT', 'node n1 still holds 1 replica(s): drain it first');
      expect(refused.body['details']).toEqual({ replicas: ['r1'] });
      expectError(await api('DELETE', '/v1/node/ghost'), 404, 'NOT_FOUND');
      expect(commands).toContainEqual({ nodeId: 'n2', action: 'delete' });
    });

    it('an answer that breaks the contract → 503 naming the scheduler', async () => {
      expectError(
        await api('PUT', '/v1/node/broken/cordon'),
        503,
        'UNAVAILABLE',
        'scheduler could not answer',
      );
    });

    it('is for admins only (403), and takes no query parameters', async () => {
      expectError(
        await api('GET', '/v1/node', { token: operatorC }),
        403,
        'FORBIDDEN',
        'needs an admin token',
      );
      expectError(await api('GET', '/v1/node/n1', { token: reader }), 403, 'FORBIDDEN');
      expectError(await api('PUT', '/v1/node/n1/cordon', { token: operatorC }), 403, 'FORBIDDEN');
      expectError(await api('DELETE', '/v1/node/n2', { token: vision }), 403, 'FORBIDDEN');
      expectError(await api('GET', '/v1/node?all=1'), 400, 'VALIDATION_FAILED', 'all: is not a known field');
    });
  });

  it('refuses to store registry credentials without GANTRY_SECRET_KEY (503 naming it), and stores nothing', async () => {
    expectError(
      await api('POST', '/v1/registry', { body: { url: 'ghcr.io', username: 'u', password: 'p' } }),
      503,
      'UNAVAILABLE',
      'GANTRY_SECRET_KEY',
    );
    expect((await api<{ items: unknown[] }>('GET', '/v1/registry')).body.items).toEqual([]);
  });

  describe('GET /docs: the OpenAPI document agrees with the routes', () => {
    interface Doc {
      openapi: string;
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    }
    let doc: Doc;

    it('serves a valid OpenAPI 3.1 document without a token; every operation has responses; every $ref resolves', async () => {
      const r = await api<Doc>('GET', '/docs/openapi.json', { token: null });
      expect(r.status).toBe(200);
      doc = r.body;
      expect(doc.openapi).toBe('3.1.0');
      const validation = await new Validator().validate(doc as unknown as Record<string, unknown>);
      expect(validation.errors ?? []).toEqual([]);
      expect(validation.valid).toBe(true);
      const resolve = (ref: string): unknown =>
        ref
          .replace(/^#\//, '')
          .split('/')
          .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], doc);
      const refs: string[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object')
          for (const [k, x] of Object.entries(v)) {
            if (k === '$ref') refs.push(String(x));
            else walk(x);
          }
      };
      walk(doc);
      expect(refs.length).toBeGreaterThan(20);
      expect(refs.filter((ref) => !ref.startsWith('#/') || resolve(ref) === undefined)).toEqual([]);
      const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => ({
          path,
          method,
          responses: Object.keys(op.responses ?? {}),
        })),
      );
      expect(operations.length).toBeGreaterThan(30);
      expect(operations.filter((o) => o.responses.length === 0)).toEqual([]);
      for (const path of [
        '/v1/app/{id}/label',
        '/v1/app/{id}/scalingstrategy',
        '/v1/app/{id}/image',
        '/v1/app/{id}/rollback',
        '/v1/project/{id}/quota',
        '/v1/node/{id}/drain',
      ])
        expect(doc.paths[path]?.['put']).toBeDefined();
    });

    it('every path and method in it is answered by the gateway (never "no such endpoint")', async () => {
      // The check can fail: an unknown route is answered so.
      expectError(await api('GET', '/v1/not-documented'), 404, 'NOT_FOUND', 'no such endpoint');
      const params: Record<string, string> = {
        '/v1/capabilities/flavor/{id}': 'ai1-1-cpu',
        '/v1/project/{id}/quota': 'no-such-project',
      };
      const missing: string[] = [];
      for (const [template, ops] of Object.entries(doc.paths))
        for (const method of Object.keys(ops)) {
          const id =
            params[template] ??
            (template.startsWith('/v1/node') ? 'doc-node' : '00000000-0000-4000-8000-00000000d0c5');
          const path = template.replace('{id}', id);
          const r = await api(method.toUpperCase(), path);
          const message = (r.body as { message?: string } | undefined)?.message ?? '';
          if (r.status === 404 && message.startsWith('no such endpoint'))
            missing.push(`${method.toUpperCase()} ${template}`);
          if (r.status >= 500 && r.status !== 503)
            missing.push(`${method.toUpperCase()} ${template} → ${r.status}`);
        }
      expect(missing).toEqual([]);
    });

    it('serves a self-contained HTML page at /docs that links the document', async () => {
      const res = await fetch(`${base}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await res.text();
      expect(html).toContain('href="/docs/openapi.json"');
      expect(html).toContain('/v1/app/{id}/scalingstrategy');
      expect(html).not.toMatch(/<script|<link|https?:\/\//i);
    });
  });
});

describe('api-gateway rate limits (a gateway limited to 1 request per second, bursts of 3)', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase('gwrl');
    ns = await createTestNamespace('gwrl');
    ({ app, base } = await startGateway(
      db,
      ns,
      ADMIN,
      {
        QUERY_TIMEOUT_MS: '600',
        RATE_LIMIT_PER_SECOND: '1',
        RATE_LIMIT_BURST: '3',
        RATE_LIMIT_MAX_BUCKETS: '100',
      },
      { messaging: false },
    ));
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('limits each token: over the burst → 429 RATE_LIMITED with Retry-After; it refills at the rate', async () => {
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await call(base, 'GET', '/v1/me'));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    const limited = replies[3] as Reply;
    expectError(
      limited,
      429,
      'RATE_LIMITED',
      'too many requests for token admin: at most 1 per second (bursts of 3); retry in 1 s',
    );
    expect(limited.body['details']).toEqual({ retryAfterSeconds: 1 });
    expect(limited.headers.get('retry-after')).toBe('1');
    await sleep(1100);
    expect((await call(base, 'GET', '/v1/me')).status).toBe(200);
    expect((await call(base, 'GET', '/v1/me')).status).toBe(429);
  });

  it('limits unauthenticated requests per client address, apart from the tokens', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await call(base, 'GET', '/docs/openapi.json', { token: null })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const docs = await call(base, 'GET', '/docs', { token: null });
    expectError(
      docs,
      429,
      'RATE_LIMITED',
      'too many unauthenticated requests from 127.0.0.1: at most 1 per second',
    );
    expect(docs.headers.get('retry-after')).toBe('1');
    // Guessing tokens counts against the address too: 429 rather than 401.
    expectError(
      await call(base, 'GET', '/v1/me', { token: 'gantry_wrong-guess-000000' }),
      429,
      'RATE_LIMITED',
    );
    expectError(await call(base, 'GET', '/v1/me', { token: null }), 429, 'RATE_LIMITED');
    // Health probes are not limited.
    expect((await call(base, 'GET', '/healthz', { token: null })).status).toBe(200);
  });
});

describe('api-gateway edge: rate limits before the database, /metrics behind an admin token', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication;
  let base: string;
  /** Token lookups in the database (the store's own, called through). */
  let lookups: { mock: { calls: unknown[] } };
  let reader: string;

  beforeAll(async () => {
    db = await createTestDatabase('gwedge');
    ns = await createTestNamespace('gwedge');
    // Bursts of 5, then one request per 10 s: nothing refills while these tests run.
    ({ app, base } = await startGateway(
      db,
      ns,
      ADMIN,
      { RATE_LIMIT_PER_SECOND: '0.1', RATE_LIMIT_BURST: '5', RATE_LIMIT_MAX_BUCKETS: '100' },
      { messaging: false },
    ));
    lookups = jest.spyOn(app.get(GatewayStore), 'tokenByHash');
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  /** The statuses of `n` calls of GET /v1/me with `token`, and how many token lookups they made. */
  async function flood(
    n: number,
    token: (i: number) => string | null,
  ): Promise<{ replies: Reply[]; looked: number }> {
    const before = lookups.mock.calls.length;
    const replies: Reply[] = [];
    for (let i = 0; i < n; i++) replies.push(await call(base, 'GET', '/v1/me', { token: token(i) }));
    return { replies, looked: lookups.mock.calls.length - before };
  }

  it('serves /metrics to admin tokens only: the API port is public', async () => {
    expectError(await call(base, 'GET', '/metrics', { token: null }), 401, 'UNAUTHORIZED');
    reader =
      TokenSchema.parse(
        (await call(base, 'POST', '/v1/token', { body: { name: 'metrics-reader', role: 'read' } })).body,
      ).status.value ?? '';
    expectError(
      await call(base, 'GET', '/metrics', { token: reader }),
      403,
      'FORBIDDEN',
      'this endpoint needs an admin token; token metrics-reader is read',
    );
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^# HELP /m);
  });

  it('refuses a flood of one token by its hash before looking it up, whatever its address has left', async () => {
    const { replies, looked } = await flood(20, () => ADMIN);
    const ok = replies.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(replies.slice(ok).map((r) => r.status)).toEqual(Array.from({ length: 20 - ok }, () => 429));
    expect(looked).toBe(ok); // a refused request never reached the database
    const limited = replies[19] as Reply;
    expectError(
      limited,
      429,
      'RATE_LIMITED',
      'too many requests for token admin: at most 0.1 per second (bursts of 5)',
    );
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The flood did not cost the address: a request without a token is still answered (401).
    expectError(await call(base, 'GET', '/v1/me', { token: null }), 401, 'UNAUTHORIZED');
  });

  it('refuses a flood of made-up tokens by their address after its burst, without a lookup per request', async () => {
    const { replies, looked } = await flood(40, (i) => `gantry_made-up-${i}-${'x'.repeat(20)}`);
    const unauthorized = replies.filter((r) => r.status === 401).length;
    expect(unauthorized).toBeGreaterThan(0);
    expect(unauthorized).toBeLessThanOrEqual(5);
    expect(replies.slice(unauthorized).map((r) => r.status)).toEqual(
      Array.from({ length: 40 - unauthorized }, () => 429),
    );
    expect(looked).toBe(unauthorized);
    const limited = replies[39] as Reply;
    expectError(limited, 429, 'RATE_LIMITED', 'too many unauthenticated requests from 127.0.0.1');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A token seen valid before is counted on its own, not refused with its guessing neighbours.
    expect((await call(base, 'GET', '/v1/me', { token: reader })).status).toBe(200);
  });
});
