import { FlavorIdSchema, type FlavorOutput, ProjectScopeQuerySchema, type Quota } from '@gantry/contracts';
import { notFound } from '@gantry/errors';
import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { toFlavorOutput } from '../domain/presenters.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { ProjectsService } from '../services/projects.service.js';
import { GatewayStore } from '../store/gateway-store.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** `/v1/capabilities`: the flavor catalog (with prices) and the project's quotas. */
@Controller('v1/capabilities')
@UseGuards(JsonBodyGuard, AuthGuard)
export class CapabilitiesController {
  constructor(
    private readonly store: GatewayStore,
    private readonly projects: ProjectsService,
  ) {}

  @Get('flavor')
  async flavors(@Query() query: unknown): Promise<FlavorOutput[]> {
    parseInput(NoQuerySchema, query);
    return (await this.store.flavors()).map(toFlavorOutput);
  }

  @Get('flavor/:id')
  async flavor(@Param('id') raw: string, @Query() query: unknown): Promise<FlavorOutput> {
    parseInput(NoQuerySchema, query);
    const id = parseInput(FlavorIdSchema, raw, 'id');
    const flavor = (await this.store.flavors()).find((f) => f.id === id);
    if (!flavor) throw notFound('flavor', id);
    return toFlavorOutput(flavor);
  }

  @Get('quota')
  quota(@Caller() p: Principal, @Query() query: unknown): Promise<Quota> {
    return this.projects.quota(p, parseInput(ProjectScopeQuerySchema, query).projectId);
  }
}
