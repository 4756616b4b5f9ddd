import {
  type App,
  type AppEvents,
  AppEventsQuerySchema,
  AppIdSchema,
  AppLogsQuerySchema,
  type AppPage,
  CreateAppInputSchema,
  DeleteAppQuerySchema,
  ListAppsQuerySchema,
  type Logs,
} from '@gantry/contracts';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { AppsService } from '../services/apps.service.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/**
 * `/v1/app` (reference §2.1). Create answers 200 with the App; stop, start and delete answer 204 (the
 * change is asynchronous: the status follows as the scheduler reports it), as the regional API does.
 */
@Controller('v1/app')
@UseGuards(JsonBodyGuard, AuthGuard)
export class AppsController {
  constructor(private readonly apps: AppsService) {}

  @Post()
  @HttpCode(200)
  create(@Caller() p: Principal, @Body() body: unknown, @Query() query: unknown): Promise<App> {
    parseInput(NoQuerySchema, query);
    return this.apps.create(p, parseInput(CreateAppInputSchema, body));
  }

  @Get()
  list(@Caller() p: Principal, @Query() query: unknown): Promise<AppPage> {
    return this.apps.list(p, parseInput(ListAppsQuerySchema, query));
  }

  @Get(':id')
  get(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<App> {
    parseInput(NoQuerySchema, query);
    return this.apps.get(p, parseInput(AppIdSchema, id, 'id'));
  }

  @Put(':id/stop')
  @HttpCode(204)
  async stop(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.apps.act(p, parseInput(AppIdSchema, id, 'id'), 'stop');
  }

  @Put(':id/start')
  @HttpCode(204)
  async start(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.apps.act(p, parseInput(AppIdSchema, id, 'id'), 'start');
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    const { force } = parseInput(DeleteAppQuerySchema, query);
    await this.apps.act(p, parseInput(AppIdSchema, id, 'id'), 'delete', force);
  }

  @Get(':id/log')
  logs(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<Logs> {
    const q = parseInput(AppLogsQuerySchema, query);
    return this.apps.logs(p, parseInput(AppIdSchema, id, 'id'), {
      ...(q.tail !== undefined ? { tail: q.tail } : {}),
      ...(q.replica !== undefined ? { replica: q.replica } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    });
  }

  @Get(':id/event')
  events(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<AppEvents> {
    const q = parseInput(AppEventsQuerySchema, query);
    return this.apps.events(
      p,
      parseInput(AppIdSchema, id, 'id'),
      q.limit !== undefined ? { limit: q.limit } : {},
    );
  }
}
