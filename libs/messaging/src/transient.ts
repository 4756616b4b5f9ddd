import { GantryError } from '@gantry/errors';

/**
 * SQLSTATEs of failures that pass: the connection (class 08), the server shutting down or in
 * recovery (57P01–57P03), a serialization failure or deadlock (40001, 40P01), too many connections
 * (53300), a statement cancelled by its timeout (57014).
 */
const TRANSIENT_SQLSTATE = /^(08...|57P0[123]|40001|40P01|53300|57014)$/;

/** Node's network failures: the peer is down, unreachable or slow. */
const TRANSIENT_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/** NATS client failures of a connection or a request that may succeed once the server answers. */
const TRANSIENT_NATS = new Set([
  'TimeoutError',
  'NoResponders',
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'RequestError',
]);

/** What node-postgres and its pool say when the connection, not the statement, failed. */
const TRANSIENT_MESSAGE =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|query read timeout|not queryable|terminating connection|the database system is (starting up|shutting down|in recovery mode)|connect ECONNREFUSED|Connection is closed|no responders/i;

/**
 * Whether a handler's failure may go away by itself — the database or NATS unreachable, restarting,
 * timing out, or a transaction that lost a race — so that its message must be retried, however many
 * times, and never dead-lettered. A GantryError says so itself (`retryable`); otherwise the error,
 * and its cause or driver error (TypeORM's `QueryFailedError`), is read for a SQLSTATE, a network
 * errno, a NATS client error or node-postgres's connection messages. Anything else — a bug, bad data,
 * a constraint — is not transient. Pure.
 */
export function isTransient(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = error; e !== null && typeof e === 'object' && !seen.has(e);) {
    seen.add(e);
    if (e instanceof GantryError) return e.retryable;
    const { code, name, message, driverError, cause, status } = e as Record<string, unknown>;
    if (typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_ERRNO.has(code))) return true;
    if (typeof name === 'string' && TRANSIENT_NATS.has(name)) return true;
    // A JetStream API answer of 503: no stream leader yet, or JetStream not available.
    if (name === 'JetStreamApiError' && (status === 503 || code === 503)) return true;
    if (typeof message === 'string' && TRANSIENT_MESSAGE.test(message)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isTransient(inner))) return true;
    e = driverError ?? cause;
  }
  return false;
}

/** The delay before the nth redelivery of a transiently failing message: 1 s, 2 s, 5 s, 10 s, then 30 s. */
export function transientBackoffMs(deliveries: number): number {
  const steps = [1000, 2000, 5000, 10_000];
  return steps[Math.max(1, deliveries) - 1] ?? 30_000;
}
