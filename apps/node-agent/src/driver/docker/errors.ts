import { DriverError, type DriverErrorKind } from '../driver.js';

interface DockerishError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: unknown } | null;
}

/** The engine's own words: Docker's JSON `message` when there is one, else the error's message. */
export function engineMessage(error: unknown): string {
  const e = (error ?? {}) as DockerishError;
  const fromJson = e.json && typeof e.json.message === 'string' ? e.json.message : undefined;
  return (fromJson ?? e.message ?? String(error)).trim();
}

/** Translates a dockerode / docker-modem / socket error into a DriverError. */
export function toDriverError(error: unknown, what: string): DriverError {
  if (error instanceof DriverError) return error;
  const e = (error ?? {}) as DockerishError;
  let kind: DriverErrorKind = 'unknown';
  if (e.statusCode === 404) kind = 'not-found';
  else if (e.statusCode === 409) kind = 'conflict';
  else if (e.statusCode === 400) kind = 'invalid';
  else if (
    e.code &&
    ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EACCES', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(e.code)
  )
    kind = 'unavailable';
  else if ((error as Error | undefined)?.name === 'AbortError') kind = 'timeout';
  return new DriverError(kind, `${what}: ${engineMessage(error)}`, { cause: error });
}

export const statusOf = (error: unknown): number | undefined =>
  (error as DockerishError | undefined)?.statusCode;
