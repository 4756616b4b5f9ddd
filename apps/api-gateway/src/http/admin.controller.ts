import {
  DeadLetterListQuerySchema,
  type DeadLetterPage,
  ReplayDeadLettersInputSchema,
  type ReplayDeadLettersResult,
} from '@gantry/contracts';
import { errorMessage, GantryError, unavailable } from '@gantry/errors';
import { MessageBus } from '@gantry/messaging';
import { Body, Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';

import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { AdminOnly, AuthGuard, JsonBodyGuard } from './guards.js';

/** NATS failing under a request is the platform's trouble, not the caller's: 503 naming it. */
async function viaNats<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GantryError) throw error;
    throw unavailable(`cannot ${what}: ${errorMessage(error)}`, error);
  }
}

/**
 * `/v1/admin` (operators, admin tokens only): the dead-letter stream — messages a consumer could
 * never handle — listed page by page, and replayed to their original subjects once what refused
 * them is fixed. A replayed letter leaves the stream; one that cannot be replayed stays, with why.
 */
@Controller('v1/admin')
@UseGuards(JsonBodyGuard, AuthGuard)
@AdminOnly(true)
export class AdminController {
  constructor(private readonly bus: MessageBus) {}

  @Get('dlq')
  listDeadLetters(@Query() query: unknown): Promise<DeadLetterPage> {
    const q = parseInput(DeadLetterListQuerySchema, query);
    return viaNats('read the dead-letter stream', () => this.bus.deadLetters(q));
  }

  @Post('dlq/replay')
  @HttpCode(200)
  replayDeadLetters(@Body() body: unknown, @Query() query: unknown): Promise<ReplayDeadLettersResult> {
    parseInput(NoQuerySchema, query);
    const select = parseInput(ReplayDeadLettersInputSchema, body);
    return viaNats('replay dead letters', () => this.bus.replayDeadLetters(select));
  }
}
