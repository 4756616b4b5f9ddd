// Helpers shared by the benchmarks.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';

import {
  buildTestImage,
  createTestDatabase,
  createTestNamespace,
  waitFor,
  webAppSpec,
} from '@gantry/testing';
import Docker from 'dockerode';

import { ensureBusybox, ensureDocker } from '../scripts/host.mjs';
import { freePorts, ROOT, startPlatform } from '../scripts/platform.mjs';

export { rng, sleep } from '@gantry/testing';

/** Polls until truthy, bounded (libs/testing's waitFor, with a 90 s default). */
export const until = (what, fn, { limitMs = 90_000, pollMs = 20 } = {}) =>
  waitFor(what, fn, { timeoutMs: limitMs, intervalMs: pollMs });

/** The p-th percentile (nearest rank). */
export const pct = (xs, p) =>
  xs.length === 0
    ? NaN
    : [...xs].sort((a, b) => a - b)[
        Math.max(0, Math.min(xs.length - 1, Math.ceil((xs.length * p) / 100) - 1))
      ];

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

/**
 * A platform of the benchmark's own: its own database, NATS namespace, ports and a busybox web image
 * (`image`), every service its own process, rate limits out of the way. `agents(ports)` lists the
 * node agents; `timings` adds to services' environments (as startPlatform's `timings`). `cleanup()` stops it and removes what it made.
 */
export async function benchPlatform(name, agents, timings = {}) {
  await ensureDocker(join(ROOT, '.gantry'));
  ensureBusybox();
  const id = randomBytes(4).toString('hex');
  const image = `gantry-bench/web-${id}:1`;
  const docker = new Docker();
  await buildTestImage(docker, image, webAppSpec(name));
  const db = await createTestDatabase(name);
  const ns = await createTestNamespace(name);
  const ports = await freePorts();
  const token = `bench-admin-${randomBytes(16).toString('hex')}`;
  const platform = await startPlatform({
    natsUrl: ns.natsUrl,
    databaseUrl: db.url,
    namespace: ns.namespace,
    adminToken: token,
    ports,
    logDir: join(ROOT, '.gantry', 'bench-logs', `${name}-${id}`),
    logLevel: 'warn',
    agents: await agents(ports, id),
    timings: { ...timings, gateway: { RATE_LIMIT_PER_SECOND: 1000, RATE_LIMIT_BURST: 1000 } },
  });
  return {
    id,
    image,
    docker,
    ns,
    ports,
    token,
    platform,
    api: `http://127.0.0.1:${ports.api}`,
    ingress: `http://127.0.0.1:${ports.ingress}`,
    cleanup: async () => {
      await platform.stop();
      const label = [`gantry.namespace=${ns.namespace}`];
      for (const c of await docker.listContainers({ all: true, filters: { label } }))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => {});
      await ns.destroy();
      await db.drop();
    },
  };
}

/**
 * User + system CPU seconds in a /proc `stat` line (fields 14 and 15, counted after the command
 * name); with `reaped`, also those of its children that exited and were waited for (16 and 17).
 */
function statCpu(stat, reaped = false) {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0)) / 100;
}

/** CPU seconds a process has used so far (NaN once it is gone). */
export function processCpu(pid) {
  try {
    return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** CPU seconds per thread of a process, by thread id (`main` for the main thread). */
export function threadCpu(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      out[tid === String(pid) ? 'main' : `thread ${tid}`] = statCpu(
        readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'),
      );
  } catch {
    // gone
  }
  return out;
}

/**
 * CPU seconds used so far by every process whose command name is `comm` (e.g. nats-server,
 * postgres), counting processes of it that exited and were reaped by one of them (a PostgreSQL
 * backend that ends is counted in the postmaster's children time, so the sum never goes back).
 */
export function commCpu(comm) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm) total += statCpu(stat, true);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** CPU seconds the whole machine has been busy (all cores), its context switches so far, and its cores. */
export function machineCpu() {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const t = lines[0].split(/\s+/).slice(1).map(Number);
    const idle = t[3] + t[4];
    const ctxt = Number(lines.find((l) => l.startsWith('ctxt '))?.slice(5) ?? NaN);
    return { busy: (t.reduce((a, b) => a + b, 0) - idle) / 100, ctxt, cores: availableParallelism() };
  } catch {
    return { busy: NaN, ctxt: NaN, cores: availableParallelism() };
  }
}

/** A process's resident memory now and at its peak, in MiB. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}

/**
 * What one hop between two processes costs on this machine: `n` one-byte round trips over loopback
 * TCP between this process and an echo server in another Node process, as wall time and machine
 * CPU per round trip, and context switches per round trip. A message system pays this on every
 * publish, ack, delivery and database round trip, so it scales what any real path can do here.
 */
export async function loopbackRoundTrip(n = 20_000) {
  const server = spawn(
    process.execPath,
    [
      '-e',
      "require('net').createServer((s) => s.on('data', (d) => s.write(d))).listen(0, '127.0.0.1', function () { console.log(this.address().port); });",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise((resolve, reject) => {
      server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
      server.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    const sock = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const m0 = machineCpu();
    const t0 = performance.now();
    let i = 0;
    await new Promise((resolve) => {
      sock.on('data', () => (++i >= n ? resolve() : sock.write('x')));
      sock.write('x');
    });
    const wallUs = ((performance.now() - t0) * 1000) / n;
    const m1 = machineCpu();
    sock.destroy();
    return { wallUs, cpuUs: ((m1.busy - m0.busy) * 1e6) / n, switches: (m1.ctxt - m0.ctxt) / n };
  } finally {
    server.kill();
  }
}
