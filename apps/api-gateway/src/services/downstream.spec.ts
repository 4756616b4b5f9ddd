import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';

import { downstreamError } from './downstream.js';

describe('downstreamError: a failed query never becomes a 500', () => {
  it.each([
    ['UNAVAILABLE', 503],
    ['TIMEOUT', 504],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['RATE_LIMITED', 429],
  ] as const)('passes %s through (%i)', (code, status) => {
    const e = downstreamError('log-collector', new GantryError(code, 'x'));
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
  });

  it.each<[string, unknown]>([
    [
      'an internal failure of the other service',
      new GantryError('INTERNAL', 'log-collector failed to answer'),
    ],
    [
      'an answer that breaks the contract',
      new GantryError('VALIDATION_FAILED', 'reply to query.logs.v1: logs: …'),
    ],
    ['a schema error', z.object({ a: z.string() }).safeParse({}).error],
    ['anything thrown', 'boom'],
  ])('turns %s into 503 naming the service', (_what, error) => {
    const e = downstreamError('billing-meter', error);
    expect(e.status).toBe(503);
    expect(e.message).toMatch(/^billing-meter could not answer: /);
  });
});
