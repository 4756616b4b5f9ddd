import { request } from 'node:http';

import { GantryError } from '@gantry/errors';

export interface BoundedGetTarget {
  host: string;
  port: number;
  /** Path and query, starting with `/`. */
  path: string;
  /** For the whole exchange: connecting, the headers and the body. */
  timeoutMs: number;
  maxBytes: number;
  /** Gives up at once (UNAVAILABLE, with the signal's reason as the why). */
  signal?: AbortSignal;
}

export interface BoundedGetAnswer {
  status: number;
  contentType?: string;
  body: string;
}

/** Node's socket error codes in the words a user reads. */
const ERROR_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

/**
 * One HTTP GET whose answer is whatever the server says, within bounds: a redirect is answered as
 * it is (not followed), a body over `maxBytes` is an error (never cut short), and so is no complete
 * answer within `timeoutMs`. Rejects with a GantryError whose message starts with `GET <url>`:
 * UNAVAILABLE (refused, reset, not HTTP), TIMEOUT, PAYLOAD_TOO_LARGE, BAD_REQUEST (a path Node
 * cannot send).
 */
export function boundedGet(t: BoundedGetTarget): Promise<BoundedGetAnswer> {
  const url = `http://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${t.path}`;
  const shown = url.length > 300 ? `${url.slice(0, 300)}…` : url;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      fn();
    };
    const fail = (code: GantryError['code'], why: string): void =>
      settle(() => reject(new GantryError(code, `GET ${shown}: ${why}`)));
    const timer = setTimeout(
      () => fail('TIMEOUT', `no complete answer within ${t.timeoutMs} ms`),
      t.timeoutMs,
    );
    let req: ReturnType<typeof request> | undefined;
    try {
      req = request(
        {
          host: t.host,
          port: t.port,
          path: t.path,
          method: 'GET',
          agent: false,
          headers: { 'user-agent': 'gantry-node-agent/scrape', accept: '*/*' },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const declared = Number(res.headers['content-length']);
          if (status < 100 || status > 599)
            return fail('UNAVAILABLE', `answered status ${status}, not an HTTP status`);
          if (declared > t.maxBytes)
            return fail(
              'PAYLOAD_TOO_LARGE',
              `the body (${declared} bytes) is over the ${t.maxBytes} bytes allowed`,
            );
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > t.maxBytes)
              return fail('PAYLOAD_TOO_LARGE', `the body is over the ${t.maxBytes} bytes allowed`);
            chunks.push(chunk);
          });
          res.on('end', () => {
            const type = res.headers['content-type'];
            settle(() =>
              resolve({
                status,
                ...(type ? { contentType: type.slice(0, 256) } : {}),
                body: new TextDecoder().decode(Buffer.concat(chunks)),
              }),
            );
          });
          res.on('error', (error) => fail('UNAVAILABLE', `the answer broke off: ${error.message}`));
          res.on('close', () => {
            if (!res.complete) fail('UNAVAILABLE', 'the answer broke off');
          });
        },
      );
    } catch (error) {
      return fail('BAD_REQUEST', `cannot be sent: ${(error as Error).message}`);
    }
    const abandon = (): void => fail('UNAVAILABLE', String(t.signal?.reason ?? 'given up'));
    if (t.signal?.aborted) return abandon();
    t.signal?.addEventListener('abort', abandon, { once: true });
    req.on('close', () => t.signal?.removeEventListener('abort', abandon));
    req.on('error', (error: NodeJS.ErrnoException) =>
      fail('UNAVAILABLE', ERROR_WORDS[error.code ?? ''] ?? error.message),
    );
    req.end();
  });
}
