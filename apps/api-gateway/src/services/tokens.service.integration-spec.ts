import { type Token, tokenKey } from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import {
  createTestDatabase,
  createTestNamespace,
  jsonClient,
  type TestDatabase,
  waitFor,
} from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';

import { startGateway } from '../__fixtures__/gateway.js';

const ADMIN = 'it-admin-secret-reconcile-0123456789';

/** The `tokens` KV mirror is brought back to the database at start and periodically. */
describe('api-gateway tokens KV reconcile on real PostgreSQL and NATS', () => {
  let db: TestDatabase;
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let app: INestApplication | undefined;
  let base: string;
  let tokensKv: TypedKv<'tokens'>;
  const call = jsonClient(() => base, ADMIN);
  const stray = tokenKey('gantry_never_stored_in_the_database');

  async function start(): Promise<void> {
    ({ app, base } = await startGateway(db, ns, ADMIN, { TOKENS_RECONCILE_MS: '1000' }));
  }

  beforeAll(async () => {
    db = await createTestDatabase('gwtok');
    ns = await createTestNamespace('gwtok');
    tokensKv = await ns.bus.kv('tokens');
    // A key left behind by a delete that never reached KV, before the gateway even starts.
    await tokensKv.put(stray, { tokenId: 'gone', projectId: 'default', role: 'admin', version: 1 });
    await start();
  });

  afterAll(async () => {
    await app?.close();
    await ns?.destroy();
    await db?.drop();
  });

  it('deletes at start a KV key no stored token has', async () => {
    await waitFor(
      'the stray key deleted',
      async () => ((await tokensKv.get(stray)) === null ? true : undefined),
      {
        timeoutMs: 5_000,
      },
    );
    expect(await tokensKv.get(tokenKey(ADMIN))).toMatchObject({ role: 'admin' });
  });

  it('periodically restores a missing entry, rewrites a stale one and deletes a stray one', async () => {
    const created = await call<Token>('POST', '/v1/token', { body: { name: 'viewer', role: 'read' } });
    expect(created.status).toBe(200);
    const secret = created.body.status.value ?? '';
    const hash = tokenKey(secret);
    const entry = await waitFor('the token in KV', async () => (await tokensKv.get(hash)) ?? undefined);
    // Writes the ingress should have seen, lost: the entry vanishes, another is altered, a stray appears.
    await tokensKv.delete(hash);
    await tokensKv.put(tokenKey(ADMIN), { tokenId: 'x', projectId: 'default', role: 'read', version: 99 });
    const another = tokenKey('gantry_revoked_but_delete_lost');
    await tokensKv.put(another, { tokenId: 'old', projectId: 'default', role: 'operator', version: 4 });
    await waitFor(
      'the mirror repaired',
      async () =>
        (await tokensKv.get(hash))?.version === entry.version &&
        (await tokensKv.get(tokenKey(ADMIN)))?.version === 1 &&
        (await tokensKv.get(another)) === null
          ? true
          : undefined,
      { timeoutMs: 5_000 },
    );
    expect(await tokensKv.get(hash)).toEqual(entry);
    expect(await tokensKv.get(tokenKey(ADMIN))).toMatchObject({ role: 'admin', version: 1 });
  });
});
