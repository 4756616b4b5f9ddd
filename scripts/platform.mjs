// Starts the whole platform — every service its own process — and stops it. Used by `npm run up` and
// by the end-to-end suite (one platform start shared by every e2e test). Plain Node, no dependencies.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { waitUntil } from './host.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Start order: consumers of events before their producers, the API last. */
export const SERVICES = [
  'log-collector',
  'billing-meter',
  'scheduler',
  'autoscaler',
  'ingress-router',
  'node-agent',
  'api-gateway',
];

export const DEFAULT_PORTS = {
  api: 8000,
  ingress: 8080,
  ingressH2c: 8081,
  scheduler: 8101,
  agent: 8102,
  billing: 8103,
  logs: 8104,
  ingressAdmin: 8105,
  autoscaler: 8106,
};

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

export async function freePorts() {
  const out = {};
  for (const k of Object.keys(DEFAULT_PORTS)) out[k] = await freePort();
  return out;
}

/**
 * The environment of each service. `opts`: {natsUrl, databaseUrl, namespace, adminToken, secretKey, ports,
 * appsDomain, logLevel, agents: [{id, port, cpus, memory, labels, simulatedGpus}], timings: {agent,
 * scheduler, autoscaler, gateway} (extra environment of those services)}.
 */
export function serviceEnvs(opts) {
  const p = opts.ports;
  const common = {
    NATS_URL: opts.natsUrl,
    GANTRY_NAMESPACE: opts.namespace,
    LOG_LEVEL: opts.logLevel ?? 'info',
  };
  const db = { DATABASE_URL: opts.databaseUrl };
  const domain = opts.appsDomain ?? 'app.localhost';
  const envs = [
    { name: 'log-collector', port: p.logs, env: { ...common, ...db, HTTP_PORT: p.logs } },
    { name: 'billing-meter', port: p.billing, env: { ...common, ...db, HTTP_PORT: p.billing } },
    {
      name: 'scheduler',
      port: p.scheduler,
      env: { ...common, ...db, HTTP_PORT: p.scheduler, ...(opts.timings?.scheduler ?? {}) },
    },
    {
      name: 'autoscaler',
      port: p.autoscaler,
      env: { ...common, HTTP_PORT: p.autoscaler, ...(opts.timings?.autoscaler ?? {}) },
    },
    {
      name: 'ingress-router',
      port: p.ingressAdmin,
      env: {
        ...common,
        HTTP_PORT: p.ingressAdmin,
        INGRESS_PORT: p.ingress,
        INGRESS_H2C_PORT: p.ingressH2c,
        GANTRY_APPS_DOMAIN: domain,
      },
    },
  ];
  (opts.agents ?? [{ id: 'local' }]).forEach((a, i) => {
    // Extra agents need their own port (`a.port`); the first one defaults to ports.agent.
    const port = a.port ?? (i === 0 ? p.agent : undefined);
    if (port === undefined) throw new Error(`node agent ${a.id} needs a port`);
    envs.push({
      name: 'node-agent',
      label: `node-agent:${a.id}`,
      port,
      env: {
        ...common,
        HTTP_PORT: port,
        NODE_ID: a.id,
        NODE_ADDRESS: a.address ?? '127.0.0.1',
        ...(a.cpus ? { NODE_CPUS: a.cpus } : {}),
        ...(a.memory ? { NODE_MEMORY: a.memory } : {}),
        ...(a.labels ? { NODE_LABELS: a.labels } : {}),
        ...(a.simulatedGpus ? { SIMULATED_GPUS: a.simulatedGpus } : {}),
        ...(opts.timings?.agent ?? {}),
      },
    });
  });
  envs.push({
    name: 'api-gateway',
    port: p.api,
    env: {
      ...common,
      ...db,
      HTTP_PORT: p.api,
      GANTRY_ADMIN_TOKEN: opts.adminToken,
      ...(opts.secretKey ? { GANTRY_SECRET_KEY: opts.secretKey } : {}),
      GANTRY_APP_URL_TEMPLATE: `http://{id}.${domain}:${p.ingress}`,
      ...(opts.timings?.gateway ?? {}),
    },
  });
  return envs;
}

/**
 * Starts every service from its build output (apps/<service>/dist/main.js), each logging to
 * `<logDir>/<label>.log`, and waits until every /readyz answers 200. Returns {services, stop,
 * restart(label), logDir}.
 */
export async function startPlatform(opts) {
  const logDir = opts.logDir ?? join(ROOT, '.gantry', 'logs');
  mkdirSync(logDir, { recursive: true });
  const started = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all([...started].reverse().filter(Boolean).map(stopService));
  };
  const svcs = serviceEnvs(opts);
  const hooks = {
    stopped: () => stopping,
    isCurrent: (x) => started.includes(x),
    replace: (x, again) => {
      started[started.indexOf(x)] = again;
    },
  };
  const supervised = (svc, x) => supervise(svc, x, logDir, hooks);
  /** Starts a service again (after it was killed), in the same environment; resolves once ready. */
  const restart = async (label) => {
    const i = started.findIndex((x) => x?.label === label);
    if (i === -1) throw new Error(`no service ${label}`);
    const svc = svcs.find((x) => (x.label ?? x.name) === label);
    // Whatever runs there (a supervised restart included) gives way to this one.
    const previous = started[i];
    started[i] = null;
    await stopService(previous);
    const s = supervised(svc, startService(svc, logDir));
    started[i] = s;
    await waitReady(s, opts.readyTimeoutMs);
    return s;
  };
  try {
    for (const svc of svcs) {
      const s = supervised(svc, startService(svc, logDir));
      started.push(s);
      opts.onStart?.(s);
    }
    for (const s of started) await waitReady(s, opts.readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { services: started, stop, restart, logDir };
}

/**
 * Starts one service of `serviceEnvs(...)` from its build output, logging to `<logDir>/<label>.log`
 * (appended: a restarted service keeps its history). Returns {name, label, port, url, proc, logFile}.
 */
export function startService(svc, logDir) {
  const entry = join(ROOT, 'apps', svc.name, 'dist', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npm run build)`);
  const label = svc.label ?? svc.name;
  const logFile = join(logDir, `${label.replace(':', '-')}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(svc.env).map(([k, v]) => [k, String(v)])),
  };
  // GANTRY_SERVICE_NODE_ARGS: extra Node flags for every service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.GANTRY_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.pipe(out);
  proc.stderr.pipe(out);
  return { name: svc.name, label, port: svc.port, url: `http://127.0.0.1:${svc.port}`, proc, logFile };
}

/**
 * Like systemd's Restart=on-failure: when the started service `s` exits by itself with an error (a
 * scheduler that lost its lease to a database restart, a service that could not reach NATS at boot)
 * and is still the current one (`hooks.isCurrent`), it is started again (`hooks.replace(s, again)`),
 * after 1 s, doubling to 30 s while it keeps failing within 10 s of its start. A service killed by a
 * signal (kill -9, a test playing a lost host) is left as it is: whoever killed it starts it again.
 * Returns `s`.
 */
export function supervise(svc, s, logDir, hooks, delayMs = 1000) {
  const startedAt = Date.now();
  s.proc.once('exit', (code) => {
    if (hooks.stopped() || code === null || code === 0 || !hooks.isCurrent(s)) return;
    const wait = Date.now() - startedAt < 10_000 ? delayMs : 1000;
    (hooks.log ?? console.error)(
      `${s.label} exited with code ${code}; starting it again in ${wait / 1000} s`,
    );
    setTimeout(() => {
      if (hooks.stopped() || !hooks.isCurrent(s)) return;
      const again = startService(svc, logDir);
      hooks.replace(s, again);
      supervise(svc, again, logDir, hooks, Math.min(30_000, wait * 2));
    }, wait).unref();
  });
  return s;
}

/** Stops a started service: SIGTERM (after SIGCONT), then SIGKILL after 10 s; resolves once it has exited. */
export function stopService(s) {
  return new Promise((res) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) return res();
    const kill = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
    s.proc.once('exit', () => {
      clearTimeout(kill);
      res();
    });
    // A stopped process (kill -STOP, to play a silent host) takes SIGTERM only once it runs again.
    s.proc.kill('SIGCONT');
    s.proc.kill('SIGTERM');
  });
}

/** Resolves once `s` answers 200 on /readyz; rejects with its log's tail if it exits first or times out. */
export function waitReady(s, timeoutMs = 60_000) {
  return waitUntil(
    `${s.label} to be ready on ${s.url}/readyz`,
    async () => {
      if (s.proc.exitCode !== null)
        throw new Error(`${s.label} exited with ${s.proc.exitCode}:\n${tail(s.logFile)}`);
      try {
        const r = await fetch(`${s.url}/readyz`);
        return r.status === 200;
      } catch {
        return false;
      }
    },
    timeoutMs,
  ).catch((e) => {
    throw new Error(`${e.message}\n--- ${s.logFile} ---\n${tail(s.logFile)}`);
  });
}

export function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
