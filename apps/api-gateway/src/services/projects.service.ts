import { randomBytes } from 'node:crypto';

import {
  type CreateProjectInput,
  type Me,
  type Project,
  type Quota,
  QUOTA_FIELDS,
  type QuotaField,
  type UpdateProjectQuotaInput,
} from '@gantry/contracts';
import { conflict, notFound } from '@gantry/errors';
import { Injectable, Logger } from '@nestjs/common';

import { type Principal, projectScope } from '../domain/access.js';
import { toProject } from '../domain/presenters.js';
import { holdingsInUse, limitsOf } from '../domain/quota.js';
import { ProjectRow } from '../store/entities.js';
import { GatewayStore } from '../store/gateway-store.js';

const QUOTA_FIELD_NAMES = Object.keys(QUOTA_FIELDS) as QuotaField[];

/** Projects (tenants), their quotas and what is in use against them, and who a token is. */
@Injectable()
export class ProjectsService {
  private readonly log = new Logger('ProjectsService');

  constructor(private readonly store: GatewayStore) {}

  async list(): Promise<Project[]> {
    return (await this.store.projects()).map(toProject);
  }

  async create(input: CreateProjectInput): Promise<Project> {
    const id = input.id ?? `p-${randomBytes(4).toString('hex')}`;
    const row = await this.store.transaction(async (tx) => {
      if (await tx.lockProject(id)) throw conflict(`project ${id} already exists`);
      const created = Object.assign(new ProjectRow(), {
        id,
        name: input.name,
        cpuQuota: input.cpuQuota ?? QUOTA_FIELDS.cpuQuota.default,
        gpuQuota: input.gpuQuota ?? QUOTA_FIELDS.gpuQuota.default,
        memoryQuota: input.memoryQuota ?? QUOTA_FIELDS.memoryQuota.default,
        appQuota: input.appQuota ?? QUOTA_FIELDS.appQuota.default,
        tokenQuota: input.tokenQuota ?? QUOTA_FIELDS.tokenQuota.default,
        createdAt: new Date(),
      } satisfies ProjectRow);
      try {
        await tx.insertProject(created);
      } catch (error) {
        if (/UQ_projects_name|duplicate key/i.test((error as Error).message))
          throw conflict(`a project named ${input.name} (or with id ${id}) already exists`);
        throw error;
      }
      return created;
    });
    return toProject(row);
  }

  /** The quota of the caller's project (admins may name another). */
  async quota(p: Principal, requested?: string): Promise<Quota> {
    const projectId = projectScope(p, requested);
    const project = await this.store.project(projectId);
    if (!project) throw notFound('project', projectId);
    return this.quotaOf(project);
  }

  /**
   * Sets the quotas given of a project (admins); the others keep their value. Lowering one below
   * what is in use stops nothing: it refuses what would hold more of it (new apps, starts, scale-ups,
   * new tokens) until usage is back under it. Serialised with quota decisions by the project's row
   * lock.
   */
  async setQuota(p: Principal, projectId: string, input: UpdateProjectQuotaInput): Promise<Quota> {
    const changes = Object.fromEntries(
      QUOTA_FIELD_NAMES.filter((f) => input[f] !== undefined).map((f) => [f, input[f] as number]),
    );
    const before = await this.store.transaction(async (tx) => {
      const project = await tx.lockProject(projectId);
      if (!project) throw notFound('project', projectId);
      await tx.setProjectQuotas(project.id, changes);
      return project;
    });
    const said = Object.entries(changes).map(([f, v]) => `${f} ${before[f as QuotaField]} → ${v}`);
    this.log.log(`quotas of project ${projectId}: ${said.join(', ')} (by ${p.tokenName})`);
    return this.quota(p, projectId);
  }

  async me(p: Principal): Promise<Me> {
    const project = await this.store.project(p.projectId);
    if (!project) throw notFound('project', p.projectId);
    return {
      name: p.tokenName,
      tokenId: p.tokenId,
      tenant: project.id,
      project: { id: project.id, name: project.name },
      role: p.role,
      tokenKind: 'bearer',
      ...(p.labelSelector ? { labelSelector: p.labelSelector } : {}),
      quotas: await this.quotaOf(project),
    };
  }

  /** Each quota of the project with what counts against it now. */
  private async quotaOf(project: ProjectRow): Promise<Quota> {
    const [apps, appCount, tokenCount] = await Promise.all([
      this.store.appsAskedToRun(project.id),
      this.store.countApps(project.id),
      this.store.countTokens(project.id),
    ]);
    return {
      projectId: project.id,
      resources: limitsOf(project),
      inUse: { ...holdingsInUse(apps), apps: appCount, tokens: tokenCount },
      storage: 0,
    };
  }
}
