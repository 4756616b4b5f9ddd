import { z } from 'zod';

/** Every JetStream event carries an id: the publisher's dedupe id and the consumers' idempotency key. */
export const EventIdSchema = z.string().min(1).max(200);
export const IsoDateSchema = z.iso.datetime({ offset: true });
export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'must be an id (letters, digits, _ -)');
