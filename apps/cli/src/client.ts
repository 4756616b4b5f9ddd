import { type ApiErrorBody, isApiErrorBody } from './model/errors.js';

/** An error answer of the API (`{error, message, details}`): exit code 1. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

/** A failure of the CLI itself (cannot connect, not logged in, bad config file): exit code 1 by default. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A command used wrongly (exit code 2), as commander's own usage errors. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

export type QueryValue = string | number | boolean | undefined | readonly string[];

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Abort after this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** `?a=1&b=x&b=y`: undefined values left out, arrays repeated. */
export function buildQuery(query: Record<string, QueryValue> | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v as readonly string[]) params.append(k, item);
    else params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Why a connection failed, from fetch's `TypeError: fetch failed` and its cause chain. */
export function describeNetworkError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const err = cur as { message?: string; code?: string; cause?: unknown; errors?: unknown[] };
    if (err.message && err.message !== 'fetch failed') parts.push(err.message);
    else if (err.code) parts.push(err.code);
    cur = err.cause ?? (Array.isArray(err.errors) ? err.errors[0] : undefined);
  }
  return parts[parts.length - 1] ?? String(e);
}

/** A client of the Gantry REST API over `fetch`, with bearer authentication. */
export class GantryClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
  post<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body });
  }
  put<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...opts, body });
  }
  delete<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, opts);
  }

  /**
   * Sends one request. Resolves with the parsed JSON (undefined for 204, the text for a non-JSON
   * answer); rejects with ApiError for an error answer and CliError when the API cannot be reached.
   */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const target = `${this.url}${path}${buildQuery(opts.query)}`;
    let res: Response;
    try {
      res = await this.fetchImpl(target, { method, headers, body, signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (timeout.aborted)
        throw new CliError(
          `the Gantry API at ${this.url} did not answer within ${(opts.timeoutMs ?? 30_000) / 1000} s`,
        );
      throw new CliError(
        `cannot reach the Gantry API at ${this.url}: ${describeNetworkError(e)}`,
        1,
        'is the platform running (npm run up)? Check the URL given to gantry login, --url or GANTRY_URL',
      );
    }
    const text = await res.text();
    const parsed = parseBody(text, res.headers.get('content-type'));
    if (!res.ok) {
      if (isApiErrorBody(parsed)) throw new ApiError(res.status, parsed);
      const snippet = typeof text === 'string' ? text.trim().slice(0, 200) : '';
      throw new ApiError(res.status, {
        error: `HTTP_${res.status}`,
        message: `the API answered ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ''}`,
      });
    }
    return parsed as T;
  }
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if ((contentType ?? '').includes('json') || /^[[{"]/.test(text.trimStart())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
