import { rng } from '@gantry/testing';
import { describe, expect, it } from '@jest/globals';

import { api, E } from './platform.js';

/**
 * Hostile input against the whole public API, through the real gateway: every operation of its own
 * OpenAPI document is called with path parameters, query strings, bodies and headers that are wrong
 * in as many ways as we know (wrong types for each documented field, malformed, deep and oversized
 * JSON, prototype keys, odd encodings, bad credentials). No answer may be a 5xx (503 with a JSON
 * error is a documented state, e.g. a missing secret key), every error is the JSON error body, the
 * gateway keeps answering, and no write is accepted (every write names something that does not
 * exist, or carries a body that cannot be whole). Deterministic: a seeded stream picks the values.
 */

const WRONG: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  '',
  ' ',
  'x',
  '\u0000',
  '😀'.repeat(50),
  'a'.repeat(70_000),
  [],
  [1, 'a', null],
  {},
  JSON.parse('{"__proto__":{"polluted":true}}'),
  { constructor: { prototype: { polluted: true } } },
  '../../etc/passwd',
  '%00',
  '<script>',
  "' OR 1=1 --",
];
/** Path parameters: none of them names anything that exists. */
const PATH_VALUES = [
  'nope',
  '00000000-0000-0000-0000-000000000000',
  '%00',
  '%zz',
  '..%2F..%2Fetc',
  'a'.repeat(5000),
  '%F0%9F%98%80',
  '-1',
  '%20',
  '__proto__',
];
const QUERY_VALUES = [
  '',
  'x',
  '-1',
  '1e308',
  'a'.repeat(3000),
  '%00',
  '[]',
  '{}',
  'true',
  '99999999999999999999',
];
const AUTH = ['', 'Bearer', 'Bearer x', 'Basic YTpi', `Bearer ${'a'.repeat(8000)}`];

interface Operation {
  parameters?: Array<{ name: string; in: string } | { $ref: string }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface Schema {
  $ref?: string;
  properties?: Record<string, unknown>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: unknown;
}

describe('hostile input to every API operation', () => {
  it('never gets a 5xx or a non-JSON error, and accepts no write', async () => {
    const random = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const doc = (await (await fetch(`${E.api}/docs/openapi.json`)).json()) as OpenApi;
    const resolve = <T>(x: T | { $ref: string } | undefined): T | undefined => {
      let s: unknown = x;
      for (let i = 0; i < 10 && s && typeof s === 'object' && '$ref' in s; i++)
        s = (s as { $ref: string }).$ref
          .split('/')
          .slice(1)
          .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      return s as T | undefined;
    };
    // Its own admin token: the sweep spends that token's rate limit, not the shared one's.
    const made = await api<{ id: string; status: { value?: string } }>('POST', '/v1/token', {
      body: { name: 'hostile-input', role: 'admin' },
    });
    expect(made.status).toBe(200);
    const token = made.body.status.value ?? '';

    const problems: string[] = [];
    let sent = 0;
    const call = async (
      method: string,
      path: string,
      opts: { body?: string; type?: string; auth?: string } = {},
    ): Promise<void> => {
      sent++;
      const headers: Record<string, string> = { authorization: opts.auth ?? `Bearer ${token}` };
      if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
      const what = `${method} ${path.slice(0, 100)}${opts.body ? ` ${opts.body.slice(0, 60)}` : ''}`;
      let res: Response;
      try {
        res = await fetch(`${E.api}${path}`, {
          method,
          headers,
          body: opts.body,
          signal: AbortSignal.timeout(15_000),
        });
      } catch (error) {
        problems.push(`${what}: no answer (${(error as Error).message})`);
        return;
      }
      const text = await res.text();
      if (method !== 'GET' && res.status < 300)
        problems.push(`${what} → accepted (${res.status}): ${text.slice(0, 200)}`);
      if (res.status >= 500 && res.status !== 503)
        problems.push(`${what} → ${res.status}: ${text.slice(0, 200)}`);
      if (res.status < 400) return;
      try {
        const body = JSON.parse(text) as { error?: unknown; message?: unknown };
        if (typeof body.error !== 'string' || typeof body.message !== 'string')
          throw new Error('not an error body');
      } catch {
        problems.push(`${what} → ${res.status} without the JSON error body: ${text.slice(0, 200)}`);
      }
    };

    for (const [template, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const verb = method.toUpperCase();
        const params = (op.parameters ?? []).map((p) => resolve<{ name: string; in: string }>(p));
        const query = () =>
          params
            .filter((p) => p?.in === 'query')
            .map((p) => `${encodeURIComponent(p?.name ?? '')}=${encodeURIComponent(pick(QUERY_VALUES))}`)
            .join('&');
        const hasParams = template.includes('{');
        for (const value of hasParams ? PATH_VALUES : [PATH_VALUES[0]]) {
          const path = template.replace(/\{[^}]+\}/g, value ?? '');
          const q = query();
          // Writes only ever reach ids that do not exist; reads are made both ways.
          if (verb === 'GET' || hasParams) await call(verb, q ? `${path}?${q}` : path);
          if (verb === 'GET')
            await call(
              verb,
              `${path}?${params.map((p) => `${p?.name}=1&${p?.name}=2&${p?.name}[a]=b`).join('&')}`,
            );
          // Past what Node's parser takes (16 KiB of request line and headers): refused before routing.
          if (verb === 'GET' && value === PATH_VALUES[0]) await call(verb, `${path}?q=${'a'.repeat(20_000)}`);
        }
        const path = template.replace(/\{[^}]+\}/g, 'nope');
        if (['POST', 'PUT', 'PATCH'].includes(verb)) {
          const schema = resolve<Schema>(op.requestBody?.content?.['application/json']?.schema);
          const props = Object.keys(schema?.properties ?? {});
          const bodies: Array<{ body: string; type?: string }> = [
            '',
            'not json',
            '{',
            'null',
            '[]',
            '123',
            '"x"',
            `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
            `{"a":${'1'.repeat(400)}}`,
            '{"__proto__":{"admin":true}}',
          ].map((body) => ({ body }));
          bodies.push({ body: '{"name":"x"}', type: 'text/plain' });
          // Without an id in the path a body is a create (or an action): 'x' alone can be a whole,
          // valid one (a project named x, a replay of subject x), so there it is made invalid.
          const wrong = () => {
            const v = pick(WRONG);
            return v === 'x' && !template.includes('{') ? '\u0000x' : v;
          };
          bodies.push({ body: JSON.stringify(Object.fromEntries(props.map((p) => [p, wrong()]))) });
          for (const p of props)
            for (let i = 0; i < 3; i++) bodies.push({ body: JSON.stringify({ [p]: wrong() }) });
          // A create (no id in its path) gets only bodies that cannot be whole: each lacks fields.
          for (const b of bodies) await call(verb, path, b);
        }
        for (const auth of AUTH) await call(verb, path, { auth });
      }

    const ready = await fetch(`${E.api}/readyz`);
    expect(problems).toEqual([]);
    expect(ready.status).toBe(200);
    expect(sent).toBeGreaterThan(500);
    await api('DELETE', `/v1/token/${encodeURIComponent(made.body.id)}`);
  }, 120_000);
});
