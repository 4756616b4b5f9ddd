import { type ErrorBody, type ErrorCode, type FieldError, HTTP_STATUS } from '@gantry/contracts';

/**
 * A domain error: a code from the contracts' vocabulary, a sentence a user can act on, and optional
 * details. Edges translate it: the HTTP filter to a status and JSON body, the message host to
 * `term` (permanent) or `nak` (retryable).
 */
export class GantryError extends Error {
  readonly details?: unknown;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { details?: unknown; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'GantryError';
    this.details = opts.details;
    this.retryable = opts.retryable ?? (code === 'UNAVAILABLE' || code === 'TIMEOUT');
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: ErrorBody): GantryError {
    return new GantryError(body.error, body.message, { details: body.details });
  }
}

export const notFound = (what: string, id: string): GantryError =>
  new GantryError('NOT_FOUND', `${what} ${id} does not exist`);
export const conflict = (message: string, details?: unknown): GantryError =>
  new GantryError('CONFLICT', message, { details });
export const badRequest = (message: string, details?: unknown): GantryError =>
  new GantryError('BAD_REQUEST', message, { details });
export const unavailable = (message: string, cause?: unknown): GantryError =>
  new GantryError('UNAVAILABLE', message, { cause });

/** A validation failure naming each field: the message names the first, details list all. */
export function validationFailed(problems: FieldError[]): GantryError {
  const first = problems[0];
  const message = first
    ? `${first.field || 'body'}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`
    : 'the request is invalid';
  return new GantryError('VALIDATION_FAILED', message, { details: problems });
}

/** Field errors from zod issues (path joined with dots). */
export function fieldErrors(
  issues: ReadonlyArray<{
    path: ReadonlyArray<PropertyKey>;
    message: string;
    code?: string;
    keys?: string[];
  }>,
  prefix = '',
): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const base = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      for (const key of issue.keys)
        out.push({ field: base ? `${base}.${key}` : key, message: 'is not a known field' });
    } else {
      out.push({ field: base, message: issue.message });
    }
  }
  return out;
}

/** What went wrong, in one line for a log or a dead letter: an error's message, or the thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
