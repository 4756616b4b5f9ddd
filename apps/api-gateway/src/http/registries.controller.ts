import {
  CreateRegistryInputSchema,
  ProjectScopeQuerySchema,
  type Registry,
  RegistryIdSchema,
  type RegistryList,
  UpdateRegistryInputSchema,
} from '@gantry/contracts';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { RegistriesService } from '../services/registries.service.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/**
 * `/v1/registry` (reference §5 Registries): a project's private registries. Read tokens may list
 * them; operators and admins change them. Passwords go in, never out.
 */
@Controller('v1/registry')
@UseGuards(JsonBodyGuard, AuthGuard)
export class RegistriesController {
  constructor(private readonly registries: RegistriesService) {}

  @Get()
  async list(@Caller() p: Principal, @Query() query: unknown): Promise<RegistryList> {
    return { items: await this.registries.list(p, parseInput(ProjectScopeQuerySchema, query).projectId) };
  }

  @Post()
  @HttpCode(200)
  create(@Caller() p: Principal, @Body() body: unknown, @Query() query: unknown): Promise<Registry> {
    parseInput(NoQuerySchema, query);
    return this.registries.create(p, parseInput(CreateRegistryInputSchema, body));
  }

  @Get(':id')
  get(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<Registry> {
    parseInput(NoQuerySchema, query);
    return this.registries.get(p, parseInput(RegistryIdSchema, id, 'id'));
  }

  @Put(':id')
  update(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<Registry> {
    parseInput(NoQuerySchema, query);
    return this.registries.update(
      p,
      parseInput(RegistryIdSchema, id, 'id'),
      parseInput(UpdateRegistryInputSchema, body),
    );
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.registries.delete(p, parseInput(RegistryIdSchema, id, 'id'));
  }
}
