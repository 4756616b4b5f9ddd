import { z } from 'zod';

/**
 * Building blocks of the REST API's request schemas. Query-string values arrive as strings (or
 * arrays of strings when a parameter is repeated); these helpers turn them into typed values with
 * messages a user can act on.
 */

/** Characters no stored text may hold: NUL (PostgreSQL text) and lone UTF-16 surrogates (jsonb). */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this pattern must find
export const FORBIDDEN_TEXT = /[\u0000\p{Cs}]/u;

/** A free text field: no NUL, no lone surrogate, at most `max` characters. */
export const text = (max: number) =>
  z
    .string({ error: requiredOr('must be a string') })
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !FORBIDDEN_TEXT.test(s), 'must not contain NUL characters or unpaired surrogates');

/** `is required` when the value is missing, else `otherwise`. */
export function requiredOr(otherwise: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? 'is required' : otherwise);
}

const once = (issue: { input?: unknown }): string | undefined =>
  Array.isArray(issue.input) ? 'must be given once' : undefined;

/** One query-string value (a repeated parameter is refused). */
export const queryString = () => z.string({ error: once });

/** A whole number in the query string, within [min, max]. */
export const queryInt = (min: number, max: number) =>
  queryString()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** `true` or `false` in the query string. */
export const queryBool = () =>
  queryString()
    .refine((v) => v === 'true' || v === 'false', 'must be true or false')
    .transform((v) => v === 'true');

/** One of `values` in the query string. */
export const queryEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  queryString().pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }));

/** A list in the query string: the parameter repeated, comma-separated, or both. */
export const queryList = <T extends z.ZodType<unknown, string>>(item: T, max = 20) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(item).max(max, `must list at most ${max} values`));

/** An ISO 8601 date-time with an offset, e.g. `2026-11-23T09:00:00Z`. */
export const queryDate = () =>
  queryString().pipe(z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }));

/** A page of results. `total` counts every match, not just this page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    items: z.array(item),
    page: z.int().min(1),
    size: z.int().min(1),
    total: z.int().min(0),
  });

/** `key=value`: which apps a token reaches, or which apps to list (label selector). */
export const LABEL_SELECTOR =
  /^[A-Za-z0-9]([A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?=([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

/** Parses `key=value`; undefined when it is not a label selector. */
export function parseLabelSelector(selector: string): { key: string; value: string } | undefined {
  if (!LABEL_SELECTOR.test(selector)) return undefined;
  const at = selector.indexOf('=');
  return { key: selector.slice(0, at), value: selector.slice(at + 1) };
}

/** Whether `labels` satisfy `selector` (no selector: everything matches). */
export function matchesSelector(
  labels: Record<string, string>,
  selector: string | undefined | null,
): boolean {
  if (!selector) return true;
  const parsed = parseLabelSelector(selector);
  if (!parsed) return false;
  return Object.prototype.hasOwnProperty.call(labels, parsed.key) && labels[parsed.key] === parsed.value;
}
