import { request } from 'node:http';

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

/**
 * Asserts a JSON error answer `{error, message}`: status, code and (part of) the message. Throws
 * with what came instead (no test-runner import: global setups load this library in plain Node).
 */
export function expectError(
  r: Reply<unknown>,
  status: number,
  error: string,
  message?: string | RegExp,
): void {
  const body = r.body as { error?: unknown; message?: unknown } | undefined;
  const text = typeof body?.message === 'string' ? body.message : '';
  const ok =
    r.status === status &&
    body?.error === error &&
    (message === undefined || (typeof message === 'string' ? text.includes(message) : message.test(text)));
  if (!ok)
    throw new Error(
      `expected ${status} ${error}${message === undefined ? '' : ` with a message matching ${String(message)}`}, ` +
        `got ${r.status} ${JSON.stringify(r.body)}`,
    );
}

export interface IngressReply {
  status: number;
  text: string;
  /** The body as JSON when it is a JSON object; `{}` otherwise. */
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  /** From sending the request to the end of the answer. */
  ms: number;
}

/**
 * One request to `ingress` with `Host: <host>`, the way `curl -H 'Host: …'` sends it, on a connection
 * of its own. node:http, not fetch: fetch (undici) drops a Host header it is given.
 */
export function viaIngress(
  ingress: string,
  host: string,
  path = '/',
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<IngressReply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${ingress}${path}`,
      {
        method: opts.method ?? 'GET',
        headers: { ...opts.headers, host },
        agent: false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            const parsed: unknown = JSON.parse(text);
            if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
              json = parsed as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({
            status: res.statusCode ?? 0,
            text,
            json,
            headers: res.headers,
            ms: Date.now() - started,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${ingress} for ${host} in time`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
