import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { App } from '@gantry/contracts';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import {
  APP_ID,
  cpuScaling,
  REGISTRY_ID,
  rolloutApp,
  sampleApp,
  sampleFlavor,
  sampleMe,
  sampleRegistry,
  sampleToken,
} from './__fixtures__/api.js';
import type { CliEnv } from './config.js';
import type { Io } from './context.js';
import { runCli, splitPassthrough } from './program.js';

interface Call {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

type Route = (call: Call) => { status?: number; body?: unknown } | undefined;

/** An in-memory CLI: a fake API (routes), captured stdout/stderr, a temp config file. */
class Harness {
  calls: Call[] = [];
  out = '';
  err = '';
  routes: Route[] = [];
  stdin = '';
  /** Whether stdin is a terminal; `answers` are then what the user types at the (echoed) prompts. */
  tty = false;
  answers: string[] = [];
  /** The prompts shown during the last run: `prompt` questions and `readSecret` prompts. */
  asked: string[] = [];
  interrupt: (() => void) | undefined;
  sleeps = 0;
  afterSleep: ((n: number) => void) | undefined;
  /** Milliseconds slept: the clock moves by them. */
  slept = 0;

  constructor(readonly env: CliEnv) {}

  route(
    method: string,
    path: string | RegExp,
    reply: (call: Call) => { status?: number; body?: unknown },
  ): this {
    this.routes.push((call) =>
      call.method === method &&
      (typeof path === 'string' ? call.url.pathname === path : path.test(call.url.pathname))
        ? reply(call)
        : undefined,
    );
    return this;
  }

  io(): Io {
    return {
      env: this.env,
      stdout: (t) => {
        this.out += t;
      },
      stderr: (t) => {
        this.err += t;
      },
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(String(input));
        if (url.port === '9') {
          const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
            code: 'ECONNREFUSED',
          });
          throw new TypeError('fetch failed', { cause });
        }
        const call: Call = {
          method: init?.method ?? 'GET',
          url,
          headers: (init?.headers ?? {}) as Record<string, string>,
          body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
        };
        this.calls.push(call);
        for (const r of this.routes) {
          const reply = r(call);
          if (reply) {
            const status = reply.status ?? 200;
            return new Response(
              status === 204 || reply.body === undefined ? null : JSON.stringify(reply.body),
              {
                status,
                headers: { 'content-type': 'application/json' },
              },
            );
          }
        }
        return new Response(
          JSON.stringify({ error: 'NOT_FOUND', message: `no route ${call.method} ${url.pathname}` }),
          {
            status: 404,
            headers: { 'content-type': 'application/json' },
          },
        );
      }) as typeof fetch,
      readSecret: (prompt) => {
        this.asked.push(prompt);
        return Promise.resolve(this.stdin);
      },
      stdinIsTerminal: () => this.tty,
      prompt: (question) => {
        this.asked.push(question);
        return Promise.resolve(this.answers.shift() ?? '');
      },
      now: () => new Date(Date.parse('2026-11-23T12:00:00Z') + this.slept),
      sleep: (ms, signal) => {
        this.sleeps++;
        this.slept += ms;
        this.afterSleep?.(this.sleeps);
        return signal.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve();
      },
      onInterrupt: (cb) => {
        this.interrupt = cb;
        return () => {
          this.interrupt = undefined;
        };
      },
      version: '0.0.0-test',
    };
  }

  run(...args: string[]): Promise<number> {
    this.out = '';
    this.err = '';
    this.asked = [];
    return runCli(args, this.io());
  }
}

const URL_A = 'http://api.test:8000';
let dir: string;
let configPath: string;
let h: Harness;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-cli-'));
  configPath = join(dir, 'sub', 'config.json');
  h = new Harness({ configPath });
  h.route('GET', '/v1/me', (c) =>
    c.headers['authorization'] === 'Bearer good'
      ? { body: sampleMe }
      : { status: 401, body: { error: 'UNAUTHORIZED', message: 'unknown or revoked token' } },
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loggedIn(): Promise<void> {
  await writeFile(join(dir, 'c.json'), JSON.stringify({ url: URL_A, token: 'good' }));
  h = new Harness({ configPath: join(dir, 'c.json') });
  h.route('GET', '/v1/me', () => ({ body: sampleMe }));
}

describe('gantry login', () => {
  it('checks the token with GET /v1/me and saves {url, token} with mode 0600', async () => {
    expect(await h.run('login', '--url', `${URL_A}/`, '--token', 'good')).toBe(0);
    expect(h.out).toBe(
      `Logged in to ${URL_A} as admin (role admin, project Default).\nSaved to ${configPath}.\n`,
    );
    expect(JSON.parse(await readFile(configPath, 'utf8'))).toEqual({ url: URL_A, token: 'good' });
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    expect(h.calls[0]?.url.toString()).toBe(`${URL_A}/v1/me`);
  });

  it('reads the token from stdin when --token is absent', async () => {
    h.stdin = 'good\n';
    expect(await h.run('login', '--url', URL_A)).toBe(0);
    expect(JSON.parse(await readFile(configPath, 'utf8'))).toEqual({ url: URL_A, token: 'good' });
  });

  it('refuses a bad token (exit 1) and saves nothing', async () => {
    expect(await h.run('login', '--url', URL_A, '--token', 'bad')).toBe(1);
    expect(h.err).toMatch(/^error: login failed: unknown or revoked token\n/);
    await expect(stat(configPath)).rejects.toThrow(/ENOENT/);
  });

  it('asks for the token on a terminal and never prints it (table or JSON)', async () => {
    h.tty = true;
    h.stdin = 'good';
    expect(await h.run('login', '--url', URL_A)).toBe(0);
    expect(h.asked).toEqual(['Token: ']);
    expect(await h.run('login', '--url', URL_A, '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual({ url: URL_A, configPath, me: sampleMe });
    expect(h.out + h.err).not.toContain('good');
    expect(JSON.parse(await readFile(configPath, 'utf8'))).toEqual({ url: URL_A, token: 'good' });
  });

  it('refuses a token no API could take without repeating it (exit 2, nothing sent or saved)', async () => {
    for (const stdin of ['gantry_s3cr\u2019t\n', 'gantry_s3cr t\n', 'gantry_s3cr\u0007t']) {
      h.stdin = stdin;
      expect(await h.run('login', '--url', URL_A)).toBe(2);
      expect(h.err).toMatch(/^error: a token holds (only printable ASCII|no spaces)/);
      expect(h.err).not.toContain('s3cr');
    }
    expect(h.calls).toEqual([]);
    await expect(stat(configPath)).rejects.toThrow(/ENOENT/);
    const env = new Harness({ configPath, url: URL_A, token: 'gantry_s3cr\u00e9t' });
    expect(await env.run('me')).toBe(2);
    expect(env.err).toMatch(
      /^error: a token holds only printable ASCII characters .*: check the token given/,
    );
    expect(env.err).not.toContain('s3cr');
    expect(env.calls).toEqual([]);
  });

  it('refuses an empty token as a usage error', async () => {
    h.stdin = '   \n';
    expect(await h.run('login', '--url', URL_A)).toBe(2);
    expect(h.err).toMatch(/no token given/);
  });

  it('logout forgets the token but keeps the URL', async () => {
    await h.run('login', '--url', URL_A, '--token', 'good');
    expect(await h.run('logout')).toBe(0);
    expect(JSON.parse(await readFile(configPath, 'utf8'))).toEqual({ url: URL_A });
    expect(await h.run('me')).toBe(1);
    expect(h.err).toMatch(/^error: not logged in to http:\/\/api\.test:8000\nhint: run `gantry login/);
  });
});

describe('where requests go, with which token', () => {
  it('uses the saved login', async () => {
    await h.run('login', '--url', URL_A, '--token', 'good');
    expect(await h.run('me', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual(sampleMe);
    expect(h.calls.at(-1)?.headers['authorization']).toBe('Bearer good');
  });

  it('GANTRY_URL and GANTRY_TOKEN override the file; --url and --token override both', async () => {
    await h.run('login', '--url', URL_A, '--token', 'good');
    const env = new Harness({ configPath, url: 'http://other.test:8000', token: 'env-token' });
    env.route('GET', '/v1/me', () => ({ body: sampleMe }));
    expect(await env.run('me')).toBe(0);
    expect(env.calls[0]?.url.host).toBe('other.test:8000');
    expect(env.calls[0]?.headers['authorization']).toBe('Bearer env-token');
    expect(await env.run('--url', 'http://flag.test', 'me', '--token', 'flag-token')).toBe(0);
    expect(env.calls[1]?.url.host).toBe('flag.test');
    expect(env.calls[1]?.headers['authorization']).toBe('Bearer flag-token');
  });

  it('never sends the saved token to another URL', async () => {
    await h.run('login', '--url', URL_A, '--token', 'good');
    expect(await h.run('--url', 'http://elsewhere.test', 'me')).toBe(1);
    expect(h.err).toMatch(/not logged in to http:\/\/elsewhere\.test/);
    expect(h.calls.filter((c) => c.url.host === 'elsewhere.test')).toHaveLength(0);
  });

  it('says clearly when the API cannot be reached (exit 1)', async () => {
    expect(await h.run('me', '--url', 'http://127.0.0.1:9', '--token', 't')).toBe(1);
    expect(h.err).toMatch(
      /^error: cannot reach the Gantry API at http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED 127\.0\.0\.1:9\nhint: /,
    );
  });

  it('refuses a broken config file with a message', async () => {
    await writeFile(join(dir, 'broken.json'), '{nope');
    const b = new Harness({ configPath: join(dir, 'broken.json') });
    expect(await b.run('me')).toBe(1);
    expect(b.err).toMatch(/is not valid JSON/);
  });
});

describe('API errors and usage errors', () => {
  beforeEach(loggedIn);

  it('prints the server message and field details on stderr, exit 1', async () => {
    h.route('POST', '/v1/app', () => ({
      status: 400,
      body: {
        error: 'VALIDATION_FAILED',
        message: 'image must be an image reference',
        details: [{ field: 'image', message: 'must be an image reference' }],
      },
    }));
    expect(await h.run('app', 'run', 'Bad Image')).toBe(1);
    expect(h.out).toBe('');
    expect(h.err).toBe('error: image must be an image reference\n  - image: must be an image reference\n');
  });

  it('exits 2 for commander usage errors', async () => {
    expect(await h.run('app', 'get')).toBe(2);
    expect(h.err).toMatch(/missing required argument 'id'/);
    expect(await h.run('app', 'list', '--bogus')).toBe(2);
    expect(h.err).toMatch(/unknown option '--bogus'/);
    expect(await h.run('-o', 'xml', 'me')).toBe(2);
    expect(await h.run('app', 'run', 'img', '-p', 'http')).toBe(2);
    expect(h.err).toMatch(
      /option '-p, --default-http-port <port>' argument 'http' is invalid\. must be a whole number/,
    );
    expect(await h.run('app', 'run', 'img', '-e', 'NOEQUALS')).toBe(2);
    expect(await h.run('app')).toBe(2);
    expect(await h.run('nope')).toBe(2);
    expect(await h.run('app', 'list', '--', 'x')).toBe(2);
    expect(h.calls.filter((c) => c.url.pathname !== '/v1/me')).toHaveLength(0);
  });

  it('--help exits 0 and shows examples, on every command', async () => {
    for (const cmd of [
      [],
      ['app'],
      ['token'],
      ['registry'],
      ['node'],
      ['billing'],
      ['capabilities'],
      ['capabilities', 'flavor'],
      ['me'],
      ['app', 'scale'],
      ['app', 'run'],
      ['app', 'logs'],
      ['app', 'set-image'],
      ['app', 'update'],
      ['app', 'rollback'],
      ['token', 'create'],
      ['registry', 'add'],
      ['registry', 'update'],
      ['node', 'drain'],
      ['billing', 'usage'],
      ['capabilities', 'flavor', 'list'],
      ['login'],
    ]) {
      expect(await h.run(...cmd, '--help')).toBe(0);
      expect(h.out).toContain('Examples:\n  gantry');
      expect(h.out).toContain('-o, --output <format>');
    }
    expect(await h.run('--version')).toBe(0);
    expect(h.out).toBe('0.0.0-test\n');
  });
});

describe('gantry app', () => {
  beforeEach(loggedIn);

  it('run sends the flags as AppSpecInput, everything after -- as the command', async () => {
    h.route('POST', '/v1/app', () => ({ body: sampleApp() }));
    const code = await h.run(
      'app',
      'run',
      'busybox:1.37',
      '-p',
      '8080',
      '--unsecure-http',
      '-l',
      'team=a',
      '-e',
      'A=1',
      '--cpu',
      '2',
      '--replicas',
      '2',
      '-n',
      'web',
      '--probe-path',
      '/health',
      '-o',
      'json',
      '--',
      'httpd',
      '-f',
      '-p',
      '8080',
    );
    expect(h.err).toBe('');
    expect(code).toBe(0);
    const post = h.calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({
      image: 'busybox:1.37',
      name: 'web',
      command: ['httpd', '-f', '-p', '8080'],
      envVars: [{ name: 'A', value: '1' }],
      labels: { team: 'a' },
      resources: { cpu: 2 },
      scalingStrategy: { fixed: { replicas: 2 } },
      defaultHttpPort: 8080,
      probe: { path: '/health' },
      unsecureHttp: true,
    });
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(h.out)).toEqual(sampleApp());
  });

  it('run prints the app for humans', async () => {
    h.route('POST', '/v1/app', () => ({ body: sampleApp() }));
    expect(await h.run('app', 'run', 'busybox:1.37')).toBe(0);
    expect(h.out).toMatch(/^Id: +0b6f3c4e/);
    expect(h.out).toMatch(/State: +RUNNING/);
  });

  it('list fetches every page and filters by label and state', async () => {
    const apps = Array.from({ length: 150 }, (_, i) =>
      sampleApp({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `app-${i}` }),
    );
    h.route('GET', '/v1/app', (c) => {
      const page = Number(c.url.searchParams.get('page'));
      const size = Number(c.url.searchParams.get('size'));
      return { body: { items: apps.slice((page - 1) * size, page * size), page, size, total: apps.length } };
    });
    expect(
      await h.run('app', 'list', '--label-selector', 'team=a', '--state', 'running,SCALING', '-o', 'json'),
    ).toBe(0);
    expect((JSON.parse(h.out) as unknown[]).length).toBe(150);
    const lists = h.calls.filter((c) => c.url.pathname === '/v1/app');
    expect(lists).toHaveLength(2);
    expect(lists[0]?.url.searchParams.get('labelSelector')).toBe('team=a');
    expect(lists[0]?.url.searchParams.getAll('statusState')).toEqual(['RUNNING', 'SCALING']);
  });

  it('list prints a table, or YAML', async () => {
    h.route('GET', '/v1/app', () => ({ body: { items: [sampleApp()], page: 1, size: 100, total: 1 } }));
    expect(await h.run('app', 'ls')).toBe(0);
    expect(h.out).toMatch(
      /^ID +NAME +IMAGE +STATE +REPLICAS +URL +AGE\n0b6f3c4e\S+ +web +busybox:1\.37 +RUNNING +2\/2 +http\S+ +5m\n$/,
    );
    expect(await h.run('app', 'ls', '-o', 'yaml')).toBe(0);
    expect(h.out).toMatch(/^- id: 0b6f3c4e/);
  });

  it('start, stop, delete --force, scale, set-image, label call the right endpoints', async () => {
    h.route('PUT', /./, () => ({ status: 204 }));
    h.route('DELETE', /./, () => ({ status: 204 }));
    expect(await h.run('app', 'stop', APP_ID)).toBe(0);
    expect(h.out).toBe(`Stopping app ${APP_ID}.\n`);
    expect(await h.run('app', 'start', APP_ID, '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual({ id: APP_ID, action: 'start', accepted: true });
    expect(await h.run('app', 'delete', APP_ID, '--force')).toBe(0);
    expect(await h.run('app', 'delete', APP_ID)).toBe(0);
    expect(await h.run('app', 'scale', APP_ID, '--replicas', '3')).toBe(0);
    expect(await h.run('app', 'set-image', APP_ID, 'busybox:1.38')).toBe(0);
    expect(await h.run('app', 'label', APP_ID, 'team=b')).toBe(0);
    expect(await h.run('app', 'label', APP_ID, 'team-')).toBe(0);
    expect(h.out).toBe(`Removed label team from app ${APP_ID}.\n`);
    const calls = h.calls
      .filter((c) => c.url.pathname !== '/v1/me')
      .map((c) => [c.method, c.url.pathname + c.url.search, c.body]);
    expect(calls).toEqual([
      ['PUT', `/v1/app/${APP_ID}/stop`, undefined],
      ['PUT', `/v1/app/${APP_ID}/start`, undefined],
      ['DELETE', `/v1/app/${APP_ID}?force=true`, undefined],
      ['DELETE', `/v1/app/${APP_ID}`, undefined],
      ['PUT', `/v1/app/${APP_ID}/scalingstrategy`, { fixed: { replicas: 3 } }],
      ['PUT', `/v1/app/${APP_ID}/image`, { url: 'busybox:1.38' }],
      ['PUT', `/v1/app/${APP_ID}/label`, { name: 'team', value: 'b' }],
      ['PUT', `/v1/app/${APP_ID}/label`, { name: 'team' }],
    ]);
  });

  it('run --auto-* sends scalingStrategy.automatic; the reference short aliases work too', async () => {
    h.route('POST', '/v1/app', () => ({ body: sampleApp({ scaling: cpuScaling(1, 4) }) }));
    const flags = [
      ['--auto-min-replicas', '1', '--auto-max-replicas', '4', '--auto-resource-type', 'cpu'],
      ['--min-replicas', '1', '--max-replicas', '4', '--resource-type', 'CPU'],
    ];
    for (const f of flags) {
      expect(
        await h.run(
          'app',
          'run',
          'img',
          ...f,
          f[0] === '--min-replicas' ? '--resource-threshold' : '--auto-resource-usage-threshold',
          '50',
          '--auto-scale-down-stabilization-window-seconds',
          '120',
        ),
      ).toBe(0);
      expect(h.err).toBe('');
      expect(h.calls.at(-1)?.body).toEqual({
        image: 'img',
        scalingStrategy: {
          automatic: {
            replicasMin: 1,
            replicasMax: 4,
            resourceType: 'CPU',
            averageUsageTarget: 50,
            scaleDownStabilizationWindowSeconds: 120,
          },
        },
      });
      expect(h.out).toMatch(/Replicas: +2 available \(auto 1–4, CPU 50 %\)/);
    }
  });

  it('scale --auto-* sends {automatic} with a custom metric, and says so', async () => {
    h.route('PUT', /./, () => ({ status: 204 }));
    const code = await h.run(
      'app',
      'scale',
      APP_ID,
      '--auto-min-replicas',
      '0',
      '--auto-max-replicas',
      '3',
      '--auto-cooldown-period-seconds',
      '600',
      '--auto-custom-api-url',
      'http://<SELF>:9100/metrics',
      '--auto-custom-metric-format',
      'prometheus',
      '--auto-custom-value-location',
      'queue_depth',
      '--auto-custom-target-value',
      '2.5',
      '--auto-custom-metric-aggregation-type',
      'max',
    );
    expect(h.err).toBe('');
    expect(code).toBe(0);
    expect(h.out).toBe(`Scaling app ${APP_ID} automatically (auto 0–3, custom metric).\n`);
    const put = h.calls.at(-1);
    expect([put?.method, put?.url.pathname]).toEqual(['PUT', `/v1/app/${APP_ID}/scalingstrategy`]);
    expect(put?.body).toEqual({
      automatic: {
        replicasMin: 0,
        replicasMax: 3,
        cooldownPeriodSeconds: 600,
        customMetrics: {
          apiUrl: 'http://<SELF>:9100/metrics',
          format: 'PROMETHEUS',
          valueLocation: 'queue_depth',
          targetValue: 2.5,
          aggregationType: 'MAX',
        },
      },
    });
  });

  it('refuses scaling flags that cannot go together or do not parse (exit 2, nothing sent)', async () => {
    h.route('PUT', /./, () => ({ status: 204 }));
    h.route('POST', /./, () => ({ body: sampleApp() }));
    const cases: Array<[string[], RegExp]> = [
      [
        ['app', 'run', 'img', '--replicas', '2', '--auto-min-replicas', '1', '--auto-max-replicas', '2'],
        /^error: --replicas and --auto-\* cannot be used together/,
      ],
      [
        ['app', 'scale', APP_ID, '--auto-max-replicas', '2'],
        /needs both --auto-min-replicas and --auto-max-replicas/,
      ],
      [['app', 'scale', APP_ID], /^error: give --replicas N \(fixed scaling\) or --auto-min-replicas N/],
      [
        ['app', 'scale', APP_ID, '--min-replicas', '1', '--max-replicas', '2', '--resource-type', 'GPU'],
        /argument 'GPU' is invalid\. must be one of CPU, RAM/,
      ],
      [
        ['app', 'scale', APP_ID, '--min-replicas', 'one', '--max-replicas', '2'],
        /argument 'one' is invalid\. must be a whole number/,
      ],
      [
        [
          'app',
          'run',
          'img',
          '--min-replicas',
          '1',
          '--max-replicas',
          '2',
          '--auto-custom-target-value',
          'ten',
        ],
        /argument 'ten' is invalid\. must be a number/,
      ],
      [
        [
          'app',
          'run',
          'img',
          '--min-replicas',
          '1',
          '--max-replicas',
          '2',
          '--auto-custom-target-value',
          '10',
        ],
        /missing: --auto-custom-api-url, --auto-custom-value-location/,
      ],
    ];
    for (const [args, message] of cases) {
      expect(await h.run(...args)).toBe(2);
      expect(h.err).toMatch(message);
    }
    expect(h.calls.filter((c) => c.url.pathname !== '/v1/me')).toEqual([]);
  });

  it('scale shows the API refusing a value, naming the field', async () => {
    h.route('PUT', `/v1/app/${APP_ID}/scalingstrategy`, () => ({
      status: 400,
      body: {
        error: 'VALIDATION_FAILED',
        message: 'the request is not valid',
        details: [{ field: 'automatic.replicasMax', message: 'must be at most 10' }],
      },
    }));
    expect(await h.run('app', 'scale', APP_ID, '--min-replicas', '1', '--max-replicas', '20')).toBe(1);
    expect(h.err).toBe('error: the request is not valid\n  - automatic.replicasMax: must be at most 10\n');
    expect(h.calls.at(-1)?.body).toEqual({ automatic: { replicasMin: 1, replicasMax: 20 } });
  });

  it('app scale --help lists the reference flags and their aliases', async () => {
    expect(await h.run('app', 'scale', '--help')).toBe(0);
    for (const flag of [
      '--replicas <n>',
      '--min-replicas, --auto-min-replicas <n>',
      '--max-replicas, --auto-max-replicas <n>',
      '--resource-type, --auto-resource-type <type>',
      '--resource-threshold, --auto-resource-usage-threshold <percent>',
      '--auto-scale-up-stabilization-window-seconds <s>',
      '--auto-scale-down-stabilization-window-seconds <s>',
      '--auto-cooldown-period-seconds <s>',
      '--auto-custom-api-url <url>',
      '--auto-custom-metric-format <format>',
      '--auto-custom-value-location <path>',
      '--auto-custom-target-value <v>',
      '--auto-custom-metric-aggregation-type <type>',
    ])
      expect(h.out).toContain(flag);
  });

  it('delete of a running app says --force (the API tells curl users ?force=true)', async () => {
    h.route('DELETE', `/v1/app/${APP_ID}`, (c) =>
      c.url.searchParams.get('force') === 'true'
        ? { status: 204 }
        : {
            status: 409,
            body: {
              error: 'CONFLICT',
              message: `cannot delete app ${APP_ID}: it is RUNNING; stop it first, or delete with ?force=true`,
              details: { state: 'RUNNING' },
            },
          },
    );
    expect(await h.run('app', 'delete', APP_ID)).toBe(1);
    expect(h.err).toBe(
      `error: cannot delete app ${APP_ID}: it is RUNNING\n` +
        `hint: stop it first (gantry app stop ${APP_ID}), or stop and delete it at once: gantry app delete ${APP_ID} --force\n`,
    );
    expect(h.err).not.toContain('?force=true');
    expect(await h.run('app', 'rm', APP_ID, '--force')).toBe(0);
    // Other refusals are printed as the API wrote them.
    h.routes = [];
    h.route('DELETE', /./, () => ({
      status: 409,
      body: {
        error: 'CONFLICT',
        message: `cannot delete app ${APP_ID}: it is STOPPING; wait until it is STOPPED, FAILED or ERROR`,
      },
    }));
    expect(await h.run('app', 'delete', APP_ID)).toBe(1);
    expect(h.err).toBe(
      `error: cannot delete app ${APP_ID}: it is STOPPING; wait until it is STOPPED, FAILED or ERROR\n`,
    );
  });

  it('a read token cannot stop: the 403 is printed, exit 1', async () => {
    h.route('PUT', /stop$/, () => ({
      status: 403,
      body: {
        error: 'FORBIDDEN',
        message: 'token reader is a read token: it may only read, not change anything',
      },
    }));
    expect(await h.run('app', 'stop', APP_ID)).toBe(1);
    expect(h.err).toBe('error: token reader is a read token: it may only read, not change anything\n');
  });

  it('logs prints the lines, --tail passed on', async () => {
    h.route('GET', /\/log$/, () => ({
      body: {
        logs: [
          { timestamp: '2026-11-23T11:59:00.000000001Z', replica: 'r1', stream: 'stdout', content: 'one' },
          { timestamp: '2026-11-23T11:59:01.000000001Z', replica: 'r2', stream: 'stderr', content: 'two' },
        ],
      },
    }));
    expect(await h.run('app', 'logs', APP_ID, '--tail', '5', '--no-prefix')).toBe(0);
    expect(h.out).toBe('one\ntwo\n');
    expect(h.calls.at(-1)?.url.search).toBe('?tail=5');
    expect(await h.run('app', 'logs', APP_ID, '-t', '--prefix')).toBe(0);
    expect(h.out).toBe('2026-11-23T11:59:00.000000001Z [r1] one\n2026-11-23T11:59:01.000000001Z [r2] two\n');
  });

  it('logs of an app with several replicas name the replica on each line by default', async () => {
    const lines = [
      { timestamp: '2026-11-23T11:59:00.000000001Z', replica: 'r1', stream: 'stdout', content: 'one' },
      { timestamp: '2026-11-23T11:59:01.000000001Z', replica: 'r1', stream: 'stdout', content: 'two' },
    ];
    h.route('GET', /\/log$/, () => ({ body: { logs: lines } }));
    h.route('GET', `/v1/app/${APP_ID}`, () => ({ body: sampleApp() })); // 2 replicas
    expect(await h.run('app', 'logs', APP_ID)).toBe(0);
    expect(h.out).toBe('[r1] one\n[r1] two\n');
    expect(await h.run('app', 'logs', APP_ID, '--replica', 'r1')).toBe(0);
    expect(h.out).toBe('one\ntwo\n');
    expect(await h.run('app', 'logs', APP_ID, '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual({ logs: lines });
    // One replica: plain lines.
    const single = sampleApp();
    single.spec.scalingStrategy = { fixed: { replicas: 1 } };
    h.routes = [];
    h.route('GET', /\/log$/, () => ({ body: { logs: lines } }));
    h.route('GET', `/v1/app/${APP_ID}`, () => ({ body: single }));
    expect(await h.run('app', 'logs', APP_ID)).toBe(0);
    expect(h.out).toBe('one\ntwo\n');
  });

  it('logs of an automatic app name replicas when it may run several', async () => {
    const lines = [
      { timestamp: '2026-11-23T11:59:00.000000001Z', replica: 'r1', stream: 'stdout', content: 'one' },
    ];
    h.route('GET', /\/log$/, () => ({ body: { logs: lines } }));
    let app = sampleApp({ scaling: cpuScaling(0, 4), available: 1 });
    h.route('GET', `/v1/app/${APP_ID}`, () => ({ body: app }));
    expect(await h.run('app', 'logs', APP_ID)).toBe(0);
    expect(h.out).toBe('[r1] one\n');
    app = sampleApp({ scaling: cpuScaling(1, 1), available: 1 });
    expect(await h.run('app', 'logs', APP_ID)).toBe(0);
    expect(h.out).toBe('one\n');
  });

  it('logs -f names replicas from the first line when the app has several', async () => {
    const l = (ms: number, replica: string) => ({
      timestamp: `2026-11-23T11:59:00.${String(ms).padStart(3, '0')}000001Z`,
      replica,
      stream: 'stdout',
      content: `line ${ms}`,
    });
    const batches = [[l(1, 'r1')], [l(1, 'r1'), l(2, 'r2')]];
    let poll = 0;
    h.route('GET', /\/log$/, () => ({ body: { logs: batches[Math.min(poll++, batches.length - 1)] } }));
    h.route('GET', `/v1/app/${APP_ID}`, () => ({ body: sampleApp() }));
    h.afterSleep = (n) => {
      if (n === 2) h.interrupt?.();
    };
    expect(await h.run('app', 'logs', APP_ID, '-f')).toBe(0);
    expect(h.out).toBe('[r1] line 1\n[r2] line 2\n');
  });

  it('logs -f polls with since = the last timestamp and prints only new lines until Ctrl-C', async () => {
    const l = (ms: number, content: string) => ({
      timestamp: `2026-11-23T11:59:00.${String(ms).padStart(3, '0')}000001Z`,
      replica: 'r1',
      stream: 'stdout',
      content,
    });
    const batches = [[l(1, 'a'), l(2, 'b')], [l(2, 'b'), l(3, 'c')], [l(3, 'c')], [l(3, 'c'), l(4, 'd')]];
    let poll = 0;
    h.route('GET', /\/log$/, () => ({ body: { logs: batches[Math.min(poll++, batches.length - 1)] } }));
    h.afterSleep = (n) => {
      if (n === 4) h.interrupt?.();
    };
    expect(await h.run('app', 'logs', APP_ID, '-f', '--tail', '10')).toBe(0);
    expect(h.out).toBe('a\nb\nc\nd\n');
    const queries = h.calls
      .filter((c) => c.url.pathname.endsWith('/log'))
      .map((c) => Object.fromEntries(c.url.searchParams));
    expect(queries).toEqual([
      { tail: '10' },
      { tail: '10000', since: l(2, '').timestamp },
      { tail: '10000', since: l(3, '').timestamp },
      { tail: '10000', since: l(3, '').timestamp },
    ]);
    expect(h.interrupt).toBeUndefined();
  });

  it('logs -f -o json prints one JSON object per line', async () => {
    h.route('GET', /\/log$/, () => ({
      body: { logs: [{ timestamp: '2026-11-23T11:59:00Z', replica: 'r1', stream: 'stdout', content: 'x' }] },
    }));
    h.afterSleep = () => h.interrupt?.();
    expect(await h.run('app', 'logs', APP_ID, '-f', '-o', 'json')).toBe(0);
    expect(h.out).toBe(
      '{"timestamp":"2026-11-23T11:59:00Z","replica":"r1","stream":"stdout","content":"x"}\n',
    );
  });

  it('events prints a table', async () => {
    h.route('GET', /\/event$/, () => ({
      body: {
        events: [
          {
            id: 'e1',
            appId: APP_ID,
            projectId: 'default',
            at: '2026-11-23T11:55:00Z',
            source: 'scheduler',
            type: 'REPLICA_PLACED',
            reason: 'APP_SCALING',
            message: 'placed on node-1',
            nodeId: 'node-1',
          },
        ],
      },
    }));
    expect(await h.run('app', 'events', APP_ID, '--limit', '5')).toBe(0);
    expect(h.out).toMatch(
      /^TIME +SOURCE +TYPE +REASON +REPLICA +NODE +MESSAGE\n2026-11-23T11:55:00Z +scheduler +REPLICA_PLACED +APP_SCALING +- +node-1 +placed on node-1\n$/,
    );
    expect(h.calls.at(-1)?.url.search).toBe('?limit=5');
  });
});

describe('gantry app set-image / update / rollback --wait', () => {
  beforeEach(loggedIn);

  const OLD = 'busybox:1.37';
  const NEW = 'busybox:1.38';
  const before = rolloutApp(OLD, 'RUNNING', '2/2 replicas ready', { updatedAt: '2026-11-23T11:00:00.000Z' });
  const changed = rolloutApp(NEW, 'RUNNING', '2/2 replicas ready');
  const rolling = (ready: number, updated: number, image = NEW) =>
    rolloutApp(
      image,
      'SCALING',
      `${ready}/2 replicas ready; rolling update (image changed to ${image}): ${updated}/2 updated`,
      { moved: '2026-11-23T12:00:01.000Z' },
    );
  const rolledOut = (image = NEW) =>
    rolloutApp(image, 'RUNNING', '2/2 replicas ready', { moved: '2026-11-23T12:00:04.000Z' });

  /** GET /v1/app/{id} answers each app in turn, then the last one from then on (replacing earlier reads). */
  let queue: Array<App | { status: number; body: unknown }> = [];
  function reads(...apps: typeof queue): void {
    if (queue.length === 0)
      h.route('GET', `/v1/app/${APP_ID}`, () => {
        const next = queue.length > 1 ? queue.shift() : queue[0];
        return next && 'spec' in next ? { body: next } : (next as { status: number; body: unknown });
      });
    queue = apps;
  }
  afterEach(() => {
    queue = [];
  });
  const nonMe = () =>
    h.calls.filter((c) => c.url.pathname !== '/v1/me').map((c) => [c.method, c.url.pathname, c.body]);

  it('set-image --wait prints each change of the rollout, then that it rolled out (exit 0)', async () => {
    reads(before, changed, rolling(2, 0), rolling(2, 0), rolling(1, 1), rolledOut());
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: changed }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(0);
    expect(h.err).toBe('');
    expect(h.out).toBe(
      [
        `Updating app ${APP_ID} to image ${NEW}.`,
        `SCALING  2/2 ready, 0/2 updated  (rolling update: image changed to ${NEW})`,
        `SCALING  1/2 ready, 1/2 updated  (rolling update: image changed to ${NEW})`,
        'RUNNING  2/2 ready',
        `rolled out: 2/2 replicas run ${NEW}`,
        '',
      ].join('\n'),
    );
    expect(nonMe().slice(0, 3)).toEqual([
      ['GET', `/v1/app/${APP_ID}`, undefined],
      ['PUT', `/v1/app/${APP_ID}/image`, { url: NEW }],
      ['GET', `/v1/app/${APP_ID}`, undefined],
    ]);
    // Every 500 ms.
    expect(h.slept / h.sleeps).toBe(500);
  });

  it('a failed rollout: exit 1 with the API message and the rollback to run', async () => {
    const stuck = rolloutApp(
      NEW,
      'SCALING',
      '2/2 replicas ready; rolling update (image changed to busybox:1.38): 0/2 updated; rollout stuck: new replica r7 failed: exited with code 1; the previous replicas keep serving',
      { code: 'APP_ROLLOUT_FAILED', moved: '2026-11-23T12:00:01.000Z' },
    );
    reads(before, rolling(2, 0), stuck);
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: changed }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(1);
    expect(h.out).toContain(
      `SCALING  2/2 ready, 0/2 updated  (rolling update: image changed to ${NEW}; rollout stuck:`,
    );
    expect(h.err).toBe(`error: ${stuck.status.info.message}\nhint: undo it: gantry app rollback ${APP_ID}\n`);
  });

  it('an app that rolls back by itself is said to, and so is its rollback when seen', async () => {
    const auto = rolloutApp(NEW, 'RUNNING', '2/2 replicas ready', { autoRollback: true });
    const stuck = {
      ...auto,
      status: {
        ...auto.status,
        state: 'SCALING' as const,
        info: {
          code: 'APP_ROLLOUT_FAILED' as const,
          message:
            'rollout failed: new replica r7 not ready 600 s after it was placed (progressDeadlineSeconds)',
        },
      },
    };
    reads(before, stuck);
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: auto }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(1);
    expect(h.err).toMatch(
      /^error: rollout failed: .*progressDeadlineSeconds\)\nhint: the app goes back to its previous runtime spec by itself/,
    );
    // The rollback already happened between two reads.
    reads(before, rolling(2, 0), rolling(2, 0, OLD));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(1);
    expect(h.err).toMatch(/^error: the rollout failed and app \S+ went back to its previous runtime spec/);
  });

  it('gives up after --timeout seconds (exit 1), saying the rollout goes on', async () => {
    reads(before, rolling(2, 0));
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: changed }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait', '--timeout', '2')).toBe(1);
    expect(h.err).toBe(
      `error: timed out after 2 s waiting for the rollout of app ${APP_ID} (last: SCALING  2/2 ready, 0/2 updated  (rolling update: image changed to ${NEW}))\n` +
        `hint: the rollout goes on without gantry: follow it with gantry app get ${APP_ID}\n`,
    );
    expect(h.slept).toBe(2000);
  });

  it('rides out the API failing for a moment, stops on Ctrl-C (exit 130)', async () => {
    const down = { status: 503, body: { error: 'UNAVAILABLE', message: 'restarting' } };
    reads(before, changed, down, down, rolling(2, 1), rolledOut());
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: changed }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(0);
    expect(h.out).toMatch(/rolled out: 2\/2 replicas run busybox:1\.38\n$/);

    reads(before, rolling(2, 0));
    const from = h.sleeps;
    h.afterSleep = (n) => {
      if (n - from === 3) h.interrupt?.();
    };
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(130);
    expect(h.err).toMatch(/^error: stopped waiting; the rollout of app \S+ goes on\n/);
  });

  it('-o json --wait: progress on stderr, the app at the end on stdout', async () => {
    reads(before, rolling(2, 0), rolledOut());
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: changed }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual(rolledOut());
    expect(h.err).toMatch(/^Updating app .*\nSCALING .*\nRUNNING {2}2\/2 ready\n$/);
  });

  it('a stopped app: the change applies at its next start (exit 0 at once)', async () => {
    const stopped = rolloutApp(OLD, 'STOPPED', 'stopped');
    reads(stopped, { ...stopped, spec: changed.spec });
    h.route('PUT', `/v1/app/${APP_ID}/image`, () => ({ body: { ...stopped, spec: changed.spec } }));
    expect(await h.run('app', 'set-image', APP_ID, NEW, '--wait')).toBe(0);
    expect(h.out).toMatch(/is STOPPED: the change applies at its next start\n$/);
  });

  it('update GETs the app and sends its whole environment with the changes', async () => {
    reads(before);
    h.route('PUT', `/v1/app/${APP_ID}`, () => ({ body: before }));
    expect(
      await h.run(
        'app',
        'update',
        APP_ID,
        '-e',
        'MODEL=large',
        '-e',
        'GREETING=hi',
        '--cpu',
        '2',
        '--http-port',
        '8501',
        '--auto-rollback',
        '--command',
        'httpd -f -p "8501"',
      ),
    ).toBe(0);
    expect(h.out).toBe(`Updating app ${APP_ID}.\n`);
    expect(nonMe()).toEqual([
      ['GET', `/v1/app/${APP_ID}`, undefined],
      [
        'PUT',
        `/v1/app/${APP_ID}`,
        {
          envVars: [
            { name: 'GREETING', value: 'hi' },
            { name: 'MODEL', value: 'large' },
          ],
          command: ['httpd', '-f', '-p', '8501'],
          resources: { cpu: 2 },
          defaultHttpPort: 8501,
          deploymentStrategy: { autoRollback: true },
        },
      ],
    ]);
  });

  it('update without env flags sends only the change, without a GET; -- gives the command', async () => {
    h.route('PUT', `/v1/app/${APP_ID}`, () => ({ body: before }));
    expect(
      await h.run(
        'app',
        'update',
        APP_ID,
        '--no-auto-rollback',
        '--no-grpc-port',
        '--',
        'sh',
        '-c',
        'exec httpd -f',
      ),
    ).toBe(0);
    expect(await h.run('app', 'update', APP_ID, '--no-command', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual(before);
    expect(nonMe()).toEqual([
      [
        'PUT',
        `/v1/app/${APP_ID}`,
        {
          command: ['sh', '-c', 'exec httpd -f'],
          grpcPort: null,
          deploymentStrategy: { autoRollback: false },
        },
      ],
      ['PUT', `/v1/app/${APP_ID}`, { command: null }],
    ]);
  });

  it('update --wait follows the rolling update of new settings', async () => {
    const settings = 'runtime settings changed (command, environment, ports, probe or resources)';
    const target = {
      ...before,
      updatedAt: '2026-11-23T12:00:00.000Z',
      spec: { ...before.spec, envVars: [] },
    };
    const rollingSettings = {
      ...target,
      status: {
        ...target.status,
        state: 'SCALING' as const,
        lastTransitionDate: '2026-11-23T12:00:01.000Z',
        info: {
          code: 'APP_SCALING' as const,
          message: `1/2 replicas ready; rolling update (${settings}): 1/2 updated`,
        },
      },
    };
    const done = { ...target, status: { ...target.status, lastTransitionDate: '2026-11-23T12:00:03.000Z' } };
    reads(before, rollingSettings, done);
    h.route('PUT', `/v1/app/${APP_ID}`, () => ({ body: target }));
    expect(await h.run('app', 'update', APP_ID, '--unset-env', 'GREETING', '--wait')).toBe(0);
    expect(h.out).toBe(
      [
        `Updating app ${APP_ID}.`,
        `SCALING  1/2 ready, 1/2 updated  (rolling update: ${settings})`,
        'RUNNING  2/2 ready',
        `rolled out: 2/2 replicas run ${OLD}`,
        '',
      ].join('\n'),
    );
  });

  it('update refuses what cannot be sent (exit 2): nothing, --cpu with --gpu, a bad name or command, a variable the app lacks', async () => {
    reads(before);
    for (const args of [
      [],
      ['--cpu', '1', '--gpu', '1'],
      ['--unset-env', 'A=1'],
      ['--command', ''],
      ['--command', "echo 'a"],
      ['--command', 'x', '--', 'y'],
      ['-e', 'A=1', '--unset-env', 'A'],
    ]) {
      expect(await h.run('app', 'update', APP_ID, ...args)).toBe(2);
      expect(h.err).not.toBe('');
    }
    expect(nonMe()).toEqual([]);
    expect(await h.run('app', 'update', APP_ID, '--unset-env', 'NOPE')).toBe(2);
    expect(h.err).toMatch(/no environment variable NOPE \(it has GREETING\)/);
    expect(nonMe().filter(([m]) => m === 'PUT')).toEqual([]);
    expect(await h.run('registry', 'update', 'r1', '--', 'x')).toBe(2);
  });

  it('update --help says that the environment is replaced as a whole', async () => {
    expect(await h.run('app', 'update', '--help')).toBe(0);
    expect(h.out.replace(/\s+/g, ' ')).toMatch(/replaces the app's whole list of environment variables/);
  });

  it('rollback PUTs /rollback and says so; a 409 is printed as the API words it', async () => {
    h.route('PUT', `/v1/app/${APP_ID}/rollback`, () => ({ status: 204 }));
    expect(await h.run('app', 'rollback', APP_ID)).toBe(0);
    expect(h.out).toBe(`Rolling app ${APP_ID} back to its previous runtime spec.\n`);
    h.routes.unshift((c) =>
      c.method === 'PUT'
        ? {
            status: 409,
            body: {
              error: 'CONFLICT',
              message: `app ${APP_ID} has no previous runtime spec to roll back to`,
            },
          }
        : undefined,
    );
    expect(await h.run('app', 'rollback', APP_ID)).toBe(1);
    expect(h.err).toBe(`error: app ${APP_ID} has no previous runtime spec to roll back to\n`);
  });

  it('rollback --wait follows the rollback to its end', async () => {
    const current = rolloutApp(NEW, 'RUNNING', '2/2 replicas ready', {
      updatedAt: '2026-11-23T11:00:00.000Z',
    });
    const back = rolloutApp(OLD, 'RUNNING', '2/2 replicas ready');
    reads(current, back, rolling(2, 1, OLD), rolledOut(OLD));
    h.route('PUT', `/v1/app/${APP_ID}/rollback`, () => ({ status: 204 }));
    expect(await h.run('app', 'rollback', APP_ID, '--wait')).toBe(0);
    expect(h.out).toBe(
      [
        `Rolling app ${APP_ID} back to its previous runtime spec.`,
        `SCALING  2/2 ready, 1/2 updated  (rolling update: image changed to ${OLD})`,
        'RUNNING  2/2 ready',
        `rolled back: 2/2 replicas run ${OLD}`,
        '',
      ].join('\n'),
    );
  });
});

describe('gantry token, capabilities, node, billing', () => {
  beforeEach(loggedIn);

  it('token create sends name, role and selector, and prints the secret once', async () => {
    h.route('POST', '/v1/token', () => ({
      body: sampleToken({ value: 'gantry_s3cret', labelSelector: 'team=a' }),
    }));
    expect(await h.run('token', 'create', 'reader', '--role', 'read', '--label-selector', 'team=a')).toBe(0);
    expect(h.calls.at(-1)?.body).toEqual({ name: 'reader', role: 'read', labelSelector: 'team=a' });
    expect(h.out).toContain('gantry_s3cret');
    expect(await h.run('token', 'create', 'x', '--role', 'superuser')).toBe(2);
    expect(h.err).toMatch(/Allowed choices are read, operator, admin/);
  });

  it('token list, renew, delete', async () => {
    h.route('GET', '/v1/token', () => ({ body: { items: [sampleToken()] } }));
    h.route('POST', /\/renew$/, () => ({ body: sampleToken({ value: 'new' }) }));
    h.route('DELETE', /\/v1\/token\//, () => ({ status: 204 }));
    expect(await h.run('token', 'list', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual([sampleToken()]);
    expect(await h.run('token', 'renew', 'tid')).toBe(0);
    expect(h.out).toContain('\nnew\n');
    expect(await h.run('token', 'delete', 'tid')).toBe(0);
    expect(h.out).toBe('Token tid deleted.\n');
  });

  it('capabilities flavor list', async () => {
    h.route('GET', '/v1/capabilities/flavor', () => ({ body: [sampleFlavor] }));
    expect(await h.run('capabilities', 'flavor', 'list')).toBe(0);
    expect(h.out).toMatch(/^ID +TYPE +DEFAULT/);
    expect(h.out).toContain('ai1-1-cpu');
  });

  it('node list and actions', async () => {
    h.route('GET', '/v1/node', () => ({ body: { items: [] } }));
    h.route('PUT', /\/v1\/node\/n1\/(cordon|uncordon|drain)$/, () => ({ status: 204 }));
    h.route('DELETE', '/v1/node/n1', () => ({ status: 204 }));
    expect(await h.run('node', 'list')).toBe(0);
    expect(h.out).toBe('No nodes.\n');
    for (const action of ['cordon', 'uncordon', 'drain', 'delete'])
      expect(await h.run('node', action, 'n1')).toBe(0);
    expect(h.calls.slice(-4).map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      'PUT /v1/node/n1/cordon',
      'PUT /v1/node/n1/uncordon',
      'PUT /v1/node/n1/drain',
      'DELETE /v1/node/n1',
    ]);
  });

  it('billing usage passes the filters', async () => {
    h.route('GET', '/v1/billing/usage', () => ({
      body: { asOf: '2026-11-23T12:00:00Z', runs: [], totals: [] },
    }));
    expect(
      await h.run(
        'billing',
        'usage',
        '--app',
        APP_ID,
        '--from',
        '2026-11-01',
        '--to',
        '2026-12-01T00:00:00Z',
      ),
    ).toBe(0);
    expect(Object.fromEntries(h.calls.at(-1)?.url.searchParams ?? [])).toEqual({
      appId: APP_ID,
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
    });
    expect(h.out).toContain('No usage in this period.');
    expect(await h.run('billing', 'usage', '--from', 'yesterday')).toBe(2);
  });
});

describe('gantry admin dlq', () => {
  beforeEach(loggedIn);

  const letter = (id: number, over: Record<string, unknown> = {}) => ({
    id,
    subject: 'app.status.v2',
    consumer: 'billing-meter--app_status_v2',
    reason: 'permanent failure:\nrefused',
    data: '{}',
    deliveries: 3,
    at: '2026-11-23T11:59:00.000Z',
    ...over,
  });

  it('list shows the letters, passes paging and the subject, and says where the next page starts', async () => {
    h.route('GET', '/v1/admin/dlq', () => ({
      body: { items: [letter(4), letter(9, { part: true })], next: 9, total: 12 },
    }));
    expect(
      await h.run('admin', 'dlq', 'list', '--after', '3', '--limit', '2', '--subject', 'app.status.v2'),
    ).toBe(0);
    expect(Object.fromEntries(h.calls.at(-1)?.url.searchParams ?? [])).toEqual({
      after: '3',
      limit: '2',
      subject: 'app.status.v2',
    });
    expect(h.out).toMatch(/^ *ID +AT +SUBJECT +CONSUMER +DELIVERIES +REASON\n/);
    expect(h.out).toContain('app.status.v2 (part)');
    expect(h.out).toContain('permanent failure: refused');
    expect(h.out).toContain(
      '2 shown of 12 in the dead-letter stream.\nMore: gantry admin dlq list --after 9\n',
    );
    expect(await h.run('admin', 'dlq', 'ls', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toMatchObject({ total: 12, next: 9 });
    h.routes.unshift((c) =>
      c.url.pathname === '/v1/admin/dlq' ? { body: { items: [], total: 0 } } : undefined,
    );
    expect(await h.run('admin', 'dlq', 'list')).toBe(0);
    expect(h.out).toBe('No dead letters.\n');
  });

  it('replay sends the ids, a subject or all, and prints what was and was not replayed', async () => {
    h.route('POST', '/v1/admin/dlq/replay', () => ({
      body: { replayed: [12], failed: [{ id: 13, reason: 'one part of a batch message' }] },
    }));
    expect(await h.run('admin', 'dlq', 'replay', '--id', '12', '--id', '13')).toBe(0);
    expect(h.calls.at(-1)?.body).toEqual({ ids: [12, 13] });
    expect(h.out).toBe('Replayed 1 dead letter(s): 12.\nNot replayed 13: one part of a batch message\n');
    expect(await h.run('admin', 'dlq', 'replay', '--subject', 'app.event.v2')).toBe(0);
    expect(h.calls.at(-1)?.body).toEqual({ subject: 'app.event.v2' });
    expect(await h.run('admin', 'dlq', 'replay', '--all', '-o', 'json')).toBe(0);
    expect(h.calls.at(-1)?.body).toEqual({ all: true });
    expect(JSON.parse(h.out)).toEqual({
      replayed: [12],
      failed: [{ id: 13, reason: 'one part of a batch message' }],
    });
  });

  it('refuses a replay without a choice or with two, and ids that are not ids, before asking the API', async () => {
    const before = h.calls.length;
    expect(await h.run('admin', 'dlq', 'replay')).toBe(2);
    expect(h.err).toMatch(/exactly one of them/);
    expect(await h.run('admin', 'dlq', 'replay', '--all', '--id', '3')).toBe(2);
    expect(await h.run('admin', 'dlq', 'replay', '--id', 'abc')).toBe(2);
    expect(h.err).toMatch(/must be a dead letter id/);
    expect(await h.run('admin', 'dlq', 'replay', '--id', '0')).toBe(2);
    expect(await h.run('admin', 'dlq', 'list', '--limit', '501')).toBe(2);
    expect(h.calls.length).toBe(before);
  });

  it('shows the API refusing a non-admin token', async () => {
    h.route('GET', '/v1/admin/dlq', () => ({
      status: 403,
      body: { error: 'FORBIDDEN', message: 'this operation needs an admin token' },
    }));
    expect(await h.run('admin', 'dlq', 'list')).toBe(1);
    expect(h.err).toContain('needs an admin token');
  });
});

describe('gantry registry', () => {
  beforeEach(loggedIn);

  const requests = () =>
    h.calls
      .filter((c) => c.url.pathname !== '/v1/me')
      .map((c) => [c.method, c.url.pathname + c.url.search, c.body]);

  it('add --username --password-stdin posts the credentials and never prints the password', async () => {
    h.route('POST', '/v1/registry', () => ({ body: sampleRegistry() }));
    h.stdin = 's3cret pass\n';
    expect(
      await h.run('registry', 'add', 'registry.example.com', '--username', 'ci', '--password-stdin'),
    ).toBe(0);
    expect(h.err).toBe('');
    expect(requests()).toEqual([
      ['POST', '/v1/registry', { url: 'registry.example.com', username: 'ci', password: 's3cret pass' }],
    ]);
    expect(h.out).toMatch(/^Id: +7a1e9c52-2222-4b4b-8c8c-000000000002\nUrl: +registry\.example\.com\n/);
    expect(h.out).toMatch(/Username: +ci\nPassword: +\(stored encrypted, never shown\)\n/);
    expect(h.out).not.toContain('s3cret');
  });

  it('add on a terminal asks for the user name, then the password (no echo); --project, -o json', async () => {
    h.route('POST', '/v1/registry', () => ({ body: sampleRegistry({ username: 'bob' }) }));
    h.tty = true;
    h.answers = ['  bob \n'];
    h.stdin = 'typed';
    expect(await h.run('registry', 'add', 'ghcr.io/team', '--project', 'p2', '-o', 'json')).toBe(0);
    expect(h.asked).toEqual(['Username: ', 'Password: ']);
    expect(h.calls.at(-1)?.body).toEqual({
      url: 'ghcr.io/team',
      username: 'bob',
      password: 'typed',
      projectId: 'p2',
    });
    expect(JSON.parse(h.out)).toEqual(sampleRegistry({ username: 'bob' }));
    // -u given: only the password is asked.
    expect(await h.run('registry', 'add', 'ghcr.io/team', '-u', 'ci')).toBe(0);
    expect(h.asked).toEqual(['Password: ']);
  });

  it('add without a terminal needs --username and --password-stdin (exit 2, nothing sent)', async () => {
    h.route('POST', '/v1/registry', () => ({ body: sampleRegistry() }));
    expect(await h.run('registry', 'add', 'registry.example.com', '--password-stdin')).toBe(2);
    expect(h.err).toMatch(/^error: no username given: pass --username USER/);
    expect(await h.run('registry', 'add', 'registry.example.com', '-u', 'ci')).toBe(2);
    expect(h.err).toMatch(/^error: no password given: pipe it with --password-stdin/);
    expect(h.asked).toEqual([]);
    h.stdin = '\n';
    expect(await h.run('registry', 'add', 'registry.example.com', '-u', 'ci', '--password-stdin')).toBe(2);
    expect(h.err).toMatch(/^error: no password given: stdin was empty/);
    h.tty = true;
    h.answers = [''];
    expect(await h.run('registry', 'add', 'registry.example.com')).toBe(2);
    expect(h.err).toMatch(/^error: no username given\n/);
    expect(await h.run('registry', 'add')).toBe(2);
    expect(h.err).toMatch(/missing required argument 'url'/);
    expect(requests()).toEqual([]);
  });

  it('refuses a password given as --password or -p, without repeating it', async () => {
    for (const flag of ['--password', '-p']) {
      expect(await h.run('registry', 'add', 'registry.example.com', '-u', 'ci', flag, 'hunter2')).toBe(2);
      expect(h.err).toMatch(/^error: a password given as --password stays in the shell history/);
      expect(h.err).toMatch(/\nhint: pipe it with --password-stdin/);
      expect(h.err).not.toContain('hunter2');
    }
    expect(await h.run('registry', 'update', REGISTRY_ID, '--password', 'hunter2')).toBe(2);
    expect(requests()).toEqual([]);
  });

  it('prints the API refusals (a read token, a bad address): exit 1', async () => {
    h.route('POST', '/v1/registry', (c) =>
      (c.body as { url: string }).url === 'Bad Url'
        ? {
            status: 400,
            body: {
              error: 'VALIDATION_FAILED',
              message: 'url must be a registry address',
              details: [{ field: 'url', message: 'must be a registry address' }],
            },
          }
        : {
            status: 403,
            body: { error: 'FORBIDDEN', message: 'token reader is a read token: it may only read' },
          },
    );
    h.stdin = 'pw';
    expect(await h.run('registry', 'add', 'registry.example.com', '-u', 'ci', '--password-stdin')).toBe(1);
    expect(h.err).toBe('error: token reader is a read token: it may only read\n');
    expect(await h.run('registry', 'add', 'Bad Url', '-u', 'ci', '--password-stdin')).toBe(1);
    expect(h.err).toBe('error: url must be a registry address\n  - url: must be a registry address\n');
  });

  it('list prints a table, or JSON; --project is passed on', async () => {
    h.route('GET', '/v1/registry', () => ({ body: { items: [sampleRegistry()] } }));
    expect(await h.run('registry', 'list')).toBe(0);
    expect(h.out).toMatch(
      /^ID +URL +USERNAME +PROJECT +USER +AGE\n7a1e9c52\S+ +registry\.example\.com +ci +default +admin +2h\n$/,
    );
    expect(await h.run('registry', 'ls', '--project', 'p2', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual([sampleRegistry()]);
    expect(h.calls.at(-1)?.url.search).toBe('?projectId=p2');
    h.routes = [];
    h.route('GET', '/v1/registry', () => ({ body: { items: [] } }));
    expect(await h.run('registry', 'list')).toBe(0);
    expect(h.out).toBe('No registries found.\n');
  });

  it('get, update, delete call the right endpoints', async () => {
    h.route('GET', `/v1/registry/${REGISTRY_ID}`, () => ({ body: sampleRegistry() }));
    h.route('PUT', `/v1/registry/${REGISTRY_ID}`, () => ({ body: sampleRegistry() }));
    h.route('DELETE', `/v1/registry/${REGISTRY_ID}`, () => ({ status: 204 }));
    expect(await h.run('registry', 'get', REGISTRY_ID)).toBe(0);
    expect(h.out).toMatch(/Created: +2026-11-23T10:00:00\.000Z \(2h ago\)\n/);
    expect(
      await h.run('registry', 'update', REGISTRY_ID, '--registry-url', 'ghcr.io/other', '-u', 'bot'),
    ).toBe(0);
    h.stdin = 'new-pass\r\n';
    expect(await h.run('registry', 'update', REGISTRY_ID, '--password-stdin', '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual(sampleRegistry());
    expect(await h.run('registry', 'delete', REGISTRY_ID)).toBe(0);
    expect(h.out).toBe(`Registry ${REGISTRY_ID} deleted.\n`);
    expect(await h.run('registry', 'rm', REGISTRY_ID, '-o', 'json')).toBe(0);
    expect(JSON.parse(h.out)).toEqual({ id: REGISTRY_ID, deleted: true });
    expect(requests()).toEqual([
      ['GET', `/v1/registry/${REGISTRY_ID}`, undefined],
      ['PUT', `/v1/registry/${REGISTRY_ID}`, { url: 'ghcr.io/other', username: 'bot' }],
      ['PUT', `/v1/registry/${REGISTRY_ID}`, { password: 'new-pass' }],
      ['DELETE', `/v1/registry/${REGISTRY_ID}`, undefined],
      ['DELETE', `/v1/registry/${REGISTRY_ID}`, undefined],
    ]);
  });

  it('update needs something to change (exit 2, nothing sent); 404 is exit 1', async () => {
    expect(await h.run('registry', 'update', REGISTRY_ID)).toBe(2);
    expect(h.err).toMatch(
      /^error: nothing to update: give --registry-url, --username and\/or --password-stdin\n/,
    );
    expect(requests()).toEqual([]);
    expect(await h.run('registry', 'get', 'nope')).toBe(1);
    expect(h.err).toBe('error: no route GET /v1/registry/nope\n');
  });
});

describe('splitPassthrough', () => {
  it('splits at the first --', () => {
    expect(splitPassthrough(['app', 'run', 'img', '--', 'sh', '-c', 'a -- b'])).toEqual({
      args: ['app', 'run', 'img'],
      passthrough: ['sh', '-c', 'a -- b'],
    });
    expect(splitPassthrough(['me'])).toEqual({ args: ['me'], passthrough: [] });
  });
});
