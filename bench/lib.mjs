// Helpers shared by the benchmarks.
import { request } from 'node:http';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `pollMs` until it returns a truthy value (which it resolves to). */
export async function until(what, fn, { limitMs = 90_000, pollMs = 20 } = {}) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** The p-th percentile (nearest rank). */
export const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.max(0, Math.min(xs.length - 1, Math.ceil((xs.length * p) / 100) - 1))];

/**
 * GET `url` with `Host: host` through node:http (fetch drops a Host header it is given), resolving
 * to {status, headers, body}; rejects on a connection error or after `timeoutMs`.
 */
export function hostGet(url, host, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
