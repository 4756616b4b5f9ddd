/**
 * Parsing of command-line values: `KEY=VALUE` pairs, whole numbers, ports, URLs. Each parser throws
 * an `ArgumentError` whose message completes "option '--x <v>' argument 'y' is invalid." — commander
 * turns it into a usage error (exit code 2).
 */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
}

/** `KEY=VALUE`, split at the first `=` (the value may hold `=` and may be empty). */
export function parseKeyValue(text: string, what = 'KEY=VALUE'): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new ArgumentError(`expected ${what}, e.g. ${example(what)}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function example(what: string): string {
  return what === 'KEY=VALUE' ? 'team=vision' : what;
}

/** A whole number within [min, max]. */
export function parseWholeNumber(text: string, min: number, max: number): number {
  if (!/^\d{1,15}$/.test(text.trim())) throw new ArgumentError('must be a whole number');
  const n = Number(text.trim());
  if (n < min) throw new ArgumentError(`must be at least ${min}`);
  if (n > max) throw new ArgumentError(`must be at most ${max}`);
  return n;
}

/** A finite decimal number (`10`, `0.5`, `1e3`); ranges are the API's to check. */
export function parseDecimal(text: string): number {
  const t = text.trim();
  if (!/^[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,3})?$/.test(t) || !Number.isFinite(Number(t)))
    throw new ArgumentError('must be a number, e.g. 10 or 0.5');
  return Number(t);
}

/** One of `choices`, in any case (`cpu` is `CPU`). */
export function parseChoice<T extends string>(text: string, choices: readonly T[]): T {
  const upper = text.trim().toUpperCase();
  const found = choices.find((c) => c === upper);
  if (found === undefined) throw new ArgumentError(`must be one of ${choices.join(', ')}`);
  return found;
}

/** A TCP port (1-65535). */
export const parsePort = (text: string): number => parseWholeNumber(text, 1, 65_535);

/** An ISO 8601 date-time with an offset (`2026-11-23T09:00:00Z`), normalised as the API wants it. */
export function parseIsoDate(text: string): string {
  if (
    !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text) ||
    Number.isNaN(Date.parse(text))
  )
    throw new ArgumentError('must be an ISO 8601 date or date-time, e.g. 2026-11-23 or 2026-11-23T09:00:00Z');
  // A bare date, or a time without offset, is read as UTC so that every machine means the same instant.
  const hasOffset = /(Z|[+-]\d{2}:\d{2})$/.test(text) && text.includes('T');
  return new Date(hasOffset ? text : `${text.includes('T') ? text : `${text}T00:00:00`}Z`).toISOString();
}

/** The API's base URL: http(s), no trailing slash. */
export function parseApiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ArgumentError(`must be a URL like http://127.0.0.1:8000, not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ArgumentError(`must be an http:// or https:// URL, not ${JSON.stringify(text)}`);
  if (url.search || url.hash) throw new ArgumentError('must not carry a query or a fragment');
  return url.toString().replace(/\/+$/, '');
}

/** Appends to a repeatable option's list (commander's argParser for `-e`, `-l`). */
export function collectKeyValue(
  text: string,
  previous: Array<[string, string]> = [],
): Array<[string, string]> {
  return [...previous, parseKeyValue(text)];
}

/** Pairs as a record; a key given twice keeps its last value. */
export function pairsToRecord(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  return Object.fromEntries(pairs);
}

/**
 * `app label ID KEY=VALUE` sets a label; `app label ID KEY-` (kubectl's spelling) removes it. The
 * API's body is `{name, value?}`: no value removes the label.
 */
export function parseLabelEdit(text: string): { name: string; value?: string } {
  if (!text.includes('=') && text.endsWith('-') && text.length > 1) return { name: text.slice(0, -1) };
  const [name, value] = parseKeyValue(text, 'KEY=VALUE (or KEY- to remove the label)');
  return { name, value };
}

/** A label selector `key=value` (the value may be empty). */
export function parseSelector(text: string): string {
  parseKeyValue(text, 'key=value');
  return text;
}

/**
 * A secret piped on stdin (`echo "$PW" | …`, `… < file`) or typed at a prompt: without the one line
 * break that ends it, otherwise as given (a password may start or end with spaces).
 */
export function secretFromStdin(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * Why `token` cannot be an API token, or undefined. Tokens are printable ASCII without spaces; the
 * reason never repeats the token (it is a secret, and the terminal may be shared or recorded).
 */
export function tokenProblem(token: string): string | undefined {
  if (/\s/.test(token)) return 'a token holds no spaces or newlines';
  if (!/^[\x21-\x7e]*$/.test(token))
    return 'a token holds only printable ASCII characters (letters, digits, _ - and the like)';
  return undefined;
}
