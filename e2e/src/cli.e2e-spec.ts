import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

// eslint-disable-next-line @nx/enforce-module-boundaries -- the launcher npm run up, the e2e setup and the benchmarks share; not an Nx project
import { freePort } from '../../scripts/platform.mjs';
import { json, MAIN, type Result, runCli } from './cli.js';
import { api, type AppObject, E, waitForState } from './platform.js';

/**
 * The `gantry` CLI, built (apps/cli/dist/main.js) and run as a subprocess against the shared
 * platform, as a user would: login, flavors, run/list/get/logs/stop/start/delete, and a read token
 * scoped by a label seeing only its apps and unable to change them.
 */
let dir: string;
let configPath: string;
const gantry = (args: string[], env: Record<string, string> = {}): Promise<Result> =>
  runCli(configPath, args, env);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gantry-cli-e2e-'));
  configPath = join(dir, 'gantry', 'config.json');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gantry CLI against the platform', () => {
  let appA: AppObject;
  let appB: AppObject;
  let reader: { id: string; status: { value?: string } };

  it('login refuses a bad token (exit 1, nothing saved), accepts a good one (config saved 0600)', async () => {
    const bad = await gantry(['login', '--url', E.api, '--token', 'not-a-real-token']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: login failed: /);
    await expect(stat(configPath)).rejects.toThrow(/ENOENT/);

    const good = await gantry(['login', '--url', E.api, '--token', E.adminToken]);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`Logged in to ${E.api} as `);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);

    const me = json<{ role: string }>(await gantry(['me', '-o', 'json']));
    expect(me.role).toBe('admin');
  });

  it('capabilities flavor list: a table, and JSON', async () => {
    const table = await gantry(['capabilities', 'flavor', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +TYPE +DEFAULT +MAX/);
    const flavors = json<Array<{ id: string; default: boolean }>>(
      await gantry(['capabilities', 'flavor', 'ls', '-o', 'json']),
    );
    expect(flavors.length).toBeGreaterThan(0);
    expect(table.stdout).toContain(flavors[0]?.id);
  });

  it('app run -p 8080 --unsecure-http -l team=a creates the app', async () => {
    appA = json<AppObject>(
      await gantry([
        'app',
        'run',
        E.images.web,
        '-p',
        '8080',
        '--unsecure-http',
        '-l',
        'team=a',
        '-n',
        'cli-a',
        '--cpu',
        '1',
        '-o',
        'json',
      ]),
    );
    expect(appA.spec).toMatchObject({
      name: 'cli-a',
      image: E.images.web,
      defaultHttpPort: 8080,
      unsecureHttp: true,
    });
    expect(appA.spec['labels']).toMatchObject({ team: 'a' });
    const human = await gantry(['app', 'run', E.images.web, '-l', 'team=b', '-n', 'cli-b', '--cpu', '1']);
    expect(human.code).toBe(0);
    const id = /^Id: +(\S+)/m.exec(human.stdout)?.[1] ?? '';
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    appB = (await api<AppObject>('GET', `/v1/app/${id}`)).body;
    await waitForState(appA.id, 'RUNNING');
  });

  it('app list and app get: tables and -o json', async () => {
    const table = await gantry(['app', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +IMAGE +STATE +REPLICAS +URL +AGE$/);
    expect(lines.find((l) => l.startsWith(appA.id))).toMatch(
      /cli-a +\S+ +RUNNING +1\/1 +http:\/\/\S+ +\d+[sm]/,
    );
    const all = json<AppObject[]>(await gantry(['app', 'list', '-o', 'json']));
    expect(all.map((a) => a.id)).toEqual(expect.arrayContaining([appA.id, appB.id]));
    const onlyA = json<AppObject[]>(
      await gantry(['app', 'list', '--label-selector', 'team=a', '-o', 'json']),
    );
    expect(onlyA.map((a) => a.id)).toContain(appA.id);
    expect(onlyA.map((a) => a.id)).not.toContain(appB.id);

    const got = await gantry(['app', 'get', appA.id]);
    expect(got.stdout).toMatch(/State: +RUNNING/);
    expect(got.stdout).toContain(appA.status.url);
    expect(json<AppObject>(await gantry(['app', 'get', appA.id, '-o', 'json'])).status.url).toBe(
      appA.status.url,
    );
  });

  it('app logs --tail, and -f until Ctrl-C', async () => {
    await waitFor(
      'the start line in gantry app logs',
      async () => {
        const r = await gantry(['app', 'logs', appA.id]);
        return r.code === 0 && r.stdout.includes('listening on 8080') ? r : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    // The readiness probe's requests keep the log growing: the last five lines are probe lines.
    const logs = await gantry(['app', 'logs', appA.id, '--tail', '5']);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trimEnd().split('\n').length).toBeLessThanOrEqual(5);
    expect(logs.stdout).toContain('url:/');

    const child = spawn(process.execPath, [MAIN, 'app', 'logs', appA.id, '-f', '--interval', '200'], {
      env: { ...process.env, GANTRY_CONFIG: configPath },
    });
    let out = '';
    let err = '';
    let exitCode: number | null | undefined;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) =>
      child.on('exit', (code) => {
        exitCode = code;
        res(code);
      }),
    );
    const following = (what: string) => {
      if (exitCode !== undefined) throw new Error(`gantry app logs -f exited ${exitCode}: ${err}`);
      return out.includes(what);
    };
    await waitFor('the follower to print the start line', () => following('listening on 8080'), {
      timeoutMs: 10_000,
    });
    // New lines keep coming (the readiness probe's requests): the follower prints them, once each.
    const lines = () => out.split('\n').filter(Boolean);
    const before = lines().length;
    await waitFor('the follower to print new lines', () => following('') && lines().length > before, {
      timeoutMs: 15_000,
      intervalMs: 200,
    }).catch((e: Error) => {
      throw new Error(`${e.message} (stderr: ${err}; stdout: ${out})`);
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines().filter((l) => l.includes('listening on 8080'))).toHaveLength(1);
    expect(new Set(lines()).size).toBe(lines().length);
  });

  it('app logs -f stops quietly, exit 0, when its reader goes away (gantry app logs -f | head -1)', async () => {
    const child = spawn(process.execPath, [MAIN, 'app', 'logs', appA.id, '-f', '--interval', '200'], {
      env: { ...process.env, GANTRY_CONFIG: configPath },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // The reader takes the first output and closes its end: the follower's next write meets EPIPE.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  it('a read token scoped to team=a sees only team=a apps and cannot stop them', async () => {
    reader = json(
      await gantry([
        'token',
        'create',
        'cli-reader',
        '--role',
        'read',
        '--label-selector',
        'team=a',
        '-o',
        'json',
      ]),
    );
    const secret = reader.status.value ?? '';
    expect(secret).not.toBe('');
    const asReader = { GANTRY_TOKEN: secret, GANTRY_URL: E.api };

    const listed = json<AppObject[]>(await gantry(['app', 'list', '-o', 'json'], asReader));
    expect(listed.map((a) => a.id)).toContain(appA.id);
    expect(listed.map((a) => a.id)).not.toContain(appB.id);
    expect(listed.every((a) => (a.spec['labels'] as Record<string, string>)['team'] === 'a')).toBe(true);

    const stop = await gantry(['app', 'stop', appA.id], asReader);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toMatch(/^error: .*read token/);
    expect(stop.stdout).toBe('');

    const other = await gantry(['app', 'get', appB.id], asReader);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: /);

    const tokens = await gantry(['token', 'list'], asReader);
    expect(tokens.code).toBe(1);
    expect(tokens.stderr).toMatch(/admin/);
  });

  it('app stop, start, delete --force', async () => {
    const stop = await gantry(['app', 'stop', appA.id]);
    expect(stop).toMatchObject({ code: 0, stdout: `Stopping app ${appA.id}.\n` });
    await waitForState(appA.id, 'STOPPED');
    expect((await gantry(['app', 'start', appA.id])).code).toBe(0);
    await waitForState(appA.id, 'RUNNING');

    const refused = await gantry(['app', 'delete', appA.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: cannot delete app .*: it is RUNNING\nhint: stop it first .* --force\n$/,
    );

    for (const app of [appA, appB]) expect((await gantry(['app', 'delete', app.id, '--force'])).code).toBe(0);
    await waitFor(
      'the apps to be gone',
      async () =>
        (await api('GET', `/v1/app/${appA.id}`)).status === 404 &&
        (await api('GET', `/v1/app/${appB.id}`)).status === 404,
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    const gone = await gantry(['app', 'get', appA.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: app \S+ does not exist/);
    expect((await gantry(['token', 'delete', reader.id])).code).toBe(0);
  });

  it('errors: usage errors exit 2, API errors 1, an unreachable API 1 with a clear message', async () => {
    const usage = await gantry(['app', 'run']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'image'/);
    expect((await gantry(['app', 'list', '-o', 'xml'])).code).toBe(2);
    expect((await gantry(['app', 'scale', appA.id])).code).toBe(2);

    const invalid = await gantry(['app', 'run', 'Not A Valid Image!']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: .*\n {2}- image: /);

    const port = await freePort();
    const down = await gantry(['me', '--url', `http://127.0.0.1:${port}`, '--token', 'x']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`error: cannot reach the Gantry API at http://127.0.0.1:${port}: `);
    expect(down.stderr).toMatch(/ECONNREFUSED/);

    const other = await gantry(['me'], { GANTRY_CONFIG: join(dir, 'none.json') });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: not logged in/);
  });
});
