/**
 * Money is integer micro-units of a currency. Products are taken in BigInt and rounded once; a value
 * leaves BigInt only through `toSafeInteger`, which refuses what a JSON number cannot hold exactly.
 */

/** Charge of `unitMinutes` at `unitPriceMicros` per unit-hour: round-half-up(unitMinutes × price / 60). */
export function chargeMicros(unitMinutes: bigint, unitPriceMicros: number): bigint {
  if (unitMinutes < 0n || unitPriceMicros < 0 || !Number.isSafeInteger(unitPriceMicros))
    throw new RangeError('unit-minutes and prices are non-negative integers');
  return (unitMinutes * BigInt(unitPriceMicros) + 30n) / 60n;
}

/** `value` as a number, or a RangeError when it exceeds Number.MAX_SAFE_INTEGER. */
export function toSafeInteger(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
    throw new RangeError(`${what} (${value}) is too large to represent exactly`);
  return Number(value);
}
