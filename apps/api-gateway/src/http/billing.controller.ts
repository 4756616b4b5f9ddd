import { type UsageOutput, UsageQueryInputSchema } from '@gantry/contracts';
import { Controller, Get, Query, UseGuards } from '@nestjs/common';

import type { Principal } from '../domain/access.js';
import { parseInput } from '../domain/validation.js';
import { BillingService } from '../services/billing.service.js';
import { AuthGuard, Caller, JsonBodyGuard } from './guards.js';

/** `/v1/billing`: usage and charges (from billing-meter). */
@Controller('v1/billing')
@UseGuards(JsonBodyGuard, AuthGuard)
export class BillingController {
  constructor(private readonly billing: BillingService) {}

  @Get('usage')
  usage(@Caller() p: Principal, @Query() query: unknown): Promise<UsageOutput> {
    return this.billing.usage(p, parseInput(UsageQueryInputSchema, query));
  }
}
