// Host prerequisites shared by `npm run up`, `npm test` and CI: a running Docker Engine (Debian's
// docker.io, installed with apt when absent), busybox-static for test and demo images, a private
// registry for the tests (Debian's docker-registry and apache2-utils' htpasswd), and helpers to reach
// local servers. Plain Node, no dependencies: it runs before `npm install`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';

export const DOCKER_SOCKET = '/var/run/docker.sock';

export function log(msg) {
  process.stderr.write(`\x1b[36m[gantry]\x1b[0m ${msg}\n`);
}

export function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs Debian packages with apt (as root), once per process. */
let aptUpdated = false;
export function aptInstall(...packages) {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing ${packages.join(', ')}: install them (sudo apt-get install ${packages.join(' ')}) and retry`,
    );
  }
  log(`installing ${packages.join(', ')} with apt`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
    aptUpdated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    stdio: 'ignore',
    env,
  });
}

export function dockerPing(socket = DOCKER_SOCKET) {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

export function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    s.setTimeout(1000);
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function waitUntil(what, probe, timeoutMs = 60_000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Makes sure a Docker Engine answers on the default socket: installs docker.io when dockerd is absent
 * and starts dockerd in the background when it is not running. Returns the process it started, if any.
 */
export async function ensureDocker(stateDir) {
  if (await dockerPing()) return undefined;
  if (!have('dockerd')) aptInstall('docker.io');
  mkdirSync(stateDir, { recursive: true });
  log(`starting dockerd (log: ${stateDir}/dockerd.log)`);
  const out = openSync(`${stateDir}/dockerd.log`, 'a');
  const child = spawn('dockerd', [], { stdio: ['ignore', out, out], detached: true });
  child.unref();
  await waitUntil('the Docker Engine', () => dockerPing(), 60_000);
  return child;
}

/** Debian's busybox-static: the one binary of test and demo images. */
export function ensureBusybox() {
  if (existsSync('/bin/busybox')) {
    try {
      const out = execFileSync('sh', [
        '-c',
        'dpkg -s busybox-static 2>/dev/null | grep -q "Status: install ok"; echo $?',
      ])
        .toString()
        .trim();
      if (out === '0') return '/bin/busybox';
    } catch {
      // fall through to install
    }
  }
  aptInstall('busybox-static');
  return '/bin/busybox';
}

/**
 * What the private-registry tests start (libs/testing `startTestRegistry`): Debian's docker-registry
 * (the CNCF distribution registry) and htpasswd (apache2-utils). The tests run their own registry on a
 * free port; whatever service the package may start on :5000 is left alone and not relied on.
 */
export function ensureRegistryTools() {
  const missing = () =>
    [
      !existsSync('/usr/bin/docker-registry') && 'docker-registry',
      !have('htpasswd') && 'apache2-utils',
    ].filter(Boolean);
  const packages = missing();
  if (!packages.length) return;
  try {
    aptInstall(...packages);
  } catch (error) {
    // The package's own service may fail to start (no init system, :5000 taken): the binaries the
    // tests need are unpacked all the same.
    if (missing().length) throw error;
    log(`apt-get reported an error installing ${packages.join(', ')}, but the binaries are there`);
  }
}
