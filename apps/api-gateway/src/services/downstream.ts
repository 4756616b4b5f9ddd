import { QUERIES, type QueryRequest, type QueryResponse, type QuerySubject } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { MessageBus } from '@gantry/messaging';
import { Inject, Injectable } from '@nestjs/common';

import { type ApiGatewayConfig, GATEWAY_CONFIG } from './config.token.js';

/** Codes of a downstream answer that mean the same thing to our client. */
const PASSED_THROUGH = new Set(['UNAVAILABLE', 'TIMEOUT', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED']);

/**
 * What a client sees when a query to another service fails: nobody answering → 503, no answer in time
 * → 504, not found → 404, refused in the current state (a node not drained) → 409; anything else (a failure of the other service, an answer that does not
 * match the contract) → 503 naming the service. Never a 500: the gateway itself did not fail.
 */
export function downstreamError(owner: string, error: unknown): GantryError {
  if (error instanceof GantryError && PASSED_THROUGH.has(error.code)) return error;
  const why = error instanceof Error ? error.message : String(error);
  return new GantryError('UNAVAILABLE', `${owner} could not answer: ${why}`, { cause: error });
}

/** Asks log-collector, billing-meter and the scheduler, with the configured timeout and the error mapping above. */
@Injectable()
export class Downstream {
  constructor(
    private readonly bus: MessageBus,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  async ask<S extends QuerySubject>(subject: S, request: QueryRequest<S>): Promise<QueryResponse<S>> {
    try {
      return await this.bus.request(subject, request, this.config.QUERY_TIMEOUT_MS);
    } catch (error) {
      throw downstreamError(QUERIES[subject].owner, error);
    }
  }
}
