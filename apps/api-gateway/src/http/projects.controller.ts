import { CreateProjectInputSchema, type Project } from '@gantry/contracts';
import { Body, Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';

import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { ProjectsService } from '../services/projects.service.js';
import { AdminOnly, AuthGuard, JsonBodyGuard } from './guards.js';

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
}
