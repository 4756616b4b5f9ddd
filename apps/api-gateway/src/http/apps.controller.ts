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
  SetImageInputSchema,
  SetLabelInputSchema,
  SetScalingStrategyInputSchema,
  UpdateAppEnvelopeSchema,
  type UpdateAppInput,
  UpdateAppInputSchema,
} from '@gantry/contracts';
import { notFound, validationFailed } from '@gantry/errors';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { AppsService } from '../services/apps.service.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** An id that is not even a UUID names no app: 404, as for any unknown app. */
function appId(id: string): string {
  if (!AppIdSchema.safeParse(id).success) throw notFound('app', JSON.stringify(id.slice(0, 64)));
  return id;
}

/**
 * The body of `PUT /v1/app/{id}`: the update itself (`UpdateInput`, as the v6 API sends it), or wrapped
 * as the regional API sends it (`{appUpdate, id}`; an `id` must then be this app's).
 */
function updateInput(id: string, body: unknown): UpdateAppInput {
  if (body === null || typeof body !== 'object' || !('appUpdate' in body))
    return parseInput(UpdateAppInputSchema, body);
  const envelope = parseInput(UpdateAppEnvelopeSchema, body);
  if (envelope.id !== undefined && envelope.id !== id)
    throw validationFailed([{ field: 'id', message: `must be this app's id (${id}) or be left out` }]);
  return envelope.appUpdate;
}

/**
 * `/v1/app` (reference §2.1). Create answers 200 with the App; stop, start and delete answer 204 (the
 * change is asynchronous: the status follows as the scheduler reports it), as the regional API does.
 * Spec changes (update, image, labels, scaling strategy) answer 200 with the App and its new spec;
 * the status follows as the scheduler applies it. A rollback answers 204, as stop and start do.
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
    return this.apps.get(p, appId(id));
  }

  @Put(':id')
  update(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<App> {
    parseInput(NoQuerySchema, query);
    const app = appId(id);
    return this.apps.change(p, app, { kind: 'update', input: updateInput(app, body) });
  }

  @Put(':id/image')
  setImage(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<App> {
    parseInput(NoQuerySchema, query);
    const app = appId(id);
    return this.apps.change(p, app, { kind: 'image', input: parseInput(SetImageInputSchema, body) });
  }

  @Put(':id/label')
  setLabel(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<App> {
    parseInput(NoQuerySchema, query);
    const app = appId(id);
    return this.apps.change(p, app, { kind: 'label', input: parseInput(SetLabelInputSchema, body) });
  }

  @Put(':id/scalingstrategy')
  setScalingStrategy(
    @Caller() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Query() query: unknown,
  ): Promise<App> {
    parseInput(NoQuerySchema, query);
    const app = appId(id);
    return this.apps.change(p, app, {
      kind: 'scaling',
      input: parseInput(SetScalingStrategyInputSchema, body),
    });
  }

  /** 204: the rollback is a new desired version; the status follows as the scheduler rolls it out. */
  @Put(':id/rollback')
  @HttpCode(204)
  async rollback(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.apps.rollback(p, appId(id));
  }

  @Put(':id/stop')
  @HttpCode(204)
  async stop(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.apps.act(p, appId(id), 'stop');
  }

  @Put(':id/start')
  @HttpCode(204)
  async start(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.apps.act(p, appId(id), 'start');
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<void> {
    const { force } = parseInput(DeleteAppQuerySchema, query);
    await this.apps.act(p, appId(id), 'delete', force);
  }

  @Get(':id/log')
  logs(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<Logs> {
    const q = parseInput(AppLogsQuerySchema, query);
    return this.apps.logs(p, appId(id), {
      ...(q.tail !== undefined ? { tail: q.tail } : {}),
      ...(q.replica !== undefined ? { replica: q.replica } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    });
  }

  @Get(':id/event')
  events(@Caller() p: Principal, @Param('id') id: string, @Query() query: unknown): Promise<AppEvents> {
    const q = parseInput(AppEventsQuerySchema, query);
    return this.apps.events(p, appId(id), q.limit !== undefined ? { limit: q.limit } : {});
  }
}
