import { randomBytes } from 'node:crypto';

import type { CreateProjectInput, Me, Project, Quota, UpdateProjectQuotaInput } from '@gantry/contracts';
import { conflict, notFound } from '@gantry/errors';
import { Injectable, Logger } from '@nestjs/common';

import { type Principal, projectScope } from '../domain/access.js';
import { toProject } from '../domain/presenters.js';
import { gpusInUse } from '../domain/quota.js';
import { ProjectRow } from '../store/entities.js';
import { GatewayStore } from '../store/gateway-store.js';

/** GPUs a project may hold at once unless raised (DESIGN.md "Scheduling"). */
export const DEFAULT_GPU_QUOTA = 4;

/** Projects (tenants), their quotas, and who a token is. */
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
        gpuQuota: input.gpuQuota ?? DEFAULT_GPU_QUOTA,
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
   * Sets how many GPUs a project may hold at once (admins). Lowering it below what is in use stops
   * nothing: it refuses new apps, starts and scale-ups until usage is back under it. Serialised with
   * quota decisions by the project's row lock.
   */
  async setQuota(p: Principal, projectId: string, input: UpdateProjectQuotaInput): Promise<Quota> {
    const before = await this.store.transaction(async (tx) => {
      const project = await tx.lockProject(projectId);
      if (!project) throw notFound('project', projectId);
      await tx.setProjectQuota(project.id, input.gpuQuota);
      return project.gpuQuota;
    });
    this.log.log(`GPU quota of project ${projectId}: ${before} → ${input.gpuQuota} (by ${p.tokenName})`);
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

  private async quotaOf(project: ProjectRow): Promise<Quota> {
    const inUse = gpusInUse(await this.store.appsAskedToRun(project.id));
    return { projectId: project.id, resources: { GPU: project.gpuQuota }, inUse: { GPU: inUse }, storage: 0 };
  }
}
