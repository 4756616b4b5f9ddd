import { randomUUID } from 'node:crypto';

import { type CreateTokenInput, type Token, type TokenEntry, tokenKey } from '@gantry/contracts';
import { conflict, GantryError, notFound } from '@gantry/errors';
import { MessageBus } from '@gantry/messaging';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import { newSecret, type Principal, projectScope } from '../domain/access.js';
import { toToken } from '../domain/presenters.js';
import { assertWithinQuota, limitsOf } from '../domain/quota.js';
import { TokenRow } from '../store/entities.js';
import { GatewayStore, type GatewayTx } from '../store/gateway-store.js';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';

/** The project every installation has (created by the first migration). */
export const DEFAULT_PROJECT = 'default';
/** Name of the bootstrap token `GANTRY_ADMIN_TOKEN` sets. */
export const ADMIN_TOKEN_NAME = 'admin';

/** What the ingress needs to know about a token (KV `tokens`, key = SHA-256 of the secret). */
export function tokenEntry(row: TokenRow): TokenEntry {
  return {
    tokenId: row.id,
    projectId: row.projectId,
    role: row.role,
    ...(row.labelSelector ? { labelSelector: row.labelSelector } : {}),
    version: row.version,
  };
}

/** What the `tokens` KV bucket holds for a key: a valid entry, or a value that fails its schema. */
export type MirroredToken = TokenEntry | 'invalid';

/**
 * What brings the `tokens` KV mirror back to the database: the rows whose entry is missing, stale
 * or invalid (to put), and the keys no row has (to delete). Rows come out in the order given.
 */
export function tokenMirrorPlan(
  rows: readonly TokenRow[],
  mirror: ReadonlyMap<string, MirroredToken>,
): { put: TokenRow[]; delete: string[] } {
  const stored = new Set(rows.map((r) => r.secretHash));
  const put = rows.filter((r) => {
    const entry = mirror.get(r.secretHash);
    return entry === undefined || entry === 'invalid' || !sameEntry(entry, tokenEntry(r));
  });
  return { put, delete: [...mirror.keys()].filter((k) => !stored.has(k)).sort() };
}

const sameEntry = (a: TokenEntry, b: TokenEntry): boolean =>
  a.tokenId === b.tokenId &&
  a.projectId === b.projectId &&
  a.role === b.role &&
  a.version === b.version &&
  (a.labelSelector ?? '') === (b.labelSelector ?? '');

/**
 * Bearer tokens: authentication, the bootstrap admin token, and token management (admin tokens).
 * Every token change is mirrored to the `tokens` KV bucket through the outbox, in the same
 * transaction, so that the ingress enforces exactly what the database holds. The mirror is also
 * reconciled with the database at start and every `TOKENS_RECONCILE_MS`, so that a KV write that
 * was lost (a delete above all: a revoked token would stay valid at the ingress) is made good.
 */
@Injectable()
export class TokensService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('TokensService');
  private readonly adminHash: string | undefined;
  private readonly reconcileMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly store: GatewayStore,
    private readonly bus: MessageBus,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
  ) {
    this.adminHash = config.GANTRY_ADMIN_TOKEN ? tokenKey(config.GANTRY_ADMIN_TOKEN) : undefined;
    this.reconcileMs = config.TOKENS_RECONCILE_MS;
  }

  /**
   * Creates or updates the bootstrap admin token, re-mirrors every token to KV, then reconciles
   * the mirror (strays deleted) and keeps doing so periodically.
   */
  async onApplicationBootstrap(): Promise<void> {
    const adminHash = this.adminHash;
    await this.store.transaction(async (tx) => {
      if (!(await tx.lockProject(DEFAULT_PROJECT)))
        throw new Error(`the ${DEFAULT_PROJECT} project is missing: the database was not migrated`);
      if (adminHash) await this.ensureAdminToken(tx, adminHash);
      for (const row of await tx.allTokens()) await tx.kvPut('tokens', row.secretHash, tokenEntry(row));
    });
    await this.reconcileSafely();
    this.schedule();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.reconcileSafely().finally(() => this.schedule());
    }, this.reconcileMs);
    this.timer.unref();
  }

  private async reconcileSafely(): Promise<void> {
    try {
      await this.reconcileMirror();
    } catch (error) {
      this.log.warn(`tokens KV reconcile failed (next in ${this.reconcileMs} ms): ${String(error)}`);
    }
  }

  /**
   * Brings the `tokens` KV bucket back to the database: puts the entry of every token whose entry
   * is missing, stale or invalid, and deletes every key no token has. The bucket is read first, the
   * rows after (a key written for a token created meanwhile has its row by then); each put is made
   * under the token's row lock, so that it never lands after a concurrent revocation's delete.
   * Writes go through the outbox like any other. Returns what it changed.
   */
  async reconcileMirror(): Promise<{ put: number; deleted: number }> {
    const mirror = await this.readMirror();
    const plan = tokenMirrorPlan(await this.store.transaction((tx) => tx.allTokens()), mirror);
    if (plan.put.length === 0 && plan.delete.length === 0) return { put: 0, deleted: 0 };
    let put = 0;
    let deleted = 0;
    await this.store.transaction(async (tx) => {
      for (const stale of plan.put) {
        const row = await tx.lockToken(stale.id);
        if (!row || row.secretHash !== stale.secretHash) continue; // changed since: it wrote its own
        await tx.kvPut('tokens', row.secretHash, tokenEntry(row));
        put++;
      }
      for (const key of plan.delete) {
        if (await this.store.tokenByHash(key)) continue; // created since
        await tx.kvDelete('tokens', key);
        deleted++;
      }
    });
    if (put + deleted > 0)
      this.log.warn(`tokens KV mirror repaired: ${put} entries written, ${deleted} stray keys deleted`);
    return { put, deleted };
  }

  /** Every key of the `tokens` bucket with its value (or `invalid`). */
  private async readMirror(): Promise<Map<string, MirroredToken>> {
    const kv = await this.bus.kv('tokens');
    const mirror = new Map<string, MirroredToken>();
    const watch = await kv.watch(
      (key, value) => {
        if (value === null) mirror.delete(key);
        else mirror.set(key, value);
      },
      { onInvalid: (key) => mirror.set(key, 'invalid') },
    );
    try {
      await watch.ready;
    } finally {
      watch.stop();
    }
    return mirror;
  }

  private async ensureAdminToken(tx: GatewayTx, hash: string): Promise<void> {
    const now = new Date();
    const existing = await tx.tokenByName(DEFAULT_PROJECT, ADMIN_TOKEN_NAME);
    if (!existing) {
      const row = Object.assign(new TokenRow(), {
        id: randomUUID(),
        projectId: DEFAULT_PROJECT,
        name: ADMIN_TOKEN_NAME,
        role: 'admin',
        labelSelector: null,
        secretHash: hash,
        version: 1,
        createdAt: now,
        updatedAt: now,
      } satisfies TokenRow);
      await tx.saveToken(row);
      this.log.log(`created the ${ADMIN_TOKEN_NAME} token of the ${DEFAULT_PROJECT} project`);
      return;
    }
    if (existing.secretHash === hash && existing.role === 'admin' && existing.labelSelector === null) return;
    if (existing.secretHash !== hash) await tx.kvDelete('tokens', existing.secretHash);
    Object.assign(existing, {
      secretHash: hash,
      role: 'admin',
      labelSelector: null,
      version: existing.version + 1,
      updatedAt: now,
    });
    await tx.saveToken(existing);
    this.log.log(
      `updated the ${ADMIN_TOKEN_NAME} token of the ${DEFAULT_PROJECT} project from GANTRY_ADMIN_TOKEN`,
    );
  }

  /** The principal of the token whose secret's SHA-256 is `secretHash`, or 401. */
  async authenticate(secretHash: string): Promise<Principal> {
    const row = await this.store.tokenByHash(secretHash);
    if (!row) throw new GantryError('UNAUTHORIZED', 'the bearer token is not valid (unknown or revoked)');
    return {
      tokenId: row.id,
      tokenName: row.name,
      projectId: row.projectId,
      role: row.role,
      labelSelector: row.labelSelector,
    };
  }

  async list(p: Principal, projectId: string | undefined): Promise<Token[]> {
    const rows = await this.store.tokens(projectScope(p, projectId));
    return rows.map((r) => toToken(r));
  }

  async get(id: string): Promise<Token> {
    return toToken(await this.existing(id));
  }

  /**
   * Creates a token, within the project's tokens quota (403 QUOTA_EXCEEDED); its secret is in the
   * answer and nowhere else.
   */
  async create(p: Principal, input: CreateTokenInput): Promise<Token> {
    const projectId = projectScope(p, input.projectId);
    const secret = newSecret();
    const row = await this.store.transaction(async (tx) => {
      const project = await tx.lockProject(projectId);
      if (!project) throw notFound('project', projectId);
      if (await tx.tokenByName(projectId, input.name))
        throw conflict(`project ${projectId} already has a token named ${input.name}`);
      assertWithinQuota(
        projectId,
        limitsOf(project),
        { tokens: await tx.countTokens(projectId) },
        { tokens: 1 },
      );
      const now = new Date();
      const created = Object.assign(new TokenRow(), {
        id: randomUUID(),
        projectId,
        name: input.name,
        role: input.role,
        labelSelector: input.labelSelector ?? null,
        secretHash: tokenKey(secret),
        version: 1,
        createdAt: now,
        updatedAt: now,
      } satisfies TokenRow);
      await tx.saveToken(created);
      await tx.kvPut('tokens', created.secretHash, tokenEntry(created));
      return created;
    });
    return toToken(row, secret);
  }

  /** Issues a new secret for a token (same name, role and selector); the old one stops working. */
  async renew(id: string): Promise<Token> {
    const secret = newSecret();
    const row = await this.store.transaction(async (tx) => {
      const token = await tx.lockToken(id);
      if (!token) throw notFound('token', id);
      this.assertNotManaged(token);
      await tx.kvDelete('tokens', token.secretHash);
      Object.assign(token, {
        secretHash: tokenKey(secret),
        version: token.version + 1,
        updatedAt: new Date(),
      });
      await tx.saveToken(token);
      await tx.kvPut('tokens', token.secretHash, tokenEntry(token));
      return token;
    });
    return toToken(row, secret);
  }

  /** Revokes a token. */
  async delete(id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const token = await tx.lockToken(id);
      if (!token) throw notFound('token', id);
      this.assertNotManaged(token);
      await tx.deleteToken(id);
      await tx.kvDelete('tokens', token.secretHash);
    });
  }

  private assertNotManaged(token: TokenRow): void {
    if (this.adminHash && token.secretHash === this.adminHash)
      throw conflict(`token ${token.name} is set by GANTRY_ADMIN_TOKEN: change that variable instead`);
  }

  private async existing(id: string): Promise<TokenRow> {
    const row = await this.store.token(id);
    if (!row) throw notFound('token', id);
    return row;
  }
}
