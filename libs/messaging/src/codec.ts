import { GantryError } from '@gantry/errors';
import type { z } from 'zod';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** Parses and validates bytes from the wire. Throws a non-retryable GantryError naming what is wrong. */
export function decodeWith<T extends z.ZodType>(schema: T, bytes: Uint8Array, what: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new GantryError('INVALID_JSON', `${what}: payload is not JSON`);
  }
  return checkWith(schema, raw, what);
}

/** Validates a value from the wire (already parsed). Throws a non-retryable GantryError naming the first problem. */
export function checkWith<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(root)';
    throw new GantryError('VALIDATION_FAILED', `${what}: ${field}: ${issue?.message ?? 'invalid'}`, {
      details: result.error.issues.slice(0, 10).map((i) => ({ field: i.path.join('.'), message: i.message })),
    });
  }
  return result.data;
}

export const bytesToText = (bytes: Uint8Array, max = 4096): string => decoder.decode(bytes.subarray(0, max));
