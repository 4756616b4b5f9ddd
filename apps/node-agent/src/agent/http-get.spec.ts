import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { GantryError } from '@gantry/errors';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { boundedGet } from './http-get.js';

const MAX = 1024;

/** A local server whose answers the tests choose by path. */
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/metrics': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('requests_total 42\n');
  },
  '/moved': (_req, res) => {
    res.writeHead(302, { location: '/metrics' });
    res.end('see /metrics');
  },
  '/exact': (_req, res) => res.end('x'.repeat(MAX)),
  '/declared-too-large': (_req, res) => {
    res.writeHead(200, { 'content-length': String(MAX + 1) });
    res.end('y'.repeat(MAX + 1));
  },
  '/streamed-too-large': (_req, res) => {
    // Chunked, no length announced: the limit is found while reading.
    res.write('z'.repeat(MAX / 2));
    setTimeout(() => res.end('z'.repeat(MAX)), 20);
  },
  '/slow': (_req, res) => {
    res.writeHead(200);
    res.write('partial');
    setTimeout(() => res.end(), 2000).unref();
  },
  '/echo': (req, res) => res.end(JSON.stringify({ url: req.url, ua: req.headers['user-agent'] })),
};

let server: Server;
let port: number;
const get = (path: string, timeoutMs = 1000) =>
  boundedGet({ host: '127.0.0.1', port, path, timeoutMs, maxBytes: MAX });
const failure = async (p: Promise<unknown>): Promise<GantryError> => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GantryError)) throw new Error(`expected a GantryError, got ${String(error)}`);
  return error;
};

beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url?.split('?')[0] ?? ''] ?? routes['/echo'])?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('boundedGet', () => {
  it('answers the status, content type and body', async () => {
    expect(await get('/metrics')).toEqual({
      status: 200,
      contentType: 'text/plain; version=0.0.4',
      body: 'requests_total 42\n',
    });
  });

  it('sends the path and query as given', async () => {
    const answer = await get('/echo/x?a=1&b=%20');
    expect(JSON.parse(answer.body)).toEqual({ url: '/echo/x?a=1&b=%20', ua: 'gantry-node-agent/scrape' });
  });

  it('answers a redirect as it is, without following it', async () => {
    expect(await get('/moved')).toEqual({ status: 302, body: 'see /metrics' });
  });

  it('takes a body of exactly the limit, and refuses one over it rather than cutting it', async () => {
    expect((await get('/exact')).body).toHaveLength(MAX);
    const declared = await failure(get('/declared-too-large'));
    expect([declared.code, declared.message]).toEqual([
      'PAYLOAD_TOO_LARGE',
      `GET http://127.0.0.1:${port}/declared-too-large: the body (${MAX + 1} bytes) is over the ${MAX} bytes allowed`,
    ]);
    const streamed = await failure(get('/streamed-too-large'));
    expect([streamed.code, streamed.message]).toEqual([
      'PAYLOAD_TOO_LARGE',
      `GET http://127.0.0.1:${port}/streamed-too-large: the body is over the ${MAX} bytes allowed`,
    ]);
  });

  it('gives up on an answer not complete within the time limit', async () => {
    const started = Date.now();
    const error = await failure(get('/slow', 300));
    expect(Date.now() - started).toBeLessThan(1500);
    expect([error.code, error.message]).toEqual([
      'TIMEOUT',
      `GET http://127.0.0.1:${port}/slow: no complete answer within 300 ms`,
    ]);
  });

  it('gives up at once when its signal aborts, saying why', async () => {
    const stop = new AbortController();
    const pending = failure(
      boundedGet({
        host: '127.0.0.1',
        port,
        path: '/slow',
        timeoutMs: 5000,
        maxBytes: MAX,
        signal: stop.signal,
      }),
    );
    setTimeout(() => stop.abort('the node agent is stopping'), 50);
    const error = await pending;
    expect([error.code, error.message]).toEqual([
      'UNAVAILABLE',
      `GET http://127.0.0.1:${port}/slow: the node agent is stopping`,
    ]);
  });

  it('says a connection was refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(
      boundedGet({ host: '127.0.0.1', port: free, path: '/', timeoutMs: 1000, maxBytes: MAX }),
    );
    expect([error.code, error.message]).toEqual([
      'UNAVAILABLE',
      `GET http://127.0.0.1:${free}/: connection refused`,
    ]);
  });

  it('refuses a path Node cannot send', async () => {
    const error = await failure(get('/with space'));
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/with space: cannot be sent: /);
  });
});
