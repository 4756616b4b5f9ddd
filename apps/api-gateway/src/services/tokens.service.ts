import { randomUUID } from 'node:crypto';

import { type CreateTokenInput, type Token, type TokenEntry, tokenKey } from '@gantry/contracts';
import { conflict, GantryError, notFound } from '@gantry/errors';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';

import { bearerSecret, newSecret, type Principal, projectScope } from '../domain/access.js';
import { toToken } from '../domain/presenters.js';
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

/**
 * Bearer tokens: authentication, the bootstrap admin token, and token management (admin tokens).
 * Every token change is mirrored to the `tokens` KV bucket through the outbox, in the same
 * transaction, so that the ingress enforces exactly what the database holds.
 */
@Injectable()
export class TokensService implements OnApplicationBootstrap {
  private readonly log = new Logger('TokensService');
  private readonly adminHash: string | undefined;

  constructor(
    private readonly store: GatewayStore,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
  ) {
    this.adminHash = config.GANTRY_ADMIN_TOKEN ? tokenKey(config.GANTRY_ADMIN_TOKEN) : undefined;
  }

  /** Creates or updates the bootstrap admin token, then re-mirrors every token to KV. */
  async onApplicationBootstrap(): Promise<void> {
    const adminHash = this.adminHash;
    await this.store.transaction(async (tx) => {
      if (!(await tx.lockProject(DEFAULT_PROJECT)))
        throw new Error(`the ${DEFAULT_PROJECT} project is missing: the database was not migrated`);
      if (adminHash) await this.ensureAdminToken(tx, adminHash);
      for (const row of await tx.allTokens()) await tx.kvPut('tokens', row.secretHash, tokenEntry(row));
    });
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

  /** The principal of an `Authorization` header, or 401. */
  async authenticate(header: string | string[] | undefined): Promise<Principal> {
    const row = await this.store.tokenByHash(tokenKey(bearerSecret(header)));
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

  /** Creates a token; its secret is in the answer and nowhere else. */
  async create(p: Principal, input: CreateTokenInput): Promise<Token> {
    const projectId = projectScope(p, input.projectId);
    const secret = newSecret();
    const row = await this.store.transaction(async (tx) => {
      if (!(await tx.lockProject(projectId))) throw notFound('project', projectId);
      if (await tx.tokenByName(projectId, input.name))
        throw conflict(`project ${projectId} already has a token named ${input.name}`);
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
