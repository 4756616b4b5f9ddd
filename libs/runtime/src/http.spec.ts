import { describe, expect, it } from '@jest/globals';
import type { ArgumentsHost } from '@nestjs/common';

import { HttpErrorFilter } from './http.js';

/** What the filter answers for an error escaping a controller. */
function answer(exception: unknown): { status: number; body: unknown; headers: Record<string, string> } {
  const out = { status: 0, body: undefined as unknown, headers: {} as Record<string, string> };
  const res = {
    headersSent: false,
    status(code: number) {
      out.status = code;
      return res;
    },
    setHeader(name: string, value: string) {
      out.headers[name] = value;
    },
    json(body: unknown) {
      out.body = body;
    },
  };
  const host = {
    switchToHttp: () => ({
      getResponse: () => res,
      getRequest: () => ({ method: 'PUT', url: '/v1/app/x/stop' }),
    }),
  } as unknown as ArgumentsHost;
  new HttpErrorFilter().catch(exception, host);
  return out;
}

describe('HttpErrorFilter', () => {
  it.each([
    [
      'the database refusing connections',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    [
      'the database shutting down',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    [
      'a TypeORM query whose connection ended',
      Object.assign(new Error('Query failed'), {
        driverError: new Error('Connection terminated unexpectedly'),
      }),
    ],
  ])('answers 503 with Retry-After, not 500, for %s', (_what, error) => {
    const a = answer(error);
    expect(a.status).toBe(503);
    expect(a.body).toMatchObject({ error: 'UNAVAILABLE' });
    expect(a.headers['Retry-After']).toBe('2');
  });

  it('still answers 500 for a bug, without its details', () => {
    const a = answer(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(a).toEqual({
      status: 500,
      body: { error: 'INTERNAL', message: 'an internal error occurred' },
      headers: {},
    });
  });
});
