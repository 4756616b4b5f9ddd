const MICROS_PER_UNIT = 1_000_000;

/**
 * Renders integer micro-units of a currency as a decimal string, exactly (no floating point): at
 * least two decimals, more only when the amount has them. `15_440_000` → `"15.44"`, `1000` →
 * `"0.001"`, `0` → `"0.00"`. Throws on anything but a safe integer.
 */
export function formatMicros(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer amount of micro-units: ${micros}`);
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / MICROS_PER_UNIT);
  const fraction = String(abs % MICROS_PER_UNIT)
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `${sign}${whole}.${fraction.padEnd(2, '0')}`;
}
