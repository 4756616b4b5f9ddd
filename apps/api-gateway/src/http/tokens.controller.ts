import {
  CreateTokenInputSchema,
  ProjectScopeQuerySchema,
  type Token,
  TokenIdSchema,
  type TokenList,
} from '@gantry/contracts';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { TokensService } from '../services/tokens.service.js';
import { AdminOnly, AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/**
 * `/v1/token` (reference §5.3), admin tokens only for now. The secret is returned once, by create and
 * renew; delete revokes at once (the ingress watches the `tokens` bucket).
 */
@Controller('v1/token')
@UseGuards(JsonBodyGuard, AuthGuard)
@AdminOnly(true)
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Get()
  async list(@Caller() p: Principal, @Query() query: unknown): Promise<TokenList> {
    return { items: await this.tokens.list(p, parseInput(ProjectScopeQuerySchema, query).projectId) };
  }

  @Post()
  @HttpCode(200)
  create(@Caller() p: Principal, @Body() body: unknown, @Query() query: unknown): Promise<Token> {
    parseInput(NoQuerySchema, query);
    return this.tokens.create(p, parseInput(CreateTokenInputSchema, body));
  }

  @Get(':id')
  get(@Param('id') id: string, @Query() query: unknown): Promise<Token> {
    parseInput(NoQuerySchema, query);
    return this.tokens.get(parseInput(TokenIdSchema, id, 'id'));
  }

  @Post(':id/renew')
  @HttpCode(200)
  renew(@Param('id') id: string, @Query() query: unknown): Promise<Token> {
    parseInput(NoQuerySchema, query);
    return this.tokens.renew(parseInput(TokenIdSchema, id, 'id'));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string, @Query() query: unknown): Promise<void> {
    parseInput(NoQuerySchema, query);
    await this.tokens.delete(parseInput(TokenIdSchema, id, 'id'));
  }
}
