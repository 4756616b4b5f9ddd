import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type Docker from 'dockerode';

import { sleep } from './wait.js';

/** Debian's docker-registry: the CNCF distribution registry 2.x, one static binary. */
export const DOCKER_REGISTRY_PATH = '/usr/bin/docker-registry';

/**
 * A private image registry of the test's own: `docker-registry serve` on `127.0.0.1:<free port>`
 * with htpasswd (basic) authentication and its storage in a temporary directory. Docker talks plain
 * HTTP to registries on 127.0.0.0/8 without any configuration, so there is no TLS.
 */
export interface TestRegistry {
  /** `127.0.0.1:<port>`: what image references start with, and what Docker authenticates against. */
  readonly host: string;
  readonly username: string;
  readonly password: string;
  /** Pushes the local image `tag` (a reference under `host`) with the registry's credentials. */
  push(docker: Docker, tag: string): Promise<void>;
  /** Stops the registry process and removes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

/** A TCP port free right now on 127.0.0.1 (the registry binds it a moment later; see the retries below). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no TCP port to listen on');
  return address.port;
}

async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  // Never started (spawn failed), or gone already.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves once the registry on `host` answers (401: it asks for credentials); rejects at once if it exits, or after 10 s. */
async function untilServing(
  host: string,
  child: ChildProcess,
  spawnError: () => Error | undefined,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const failed = spawnError();
    if (failed) throw new Error(`${DOCKER_REGISTRY_PATH} could not start: ${failed.message}`);
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `the registry on ${host} exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`,
      );
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 401) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(
    `the registry on ${host} did not answer within 10 s (${last}); its output: ${stderr().trim()}`,
  );
}

/**
 * Starts a registry that serves only `username`/`password` (bcrypt in an htpasswd file made by
 * `htpasswd -Bbn`). It ignores any registry the docker-registry package itself may run (port 5000):
 * it binds a free port of its own. Rejects, having cleaned up, when it does not answer within 10 s.
 */
export async function startTestRegistry(
  opts: { username?: string; password?: string } = {},
): Promise<TestRegistry> {
  const username = opts.username ?? 'gantry';
  const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  const dir = await mkdtemp(join(tmpdir(), 'gantry-registry-'));
  try {
    const { stdout } = await execFileAsync('htpasswd', ['-Bbn', username, password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    for (let attempt = 1; ; attempt++) {
      const host = `127.0.0.1:${await freePort()}`;
      const config = join(dir, 'config.yml');
      await writeFile(
        config,
        [
          'version: 0.1',
          'log:',
          '  level: error',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  filesystem:',
          `    rootdirectory: ${join(dir, 'data')}`,
          'http:',
          `  addr: ${host}`,
          // Fixed, so that it does not warn about generating one.
          '  secret: gantry-test-registry',
          'auth:',
          '  htpasswd:',
          '    realm: gantry-test',
          `    path: ${join(dir, 'htpasswd')}`,
          '',
        ].join('\n'),
      );
      const child = spawn(DOCKER_REGISTRY_PATH, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        if (stderr.length < 8192) stderr += chunk.toString();
      });
      let spawnError: Error | undefined;
      child.once('error', (error) => {
        spawnError = error;
      });
      try {
        await untilServing(
          host,
          child,
          () => spawnError,
          () => stderr,
        );
      } catch (error) {
        await stopProcess(child);
        // Someone took the port meanwhile: another one.
        if (attempt < 3 && /address already in use/i.test(stderr)) continue;
        throw error;
      }
      let stopped = false;
      return {
        host,
        username,
        password,
        push: (docker, tag) => pushImage(docker, tag, { username, password, serveraddress: host }),
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await stopProcess(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Pushes `tag` with `authconfig`, reading the progress to its end: rejects with the first error it reports. */
export async function pushImage(
  docker: Docker,
  tag: string,
  authconfig: { username: string; password: string; serveraddress: string },
): Promise<void> {
  const stream = (await docker.getImage(tag).push({ authconfig })) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        const failed = output?.find((o) => o.error ?? o.errorDetail);
        if (err || failed)
          reject(err ?? new Error(`pushing ${tag} failed: ${failed?.errorDetail?.message ?? failed?.error}`));
        else resolve();
      },
    );
  });
}
