/**
 * What billing accepts from `app.status.v1`, beyond its schema. A status event outside these bounds
 * is a bug or an attack, not usage: it is refused (and dead-lettered) rather than billed. The bounds
 * also keep every period's charge, and every stored value, exactly representable.
 */
import type { AppStatusChanged } from '@gantry/contracts';

import type { StatusPoint } from './usage.js';

const DAY_MS = 86_400_000;

export const INGEST_LIMITS = {
  /** Nothing happened before this (and run ids stay positive). */
  earliest: Date.parse('2000-01-01T00:00:00.000Z'),
  /** How far ahead of the meter's clock an event may be stamped. */
  maxFutureMs: DAY_MS,
  /** Replicas × units per replica: far above any real app (10 replicas × 12 CPUs). */
  maxUnits: 100_000,
  /** Per unit-hour: 1,000,000 currency units. With maxUnits, a period's charge stays exact. */
  maxUnitPriceMicros: 1_000_000_000_000,
  /** Stored as a 32-bit integer. */
  maxVersion: 2_147_483_647,
  maxFlavorLength: 100,
} as const;

/**
 * The instant an event's date is judged against: when the stream stored it, so that a replay years
 * later takes the decision the first delivery took. Core NATS messages have no stored time: the clock.
 */
export const judgedAt = (storedAt: number | undefined, clockNow: number): number => storedAt ?? clockNow;

export type Ingested = { ok: true; point: StatusPoint } | { ok: false; problems: string[] };

/** The status event as a point of its app's timeline, or why billing refuses it. */
export function toStatusPoint(e: AppStatusChanged, receivedAt: number): Ingested {
  const problems: string[] = [];
  const at = Date.parse(e.at);
  if (!Number.isFinite(at)) problems.push(`at: ${JSON.stringify(e.at)} is not a date`);
  else if (at < INGEST_LIMITS.earliest) problems.push(`at: ${e.at} is before 2000`);
  else if (at > receivedAt + INGEST_LIMITS.maxFutureMs)
    problems.push(`at: ${e.at} is more than a day ahead of the meter's clock`);
  if (e.version > INGEST_LIMITS.maxVersion) problems.push(`version: ${e.version} is too large`);
  if (e.allocatedUnits > INGEST_LIMITS.maxUnits)
    problems.push(`allocatedUnits: ${e.allocatedUnits} exceeds ${INGEST_LIMITS.maxUnits}`);
  if (e.rate.unitPriceMicros > INGEST_LIMITS.maxUnitPriceMicros)
    problems.push(
      `rate.unitPriceMicros: ${e.rate.unitPriceMicros} exceeds ${INGEST_LIMITS.maxUnitPriceMicros}`,
    );
  if (!/^[A-Z]{3}$/.test(e.rate.currency)) problems.push('rate.currency: must be an ISO 4217 code (EUR)');
  if (e.rate.flavor.length === 0 || e.rate.flavor.length > INGEST_LIMITS.maxFlavorLength)
    problems.push(`rate.flavor: must have 1 to ${INGEST_LIMITS.maxFlavorLength} characters`);
  if (e.rate.flavor.includes('\0') || e.id.includes('\0'))
    problems.push('id and rate.flavor must not contain NUL characters');
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    point: {
      id: e.id,
      at,
      version: e.version,
      projectId: e.projectId,
      state: e.state,
      allocatedUnits: e.allocatedUnits,
      rate: { flavor: e.rate.flavor, unitPriceMicros: e.rate.unitPriceMicros, currency: e.rate.currency },
    },
  };
}
