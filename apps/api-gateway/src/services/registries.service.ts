import { randomUUID } from 'node:crypto';

import {
  type CreateRegistryInput,
  type Registry,
  type RegistryAuthQuery,
  type RegistryAuthResult,
  registryFor,
  registryHost,
  type UpdateRegistryInput,
} from '@gantry/contracts';
import { conflict, GantryError, notFound, unavailable, validationFailed } from '@gantry/errors';
import { Inject, Injectable, Logger } from '@nestjs/common';

import { type Principal, projectScope } from '../domain/access.js';
import { toRegistry } from '../domain/presenters.js';
import { SecretBox } from '../domain/secrets.js';
import { RegistryRow } from '../store/entities.js';
import { GatewayStore } from '../store/gateway-store.js';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';

/** The region a registry is shown in: Gantry has one. */
const REGION = 'default';

/**
 * Private registries' credentials, per project. Passwords are sealed with GANTRY_SECRET_KEY before
 * they are stored, never shown by the API, and opened only to answer a node agent that pulls an image
 * of the project (`query.registry-auth.v1`).
 */
@Injectable()
export class RegistriesService {
  private readonly log = new Logger('RegistriesService');
  private readonly box: SecretBox | undefined;

  constructor(
    private readonly store: GatewayStore,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
  ) {
    this.box = config.GANTRY_SECRET_KEY ? new SecretBox(config.GANTRY_SECRET_KEY) : undefined;
  }

  async list(p: Principal, projectId: string | undefined): Promise<Registry[]> {
    return (await this.store.registries(projectScope(p, projectId))).map(toRegistry);
  }

  async get(p: Principal, id: string): Promise<Registry> {
    return toRegistry(await this.visible(p, id));
  }

  async create(p: Principal, input: CreateRegistryInput): Promise<Registry> {
    const box = this.sealer();
    const projectId = projectScope(p, input.projectId);
    if (!(await this.store.project(projectId))) throw notFound('project', projectId);
    const now = new Date();
    const id = randomUUID();
    const row = Object.assign(new RegistryRow(), {
      id,
      projectId,
      url: input.url,
      username: input.username,
      passwordSealed: box.seal(input.password, sealContext(id, input.url)),
      region: input.region ?? REGION,
      createdBy: p.tokenName,
      createdAt: now,
      updatedAt: now,
    } satisfies RegistryRow);
    if (!(await this.store.insertRegistry(row))) throw this.taken(projectId, input.url);
    return toRegistry(row);
  }

  async update(p: Principal, id: string, input: UpdateRegistryInput): Promise<Registry> {
    const row = await this.visible(p, id);
    if (input.url !== undefined && input.url !== row.url) {
      // The password goes wherever the address points: moving it takes the password again, so that
      // changing an address never sends someone else's stored password to another host.
      if (input.password === undefined)
        throw validationFailed([
          {
            field: 'password',
            message: 'is required to change url: the stored one stays with the old address',
          },
        ]);
      row.url = input.url;
    }
    if (input.username !== undefined) row.username = input.username;
    if (input.password !== undefined)
      row.passwordSealed = this.sealer().seal(input.password, sealContext(row.id, row.url));
    row.updatedAt = new Date();
    const outcome = await this.store.updateRegistry(row);
    if (outcome === 'gone') throw notFound('registry', id);
    if (outcome === 'taken') throw this.taken(row.projectId, row.url);
    return toRegistry(row);
  }

  async delete(p: Principal, id: string): Promise<void> {
    await this.visible(p, id);
    await this.store.deleteRegistry(id);
  }

  /**
   * The credentials that pull `image` for `projectId`: those of the project's most specific
   * registry covering it, or none — and none unless a live app of the project uses that image, so
   * that asking cannot list a project's passwords. A password this key cannot open (the key
   * changed) counts as none, and is logged.
   */
  async auth(q: RegistryAuthQuery): Promise<RegistryAuthResult> {
    const row = registryFor(q.image, await this.store.registries(q.projectId));
    if (!row || !(await this.store.projectUsesImage(q.projectId, q.image))) return {};
    const password = this.box?.open(row.passwordSealed, sealContext(row.id, row.url));
    if (password === undefined) {
      this.log.error(
        `registry ${row.url} of project ${row.projectId}: its password cannot be opened with GANTRY_SECRET_KEY (was the key changed?); pulling without credentials`,
      );
      return {};
    }
    return { auth: { url: row.url, serverAddress: registryHost(row.url), username: row.username, password } };
  }

  private sealer(): SecretBox {
    if (!this.box)
      throw unavailable(
        'private registries need GANTRY_SECRET_KEY on the api-gateway (the key their passwords are sealed with)',
      );
    return this.box;
  }

  /** The registry if this principal may see it: its project's tokens (any project for admins); 404 otherwise. */
  private async visible(p: Principal, id: string): Promise<RegistryRow> {
    const row = await this.store.registry(id);
    if (!row || (p.role !== 'admin' && row.projectId !== p.projectId)) throw notFound('registry', id);
    return row;
  }

  private taken(projectId: string, url: string): GantryError {
    return conflict(
      `project ${projectId} already has registry ${url}: update it (PUT /v1/registry/{id}) instead`,
    );
  }
}

/** What a sealed password is bound to: its row, and the address it may be sent to. */
const sealContext = (id: string, url: string): string => `${id}|${url}`;
