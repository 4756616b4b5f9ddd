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
  type Info,
  type Token,
  TokenSchema,
  wireSubject,
} from '@gantry/contracts';
import {
  createTestDatabase,
  createTestNamespace,
  expectError,
  jsonClient,
  sleep,
  type TestDatabase,
  type TestNamespace,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Subscription } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';

import { startGateway } from './__fixtures__/gateway.js';

const ADMIN = 'it-admin-secret-updates-0123456789';
const V1 = 'gantry-test/web:1';
const V2 = 'gantry-test/web:2';

/**
 * Updates beyond the image, rollback and automatic rollback, against a gateway of the test's own on
 * the real PostgreSQL and NATS: what it publishes (`app.desired.v1`, `app.event.v2`) is watched on
 * NATS, and the scheduler's statuses are published as the scheduler would.
 */
describe('api-gateway: updates, rollback and automatic rollback (real PostgreSQL and NATS)', () => {
  let db: TestDatabase;
  let ns: TestNamespace;
  let app: INestApplication;
  let base: string;
  const desired: AppDesired[] = [];
  const events: AppEvent[] = [];
  const subs: Subscription[] = [];
  let reader: string;

  const api = jsonClient(() => base, ADMIN);

  async function createApp(body: Record<string, unknown>): Promise<App> {
    const r = await api<App>('POST', '/v1/app', { body });
    if (r.status !== 200) throw new Error(`POST /v1/app → ${r.status} ${JSON.stringify(r.body)}`);
    return AppSchema.parse(r.body);
  }

  const desiredOf = (appId: string) =>
    desired.filter((d) => d.appId === appId).sort((a, b) => a.version - b.version);
  const waitForDesired = (appId: string, version: number) =>
    waitFor(`app.desired.v1 v${version} of ${appId}`, () =>
      desiredOf(appId).find((d) => d.version === version),
    );
  const eventsOf = (appId: string) => events.filter((e) => e.appId === appId);
  const waitForEvent = (appId: string, text: string) =>
    waitFor(`an app event of ${appId} saying ${text}`, () =>
      eventsOf(appId).find((e) => e.message.includes(text)),
    );

  let statusVersion = 10;
  /** A status of `a` as the scheduler would report it (a new version unless told). */
  function status(
    a: App,
    state: AppState,
    info: Info,
    over: Partial<AppStatusChanged> = {},
  ): AppStatusChanged {
    const version = over.version ?? ++statusVersion;
    const at = over.at ?? new Date().toISOString();
    return {
      id: `${a.id}:status:${version}`,
      appId: a.id,
      projectId: a.projectId,
      version,
      at,
      state,
      info,
      availableReplicas: 1,
      allocatedUnits: 1,
      history: [...a.status.history, { state, date: at }],
      lastTransitionDate: at,
      rate: { flavor: a.spec.resources.flavor, unitPriceMicros: 1, currency: 'EUR' },
      ...over,
    };
  }

  /** Publishes statuses in one `app.status.v2` message (a new message id each time). */
  async function publish(...statuses: AppStatusChanged[]): Promise<void> {
    await ns.bus.publish('app.status.v2', { id: randomUUID(), statuses });
  }

  /** Waits for the gateway to show the status of version `version` (statuses apply in stream order). */
  const shown = (a: App, version: number) =>
    waitFor(`status v${version} of ${a.id} applied`, async () => {
      const got = await api<App>('GET', `/v1/app/${a.id}`);
      return got.body.status.info.message === `status v${version}` ? got.body : undefined;
    });

  /** Reports the app RUNNING, as the scheduler would once it serves, and waits for the gateway to show it. */
  async function running(a: App): Promise<void> {
    const version = ++statusVersion;
    await publish(status(a, 'RUNNING', { code: 'APP_RUNNING', message: `status v${version}` }, { version }));
    await shown(a, version);
  }

  const rolloutFailed = (a: App, over: Partial<AppStatusChanged> = {}) =>
    status(
      a,
      'SCALING',
      {
        code: 'APP_ROLLOUT_FAILED',
        message:
          '1/1 replicas ready; rolling update (image changed to gantry-test/web:2): 0/1 updated; rollout stuck: new replica r9 failed: exited with code 3; the previous replicas keep serving',
      },
      over,
    );

  beforeAll(async () => {
    db = await createTestDatabase('gwu');
    ns = await createTestNamespace('gwu');
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
    const r = await api<Token>('POST', '/v1/token', { body: { name: 'viewer', role: 'read' } });
    reader = TokenSchema.parse(r.body).status.value ?? '';
  });

  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  describe('PUT /v1/app/{id} beyond ports and probe', () => {
    let a: App;

    beforeAll(async () => {
      a = await createApp({ image: V1, envVars: [{ name: 'API_KEY', value: 'first-secret' }] });
      await running(a);
    });

    it('publishes a new desired version with the new environment; the event names variables, not values', async () => {
      const env = [
        { name: 'API_KEY', value: 'second-secret' },
        { name: 'DEBUG', value: 'true' },
      ];
      const r = await api<App>('PUT', `/v1/app/${a.id}`, { body: { envVars: env } });
      expect(r.status).toBe(200);
      expect(AppSchema.parse(r.body).spec.envVars).toEqual(env);
      expect(await waitForDesired(a.id, 2)).toMatchObject({
        lifecycle: 'RUNNING',
        spec: { ...a.spec, envVars: env },
      });
      const event = await waitForEvent(a.id, 'envVars: API_KEY changed, DEBUG added (by admin)');
      expect(event).toMatchObject({ type: 'SPEC_CHANGED', reason: 'APP_SCALING', id: `${a.id}:api:2` });
      expect(JSON.stringify(eventsOf(a.id))).not.toMatch(/first-secret|second-secret/);
    });

    it('sets a command and takes it away again (null: the image’s own), in the regional API’s envelope too', async () => {
      const set = await api<App>('PUT', `/v1/app/${a.id}`, {
        body: { appUpdate: { command: ['httpd', '-f'] }, id: a.id },
      });
      expect(set.body.spec.command).toEqual(['httpd', '-f']);
      expect(await waitForDesired(a.id, 3)).toMatchObject({ spec: { command: ['httpd', '-f'] } });
      const unset = await api<App>('PUT', `/v1/app/${a.id}`, { body: { command: null } });
      expect(unset.body.spec.command).toBeUndefined();
      expect((await waitForDesired(a.id, 4)).spec.command).toBeUndefined();
      await waitForEvent(a.id, `command ["httpd","-f"] → the image's own (by admin)`);
    });

    it('resolves resources through the catalog, bills the new flavor, and checks the GPU quota', async () => {
      const gpu = await createApp({ image: V1, resources: { gpu: 1 } });
      await running(gpu);
      const two = await api<App>('PUT', `/v1/app/${gpu.id}`, { body: { resources: { gpu: 2 } } });
      expect(two.status).toBe(200);
      expect(two.body.spec.resources).toMatchObject({ flavor: 'ai1-1-gpu', units: 2, gpu: 2 });
      expect(await waitForDesired(gpu.id, 2)).toMatchObject({
        spec: { resources: { units: 2 } },
        rate: { flavor: 'ai1-1-gpu', unitPriceMicros: 1_930_000 },
      });
      const h100 = await api<App>('PUT', `/v1/app/${gpu.id}`, {
        body: { resources: { flavor: 'h100-1-gpu', gpu: 1 } },
      });
      expect(h100.body.spec.resources).toMatchObject({ flavor: 'h100-1-gpu', gpuModel: 'H100' });
      expect(await waitForDesired(gpu.id, 3)).toMatchObject({
        rate: { flavor: 'h100-1-gpu', unitPriceMicros: 2_990_000 },
      });
      // 3 replicas of 1 GPU fit the quota of 4; of 2 GPUs each they would not.
      const scaled = await api('PUT', `/v1/app/${gpu.id}/scalingstrategy`, {
        body: { fixed: { replicas: 3 } },
      });
      expect(scaled.status).toBe(200);
      expectError(
        await api('PUT', `/v1/app/${gpu.id}`, { body: { resources: { flavor: 'h100-1-gpu', gpu: 2 } } }),
        403,
        'QUOTA_EXCEEDED',
        'project default may hold 4 GPUs at once; 0 are in use and this app needs 6',
      );
      expectError(
        await api('PUT', `/v1/app/${gpu.id}`, { body: { resources: { flavor: 'nope' } } }),
        400,
        'VALIDATION_FAILED',
        'resources.flavor: unknown flavor "nope"',
      );
      expect((await api('DELETE', `/v1/app/${gpu.id}?force=true`)).status).toBe(204);
    });

    it('validates the new fields as create does (400 naming the field)', async () => {
      const path = `/v1/app/${a.id}`;
      const cases: Array<[unknown, string]> = [
        [{ envVars: [{ name: 'GANTRY_X', value: '1' }] }, 'envVars.0.name: names starting with GANTRY_'],
        [{ envVars: [{ name: 'A' }] }, 'envVars.0.value: is required'],
        [{ command: [] }, 'command: must hold at least one argument'],
        [{ command: 'serve' }, 'command: must be an array of strings'],
        [{ resources: { cpu: 1, gpu: 1 } }, 'resources: cpu and gpu cannot both be set'],
        [
          { deploymentStrategy: { autoRollback: 1 } },
          'deploymentStrategy.autoRollback: must be true or false',
        ],
      ];
      for (const [body, message] of cases)
        expectError(await api('PUT', path, { body }), 400, 'VALIDATION_FAILED', message);
    });
  });

  describe('PUT /v1/app/{id}/rollback', () => {
    let a: App;

    beforeAll(async () => {
      a = await createApp({ image: V1, name: 'rolled', envVars: [{ name: 'MODE', value: 'a' }] });
      await running(a);
    });

    it('409 while the app has run nothing else', async () => {
      expectError(
        await api('PUT', `/v1/app/${a.id}/rollback`),
        409,
        'CONFLICT',
        `cannot roll app ${a.id} back: it has no previous runtime spec`,
      );
      // A change that runs nothing new leaves nothing to roll back to either.
      expect(
        (await api('PUT', `/v1/app/${a.id}/label`, { body: { name: 'stage', value: 'x' } })).status,
      ).toBe(200);
      expectError(await api('PUT', `/v1/app/${a.id}/rollback`), 409, 'CONFLICT');
      await waitForDesired(a.id, 2);
    });

    it('204 after a new image: the desired spec has the old image again, labels kept; an event says so', async () => {
      expect((await api('PUT', `/v1/app/${a.id}/image`, { body: { url: V2 } })).status).toBe(200);
      await waitForDesired(a.id, 3);
      const r = await api('PUT', `/v1/app/${a.id}/rollback`);
      expect(r.status).toBe(204);
      expect(await waitForDesired(a.id, 4)).toMatchObject({
        lifecycle: 'RUNNING',
        spec: { image: V1, labels: { stage: 'x' }, envVars: [{ name: 'MODE', value: 'a' }] },
      });
      expect(await waitForEvent(a.id, `rolled back: image ${V2} → ${V1} (by admin)`)).toMatchObject({
        type: 'SPEC_CHANGED',
        id: `${a.id}:api:4`,
      });
      expect((await api<App>('GET', `/v1/app/${a.id}`)).body.spec.image).toBe(V1);
    });

    it('a second rollback returns to where the first started; an env change rolls back too', async () => {
      expect((await api('PUT', `/v1/app/${a.id}/rollback`)).status).toBe(204);
      expect((await waitForDesired(a.id, 5)).spec.image).toBe(V2);
      const changed = await api<App>('PUT', `/v1/app/${a.id}`, {
        body: { envVars: [{ name: 'MODE', value: 'b' }] },
      });
      expect(changed.status).toBe(200);
      expect((await waitForDesired(a.id, 6)).spec.envVars).toEqual([{ name: 'MODE', value: 'b' }]);
      expect((await api('PUT', `/v1/app/${a.id}/rollback`)).status).toBe(204);
      expect(await waitForDesired(a.id, 7)).toMatchObject({
        spec: { image: V2, envVars: [{ name: 'MODE', value: 'a' }] },
      });
      await waitForEvent(a.id, 'rolled back: envVars: MODE changed (by admin)');
    });

    it('403 for a read token, 404 for unknown apps, 400 for a query', async () => {
      expectError(await api('PUT', `/v1/app/${a.id}/rollback`, { token: reader }), 403, 'FORBIDDEN');
      expectError(
        await api('PUT', '/v1/app/00000000-0000-4000-8000-000000000000/rollback'),
        404,
        'NOT_FOUND',
      );
      expectError(
        await api('PUT', `/v1/app/${a.id}/rollback?to=1`),
        400,
        'VALIDATION_FAILED',
        'to: is not a known field',
      );
      await sleep(200);
      expect(desiredOf(a.id).map((d) => d.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    });
  });

  describe('deploymentStrategy.autoRollback', () => {
    it('an app.status.v2 saying the rollout failed rolls an asking app back once, even delivered twice', async () => {
      const a = await createApp({ image: V1, deploymentStrategy: { autoRollback: true } });
      expect(a.spec.deploymentStrategy.autoRollback).toBe(true);
      await running(a);
      expect((await api('PUT', `/v1/app/${a.id}/image`, { body: { url: V2 } })).status).toBe(200);
      await waitForDesired(a.id, 2);
      const failed = rolloutFailed(a);
      await publish(failed);
      expect(await waitForDesired(a.id, 3)).toMatchObject({ lifecycle: 'RUNNING', spec: { image: V1 } });
      const event = await waitForEvent(a.id, `automatic rollback: image ${V2} → ${V1} (the rollout failed: `);
      expect(event).toMatchObject({ type: 'SPEC_CHANGED', reason: 'APP_ROLLOUT_FAILED' });
      expect(event.message).toContain('rollout stuck: new replica r9 failed');
      // The same status again (a redelivery), and a newer one still saying so (the scheduler has not
      // acted on the rollback yet): nothing more, and the rollback's own failure is never undone.
      await publish(failed);
      await publish(rolloutFailed(a));
      const marker = ++statusVersion;
      await publish(
        status(a, 'SCALING', { code: 'APP_SCALING', message: `status v${marker}` }, { version: marker }),
      );
      await shown(a, marker);
      await sleep(300);
      expect(desiredOf(a.id).map((d) => d.version)).toEqual([1, 2, 3]);
      expect(eventsOf(a.id).filter((e) => e.message.startsWith('automatic rollback'))).toHaveLength(1);
      expect((await api<App>('GET', `/v1/app/${a.id}`)).body.spec.image).toBe(V1);
    });

    it('a rollback’s own failed rollout is not rolled back; a new update is, again', async () => {
      const a = await createApp({ image: V1, deploymentStrategy: { autoRollback: true } });
      await running(a);
      expect((await api('PUT', `/v1/app/${a.id}/image`, { body: { url: V2 } })).status).toBe(200);
      expect((await api('PUT', `/v1/app/${a.id}/rollback`)).status).toBe(204);
      await waitForDesired(a.id, 3);
      await publish(rolloutFailed(a));
      const marker = ++statusVersion;
      await publish(
        status(a, 'SCALING', { code: 'APP_SCALING', message: `status v${marker}` }, { version: marker }),
      );
      await shown(a, marker);
      await sleep(300);
      expect(desiredOf(a.id).map((d) => d.version)).toEqual([1, 2, 3]);
      // A new update may fail and be rolled back by itself.
      expect(
        (await api('PUT', `/v1/app/${a.id}`, { body: { envVars: [{ name: 'X', value: '1' }] } })).status,
      ).toBe(200);
      await waitForDesired(a.id, 4);
      await publish(rolloutFailed(a));
      expect(await waitForDesired(a.id, 5)).toMatchObject({ spec: { image: V1, envVars: [] } });
      await waitForEvent(a.id, 'automatic rollback: envVars: X removed');
    });

    it('a rollback the GPU quota refuses is said once and not tried again; by hand it is refused (403)', async () => {
      const x = await createApp({
        image: V1,
        resources: { gpu: 2 },
        deploymentStrategy: { autoRollback: true },
      });
      await running(x);
      expect((await api('PUT', `/v1/app/${x.id}`, { body: { resources: { gpu: 1 } } })).status).toBe(200);
      await waitForDesired(x.id, 2);
      const y = await createApp({ image: V1, resources: { gpu: 3 } });
      await publish(rolloutFailed(x));
      const refused = await waitForEvent(x.id, 'automatic rollback refused: ');
      expect(refused).toMatchObject({ type: 'SPEC_CHANGED', reason: 'APP_QUOTA_EXCEEDED' });
      expect(refused.message).toContain(
        'project default may hold 4 GPUs at once; 3 are in use and this app needs 2',
      );
      await publish(rolloutFailed(x));
      const marker = ++statusVersion;
      await publish(
        status(x, 'SCALING', { code: 'APP_SCALING', message: `status v${marker}` }, { version: marker }),
      );
      await shown(x, marker);
      await sleep(300);
      expect(desiredOf(x.id).map((d) => d.version)).toEqual([1, 2]);
      expect(eventsOf(x.id).filter((e) => e.message.startsWith('automatic rollback'))).toHaveLength(1);
      expectError(await api('PUT', `/v1/app/${x.id}/rollback`), 403, 'QUOTA_EXCEEDED');
      for (const id of [x.id, y.id])
        expect((await api('DELETE', `/v1/app/${id}?force=true`)).status).toBe(204);
    });

    it('nothing for an app that does not ask for it, nor for a failure reported before the update', async () => {
      const plain = await createApp({ image: V1 });
      expect(plain.spec.deploymentStrategy.autoRollback).toBe(false);
      await running(plain);
      expect((await api('PUT', `/v1/app/${plain.id}/image`, { body: { url: V2 } })).status).toBe(200);
      await waitForDesired(plain.id, 2);
      const late = await createApp({ image: V1, deploymentStrategy: { autoRollback: true } });
      await running(late);
      const before = new Date(Date.now() - 1000).toISOString();
      expect((await api('PUT', `/v1/app/${late.id}/image`, { body: { url: V2 } })).status).toBe(200);
      await waitForDesired(late.id, 2);
      await publish(rolloutFailed(plain), rolloutFailed(late, { at: before }));
      const marker = ++statusVersion;
      await publish(
        status(plain, 'SCALING', { code: 'APP_SCALING', message: `status v${marker}` }, { version: marker }),
      );
      await shown(plain, marker);
      await sleep(300);
      expect(desiredOf(plain.id).map((d) => d.version)).toEqual([1, 2]);
      expect(desiredOf(late.id).map((d) => d.version)).toEqual([1, 2]);
      // Turned on later (a change that runs nothing new), the next failure report rolls it back.
      const on = await api<App>('PUT', `/v1/app/${plain.id}`, {
        body: { deploymentStrategy: { autoRollback: true } },
      });
      expect(on.body.spec.deploymentStrategy.autoRollback).toBe(true);
      await waitForEvent(plain.id, 'deploymentStrategy.autoRollback false → true');
      await publish(rolloutFailed(plain));
      expect(await waitForDesired(plain.id, 4)).toMatchObject({ spec: { image: V1 } });
    });
  });
});
