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

/**
 * Docker's words when a registry refuses a pull for want of credentials or refuses those given:
 * `no basic auth credentials` (none sent), `unauthorized: authentication required` (wrong ones),
 * `pull access denied for …, repository does not exist or may require 'docker login'` (Docker Hub,
 * for a private repository and a missing one alike), `denied: requested access to the resource is
 * denied`, and a registry's bare HTTP 401/403.
 */
const REGISTRY_AUTH_FAILURE =
  /\bunauthorized\b|authentication required|pull access denied|no basic auth credentials|denied: requested access|incorrect username or password|\bHTTP 40[13]\b/i;

/** True when the engine's answer to a pull (its HTTP status, if any, and message) is a registry's refusal to authenticate. */
export function isRegistryAuthFailure(status: number | undefined, message: string): boolean {
  return status === 401 || status === 403 || REGISTRY_AUTH_FAILURE.test(message);
}

export const statusOf = (error: unknown): number | undefined =>
  (error as DockerishError | undefined)?.statusCode;
