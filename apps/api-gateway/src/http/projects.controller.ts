import {
  CreateProjectInputSchema,
  type Project,
  ProjectIdSchema,
  type Quota,
  UpdateProjectQuotaInputSchema,
} from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { ProjectsService } from '../services/projects.service.js';
import { AdminOnly, AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** `/v1/project`: tenants (admin tokens only). */
@Controller('v1/project')
@UseGuards(JsonBodyGuard, AuthGuard)
@AdminOnly(true)
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  async list(@Query() query: unknown): Promise<{ items: Project[] }> {
    parseInput(NoQuerySchema, query);
    return { items: await this.projects.list() };
  }

  @Post()
  @HttpCode(200)
  create(@Body() body: unknown, @Query() query: unknown): Promise<Project> {
    parseInput(NoQuerySchema, query);
    return this.projects.create(parseInput(CreateProjectInputSchema, body));
  }

  /** Sets the project's GPU quota; answers the quota as `GET /v1/capabilities/quota` shows it. */
  @Put(':id/quota')
  setQuota(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<Quota> {
    parseInput(NoQuerySchema, query);
    if (!ProjectIdSchema.safeParse(id).success) throw notFound('project', JSON.stringify(id.slice(0, 64)));
    return this.projects.setQuota(p, id, parseInput(UpdateProjectQuotaInputSchema, body));
  }
}
