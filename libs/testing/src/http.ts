import { expect } from '@jest/globals';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  /** The bearer token; `null` sends none; absent: the client's default. */
  token?: string | null;
  headers?: Record<string, string>;
}

/**
 * A client of a JSON HTTP API as a user's program would be: `body` is JSON-encoded unless already a
 * string; the answer is parsed as JSON when it is JSON, kept as text otherwise.
 */
export function jsonClient(base: () => string, defaultToken?: string) {
  return async <T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? defaultToken : opts.token;
    if (token) headers['authorization'] = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base()}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

/** Asserts a JSON error answer `{error, message}`: status, code and (part of) the message. */
export function expectError(
  r: Reply<unknown>,
  status: number,
  error: string,
  message?: string | RegExp,
): void {
  expect({ status: r.status, error: (r.body as { error?: string } | undefined)?.error }).toEqual({
    status,
    error,
  });
  const text = (r.body as { message?: string } | undefined)?.message ?? '';
  if (typeof message === 'string') expect(text).toContain(message);
  else if (message) expect(text).toMatch(message);
}
