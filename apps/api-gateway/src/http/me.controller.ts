import { type Me } from '@gantry/contracts';
import { Controller, Get, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { ProjectsService } from '../services/projects.service.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** `/v1/me`: who the bearer token is, its project and its quotas. */
@Controller('v1/me')
@UseGuards(JsonBodyGuard, AuthGuard)
export class MeController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  me(@Caller() p: Principal, @Query() query: unknown): Promise<Me> {
    parseInput(NoQuerySchema, query);
    return this.projects.me(p);
  }
}
