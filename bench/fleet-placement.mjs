#!/usr/bin/env node
// Fleet placement benchmark (issue: the GPU fleet) — the real path, side by side with the pure
// decision function of bench/placement.mjs on the same request stream.
//
// Real path: the scheduler as its own process (apps/scheduler/dist/main.js) on this machine's NATS
// and PostgreSQL (a database and a namespace of its own), and N simulated nodes in this process.
// Fidelity: FULL AGENTS — each node is the real NodeAgent code (apps/node-agent/dist) with its
// FakeDriver (in-memory containers, no Docker) and the NATS control plane (NatsControlPlane: its
// own KV watch on `assignments/<node>`, heartbeats on `node.heartbeat.v1`, reports on
// `node.report.v1`), SIMULATED_GPUS 8:h100, all agents sharing one NATS connection. Heartbeats
// every 5 s (instead of 1 s) so that 1,000 agents fit in one process; the scheduler is told the
// matching health timings (NODE_NOT_READY_AFTER_MS 15 s, NODE_LOST_AFTER_MS 60 s) and nothing else.
//
// Requests: apps with the `h100-1-gpu` flavor of the gateway's seed catalog (28 vCPU, 350 GiB per
// GPU; at most 4 GPUs per replica), so a node advertises 8 × (28 vCPU, 350 GiB). Per app: 50 % one
// 1-GPU replica, 25 % one 2-GPU, 15 % one 4-GPU, 10 % an "8-GPU" job, which the catalog only allows
// as 2 replicas × 4 GPUs. The stream is cut at REQUESTS replicas. Each app is an `app.desired.v1`
// event published with MessageBus (dedupe id = event id), at most WINDOW apps in flight: a new app
// is published as soon as one is decided (a closed loop with WINDOW concurrent users). Measured per replica:
//   - decision latency: publish → the replica appears in its node's `assignments` KV entry (as that
//     node's agent receives it, through its own KV watch);
//   - a refusal: the app's status (in an `app.status.v2` batch) says "waiting for capacity" (QUEUED, or SCALING with
//     replicas waiting); GPU utilisation at the first refusal = GPUs of the replicas the scheduler
//     had created before that decision (from its database, by creation time) / GPUs of the fleet;
//   - placements per second: replicas placed until the first refusal is seen, over that time (the
//     fleet is then about full, and what follows is mostly refusals); decisions per second: every
//     replica decided (placed or refused) over the whole run;
//   - refusal latency: publish → the status that says so;
//   - scheduler RSS (/proc/<pid>/status) when idle, with the fleet registered, and at the end;
//   - the machine's CPU by process while the registered fleet idles (3 s) and while measuring.
// Caveat: this process (N agents + the status subscription) shares the 2 cores with the scheduler,
// PostgreSQL and NATS; its own event-loop delay is part of what is measured.
// Load: closed loop by default (WINDOW apps in flight: measures the most the real path can decide);
// with `rate=R`, open loop instead — apps published on a fixed schedule of R replica requests per
// second whatever the scheduler does (what a target "N placements/s with p99 under L" means: the
// latency at that offered rate; a closed loop with W in flight can only show latency = W / throughput).
// Warm-up: before measuring, `warmup=N` (default 2,000) replicas of another stream of the same mix
// are placed, become READY and are deleted, so that what is measured is a scheduler (and agents)
// whose code the JIT has compiled, as in a platform that has been running; `warmup=0` measures cold.
//   npm run build && node bench/fleet-placement.mjs [nodes=1000] [requests=10000] [window=200] [limitSeconds=600] [seed=42] [rate=R] [warmup=N]
import { join } from 'node:path';

import { BUCKETS, STREAMS, wireBucket, wireStream, wireSubject } from '@gantry/contracts';
import { MessageBus } from '@gantry/messaging';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestDatabase, createTestNamespace } from '@gantry/testing';
import { Logger } from '@nestjs/common';
import pg from 'pg';

import { SEED_FLAVORS } from '../apps/api-gateway/dist/store/migrations/1764000000000-init.js';
import { Checkpoint } from '../apps/node-agent/dist/agent/checkpoint.js';
import { NatsControlPlane } from '../apps/node-agent/dist/agent/control-plane.js';
import { NodeAgent } from '../apps/node-agent/dist/agent/node-agent.js';
import { NodeAgentConfigSchema } from '../apps/node-agent/dist/config.js';
import { FakeDriver } from '../apps/node-agent/dist/driver/fake/fake-driver.js';
import { freeCapacity, placeReplica, reserve } from '../apps/scheduler/dist/model/placement.js';
import { freePort, ROOT, startService, stopService, waitReady } from '../scripts/platform.mjs';
import {
  commCpu,
  loopbackRoundTrip,
  machineCpu,
  memory,
  pct,
  processCpu,
  rng,
  sleep,
  threadCpu,
  until,
} from './lib.mjs';

const ARGS = process.argv.slice(2);
const [NODES = 1000, REQUESTS = 10_000, WINDOW = 200, LIMIT_S = 600, SEED = 42] = ARGS.filter(
  (a) => !a.includes('='),
).map(Number);
/** Open loop: replica requests per second (undefined: closed loop with WINDOW apps in flight). */
const RATE = ARGS.filter((a) => a.startsWith('rate='))
  .map((a) => Number(a.slice(5)))
  .find((r) => r > 0);
/** Replicas placed and deleted before measuring (`warmup=N`; 0: measure a cold scheduler). */
const WARMUP = Number(ARGS.find((a) => a.startsWith('warmup='))?.slice(7) ?? 2000);
const LOAD = RATE ? `open loop at ${RATE} replica requests/s` : `at most ${WINDOW} apps in flight`;
const GPUS = 8;
const HEARTBEAT_MS = 5000;
const IMAGE = 'bench/fleet:1';
const FLAVOR = SEED_FLAVORS.find((f) => f.id === 'h100-1-gpu');
const NODE_CPUS = GPUS * FLAVOR.cpuPerUnit;
const NODE_MEMORY = GPUS * FLAVOR.memoryPerUnit;
const TOTAL_GPUS = NODES * GPUS;
const started = Date.now();
const deadline = started + LIMIT_S * 1000;
const log = (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}`);

/** The apps, in order, cut at REQUESTS replicas: {appId, replicas, gpus (per replica)}. */
function apps(prefix = 'fleet', requests = REQUESTS, seed = SEED) {
  const r = rng(seed);
  const out = [];
  let replicas = 0;
  for (let i = 0; replicas < requests; i++) {
    const x = r();
    const [n, gpus] = x < 0.5 ? [1, 1] : x < 0.75 ? [1, 2] : x < 0.9 ? [1, 4] : [2, 4];
    const take = Math.min(n, requests - replicas);
    out.push({ appId: `${prefix}-${String(i).padStart(5, '0')}`, replicas: take, gpus });
    replicas += take;
  }
  return out;
}

/** What the gateway would resolve for `units` GPUs of the flavor (spec-resolver resolveResources). */
function resources(units) {
  return {
    flavor: FLAVOR.id,
    type: 'gpu',
    units,
    cpu: FLAVOR.cpuPerUnit * units,
    gpu: units,
    memory: FLAVOR.memoryPerUnit * units,
    ephemeralStorage: FLAVOR.ephemeralStoragePerUnit * units,
    publicNetwork: FLAVOR.publicNetworkPerUnit * units,
    privateNetwork: FLAVOR.privateNetworkPerUnit * units,
    gpuBrand: FLAVOR.gpuBrand,
    gpuModel: FLAVOR.gpuModel,
    gpuMemory: FLAVOR.gpuMemory * units,
  };
}

function desired(app, version = 1, lifecycle = 'RUNNING') {
  const at = new Date().toISOString();
  return {
    id: `${app.appId}:desired:${version}`,
    appId: app.appId,
    projectId: 'bench-fleet',
    version,
    at,
    lifecycle,
    spec: {
      name: app.appId,
      image: IMAGE,
      envVars: [],
      labels: {},
      resources: resources(app.gpus),
      scalingStrategy: { fixed: { replicas: app.replicas } },
      defaultHttpPort: 8080,
      probe: { path: '/', port: 8080 },
      unsecureHttp: true,
      deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
    },
    rate: { flavor: FLAVOR.id, unitPriceMicros: FLAVOR.unitPriceMicros, currency: 'EUR' },
  };
}

/** The pure decision function on the same stream and fleet (bench/placement.mjs's fill workload). */
function pureDecision() {
  const nodes = Array.from({ length: NODES }, (_, n) => ({
    id: `sim-${String(n).padStart(4, '0')}`,
    address: '10.0.0.1',
    health: 'READY',
    schedulable: true,
    simulatedGpus: true,
    capacity: {
      cpus: NODE_CPUS,
      memory: NODE_MEMORY,
      gpus: Array.from({ length: GPUS }, (_, i) => ({
        index: i,
        uuid: `GPU-${n}-${i}`,
        model: 'NVIDIA H100 80GB HBM3',
        memory: 81559,
      })),
    },
  }));
  const reqs = apps().flatMap((a) =>
    Array.from({ length: a.replicas }, () => ({
      appId: a.appId,
      type: 'gpu',
      cpu: FLAVOR.cpuPerUnit * a.gpus,
      memory: FLAVOR.memoryPerUnit * a.gpus,
      gpus: a.gpus,
      gpuModel: 'H100',
    })),
  );
  const once = () => {
    const free = freeCapacity(nodes, []);
    const latencies = [];
    let placed = 0;
    let used = 0;
    let utilAtFirstRefusal;
    let fillSeconds;
    let fillPlaced = 0;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    for (const req of reqs) {
      const s = performance.now();
      const res = placeReplica(req, free);
      if (res.ok) reserve(free, req, res);
      latencies.push(performance.now() - s);
      if (res.ok) {
        placed++;
        used += res.gpus.length;
        if (utilAtFirstRefusal === undefined) fillPlaced++;
      } else if (utilAtFirstRefusal === undefined) {
        utilAtFirstRefusal = used / TOTAL_GPUS;
        fillSeconds = (performance.now() - t0) / 1000;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      placementsPerSecond: fillPlaced / (fillSeconds ?? seconds),
      decisionsPerSecond: reqs.length / seconds,
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      utilAtFirstRefusal: utilAtFirstRefusal ?? used / TOTAL_GPUS,
      placed,
      decided: reqs.length,
      memMiB: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20,
    };
  };
  once(); // warm-up
  return once();
}

/**
 * Messages published so far to the namespace's streams: per subject for event streams, per bucket
 * for KV buckets (every put, from the stream's last sequence: a bucket keeps one value per key).
 */
async function publishedMessages(nc, ns) {
  const jsm = await jetstreamManager(nc);
  const out = {};
  for (const bucket of Object.keys(BUCKETS))
    out[`KV ${bucket}`] = (await jsm.streams.info(`KV_${wireBucket(ns, bucket)}`)).state.last_seq;
  for (const stream of Object.keys(STREAMS)) {
    const info = await jsm.streams.info(wireStream(ns, stream), { subjects_filter: '>' });
    for (const [subject, n] of Object.entries(info.state.subjects ?? {}))
      out[subject.slice(ns.length + 1)] = (out[subject.slice(ns.length + 1)] ?? 0) + n;
  }
  return out;
}

/** The scheduler's histograms (gantry_scheduler_*): cumulative bucket counts, sum and count. */
async function schedulerHistograms(url) {
  const out = {};
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^(gantry_scheduler_\w+?)_(bucket|sum|count)(?:\{le="([^"]+)"\})? ([\d.e+-]+)$/.exec(line);
      if (!m) continue;
      const h = (out[m[1]] ??= { buckets: [], sum: 0, count: 0 });
      if (m[2] === 'bucket') h.buckets.push([m[3] === '+Inf' ? Infinity : Number(m[3]), Number(m[4])]);
      else h[m[2]] = Number(m[4]);
    }
  } catch {
    // the scheduler is gone: nothing to say
  }
  return out;
}

/** What a histogram gained between two scrapes. */
function histogramDelta(before, after) {
  if (!after) return { buckets: [], sum: 0, count: 0 };
  const prev = new Map((before?.buckets ?? []).map(([le, n]) => [le, n]));
  return {
    buckets: after.buckets.map(([le, n]) => [le, n - (prev.get(le) ?? 0)]),
    sum: after.sum - (before?.sum ?? 0),
    count: after.count - (before?.count ?? 0),
  };
}

/** The q-th percentile of a histogram, interpolated linearly inside its bucket (as Prometheus does). */
function histogramPct(h, q) {
  if (!h.count) return NaN;
  const rank = (q / 100) * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, n] of h.buckets) {
    if (n >= rank) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(1, n - below);
    }
    lower = le;
    below = n;
  }
  return lower;
}

async function main() {
  Logger.overrideLogger(['error']);
  log(
    `fleet placement: ${NODES} simulated nodes × ${GPUS} H100, ${REQUESTS} replica requests, ${LOAD}, limit ${LIMIT_S} s, seed ${SEED}, node ${process.version}`,
  );
  const pure = pureDecision();
  log(
    `pure decision (in-process placeReplica): ${Math.round(pure.decisionsPerSecond)} decisions/s, p99 ${pure.p99.toFixed(3)} ms`,
  );
  const hop = await loopbackRoundTrip();
  log(
    `one hop between two processes here (loopback TCP round trip): ${hop.wallUs.toFixed(1)} µs, ${hop.cpuUs.toFixed(1)} µs of machine CPU, ${hop.switches.toFixed(1)} context switches`,
  );

  const db = await createTestDatabase('fleet');
  const ns = await createTestNamespace('fleet');
  const cleanups = [async () => ns.destroy(), async () => db.drop()];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e) => log(`cleanup: ${e.message}`));
  };
  const hardStop = setTimeout(
    () => {
      log('cleanup takes too long: exiting');
      process.exit(2);
    },
    (LIMIT_S + 600) * 1000,
  );
  hardStop.unref();
  try {
    return await run(db, ns, cleanups, pure, hop);
  } finally {
    await cleanup();
  }
}

async function run(db, ns, cleanups, pure, hop) {
  // The scheduler, its own process.
  const port = await freePort();
  const logDir = join(ROOT, '.gantry', 'bench-logs', `fleet-${ns.namespace}`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(logDir, { recursive: true });
  const sched = startService(
    {
      name: 'scheduler',
      port,
      env: {
        NATS_URL: ns.natsUrl,
        GANTRY_NAMESPACE: ns.namespace,
        DATABASE_URL: db.url,
        HTTP_PORT: port,
        LOG_LEVEL: 'warn',
        NODE_NOT_READY_AFTER_MS: 3 * HEARTBEAT_MS,
        NODE_LOST_AFTER_MS: 12 * HEARTBEAT_MS,
      },
    },
    logDir,
  );
  cleanups.push(() => stopService(sched));
  await waitReady(sched);
  const pid = sched.proc.pid;
  const memIdle = memory(pid);
  log(`scheduler ready (pid ${pid}, RSS ${memIdle.rssMiB.toFixed(0)} MiB); log ${sched.logFile}`);

  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  cleanups.push(() => sql.end());
  const one = async (text, params) => (await sql.query(text, params)).rows[0];

  // The fleet: N real agents with fake drivers, one NATS connection.
  const bus = await MessageBus.connect({
    service: 'bench-fleet',
    natsUrl: ns.natsUrl,
    namespace: ns.namespace,
  });
  cleanups.push(() => bus.close());
  // What the measurement records: each assignment list as its own agent receives it (the agent's
  // KV watch, through the plane below), and every app status.
  const published = new Map(); // appId → publish time (ms, performance.now)
  const wanted = new Map(); // appId → replicas
  const seenReplica = new Set();
  const placedLat = []; // ms per placed replica
  const placedAt = [];
  const placedCount = new Map(); // appId → replicas seen
  const refused = new Map(); // appId → replicas refused
  const refusedLat = []; // ms per refused replica (publish → its status says so)
  let firstRefusal; // {appId, at (scheduler clock), message}
  const decided = (appId) => (placedCount.get(appId) ?? 0) + (refused.get(appId) ?? 0) >= wanted.get(appId);
  const relayLag = []; // ms from the decision (the list's updatedAt) to its node seeing it, per placed replica
  const sawList = (value) => {
    const now = performance.now();
    const lag = value ? Date.now() - Date.parse(value.updatedAt) : NaN;
    for (const r of value?.replicas ?? []) {
      if (seenReplica.has(r.replicaId)) continue;
      seenReplica.add(r.replicaId);
      const t = published.get(r.appId);
      if (t === undefined) continue;
      placedLat.push(now - t);
      relayLag.push(lag);
      placedAt.push(now);
      placedCount.set(r.appId, (placedCount.get(r.appId) ?? 0) + 1);
    }
  };
  /** The NATS control plane, telling the measurement what each agent's own watch delivers. */
  class MeasuredPlane extends NatsControlPlane {
    watchAssignments(nodeId, onChange, onInvalid) {
      return super.watchAssignments(
        nodeId,
        (value) => {
          sawList(value);
          onChange(value);
        },
        onInvalid,
      );
    }
  }
  const plane = new MeasuredPlane(bus);
  const agents = [];
  cleanups.push(async () => {
    for (let i = 0; i < agents.length; i += 100)
      await Promise.all(agents.slice(i, i + 100).map((a) => a.stop()));
  });
  const tFleet = Date.now();
  for (let i = 0; i < NODES; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, NODES - i) }, async (_, k) => {
        const n = i + k;
        const driver = new FakeDriver({ cpus: NODE_CPUS, memory: NODE_MEMORY, version: 'fake 1' });
        driver.addImage(IMAGE);
        const agent = new NodeAgent({
          config: NodeAgentConfigSchema.parse({
            GANTRY_NAMESPACE: ns.namespace,
            NODE_ID: `sim-${String(n).padStart(4, '0')}`,
            NODE_ADDRESS: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
            NODE_CPUS: String(NODE_CPUS),
            NODE_MEMORY: String(NODE_MEMORY),
            SIMULATED_GPUS: `${GPUS}:h100`,
            HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
            RESYNC_INTERVAL_MS: '30000',
            STATE_DIR: '/nonexistent',
          }),
          plane,
          driver,
          prober: driver.prober(),
          checkpoint: Checkpoint.inMemory(),
        });
        await agent.start();
        agents.push(agent);
      }),
    );
  }
  log(`${agents.length} agents started in ${((Date.now() - tFleet) / 1000).toFixed(1)} s`);
  const registered = async () => Number((await one('SELECT count(*)::int AS n FROM scheduler.nodes')).n);
  while ((await registered()) < NODES) {
    if (Date.now() > deadline) throw new Error(`only ${await registered()} of ${NODES} nodes registered`);
    await sleep(500);
  }
  await sleep(Math.min(10_000, 2000 + NODES * 5)); // let the registration resyncs drain
  const memFleet = memory(pid);
  /** Cores busy over 3 s of nothing to decide: the machine, the scheduler, the agents, NATS, PostgreSQL. */
  const idleCores = async () => {
    const at = () => ({
      machine: machineCpu().busy,
      sched: processCpu(pid),
      bench: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage()),
      nats: commCpu('nats-server'),
      pg: commCpu('postgres'),
    });
    const a = at();
    await sleep(3000);
    const b = at();
    return Object.fromEntries(Object.keys(a).map((k) => [k, (b[k] - a[k]) / 3]));
  };
  // What the registered fleet costs with nothing to decide (heartbeats, health checks), for scale.
  const idle = await idleCores();
  log(`${NODES} nodes registered; scheduler RSS ${memFleet.rssMiB.toFixed(0)} MiB`);

  // What the measurement watches: every app status (assignment lists: as each agent gets its own).
  const statusSub = bus.nc.subscribe(wireSubject(ns.namespace, 'app.status.v2'));
  cleanups.push(async () => statusSub.unsubscribe());
  let statuses = 0;
  void (async () => {
    for await (const m of statusSub)
      for (const s of m.json().statuses) {
        if (!wanted.has(s.appId)) continue; // a warm-up app
        statuses++;
        const waiting = /(\d+) waiting for capacity/.exec(s.info.message);
        const n =
          s.state === 'QUEUED' && s.info.message.startsWith('waiting for capacity')
            ? wanted.get(s.appId)
            : waiting
              ? Number(waiting[1])
              : 0;
        if (!n || refused.has(s.appId)) continue;
        refused.set(s.appId, n);
        const due = published.get(s.appId);
        if (due !== undefined) for (let i = 0; i < n; i++) refusedLat.push(performance.now() - due);
        if (!firstRefusal) {
          firstRefusal = { appId: s.appId, at: s.at, message: s.info.message, seenAt: performance.now() };
          log(`first refusal: ${s.appId}: ${s.info.message}`);
        }
      }
  })();

  // Warm-up, as a scheduler that has been running is: WARMUP replicas (another stream of the same
  // mix) placed until READY, then deleted until the fleet is empty again; nothing of it is measured.
  if (WARMUP > 0) {
    const tWarm = Date.now();
    const warm = apps('warm', WARMUP, SEED + 1);
    const count = async (where) =>
      Number((await one(`SELECT count(*)::int AS n FROM scheduler.replicas WHERE ${where}`)).n);
    const settled = (what, done) =>
      until(`warm-up: ${what}`, async () => (await done()) || undefined, {
        limitMs: Math.max(1000, deadline - Date.now()),
        pollMs: 200,
      });
    for (let i = 0; i < warm.length; i += 200)
      await Promise.all(warm.slice(i, i + 200).map((a) => bus.publish('app.desired.v1', desired(a))));
    await settled(`${WARMUP} replicas READY`, async () => (await count(`phase = 'READY'`)) >= WARMUP);
    for (let i = 0; i < warm.length; i += 200)
      await Promise.all(
        warm.slice(i, i + 200).map((a) => bus.publish('app.desired.v1', desired(a, 2, 'DELETED'))),
      );
    await settled('an empty fleet', async () => (await count('true')) === 0);
    await settled('agents running nothing', async () => agents.every((a) => a.phases().length === 0));
    log(
      `warm-up: ${WARMUP} replicas placed, READY and deleted in ${((Date.now() - tWarm) / 1000).toFixed(1)} s`,
    );
  }

  const tableStats = async () =>
    Object.fromEntries(
      (
        await sql.query(
          `SELECT relname, seq_scan, seq_tup_read, n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE schemaname = 'scheduler'`,
        )
      ).rows.map((r) => [r.relname, r]),
    );
  const stats0 = await tableStats();

  // The requests: WINDOW apps in flight, the next one published as soon as one is decided; or, at
  // RATE, each app due at its place in a fixed schedule (its latency counted from when it was due,
  // so a publisher that falls behind does not hide the wait).
  const stream = apps();
  const metrics0 = await schedulerHistograms(sched.url);
  const cpu0 = processCpu(pid);
  const threads0 = threadCpu(pid);
  const nats0 = commCpu('nats-server');
  const postgres0 = commCpu('postgres');
  const published0 = await publishedMessages(bus.nc, ns.namespace);
  const benchCpu1 = process.cpuUsage();
  const machine0 = machineCpu();
  const t0 = performance.now();
  let sent = 0;
  let sentReplicas = 0;
  let timedOut = false;
  let lastReport = Date.now();
  const inFlight = new Set();
  const publish = (a, due = performance.now()) => {
    wanted.set(a.appId, a.replicas);
    published.set(a.appId, due);
    inFlight.add(a.appId);
    sent += 1;
    sentReplicas += a.replicas;
    return bus.publish('app.desired.v1', desired(a));
  };
  let next = 0;
  let scheduled = 0; // open loop: replicas of the apps already due
  while (next < stream.length || inFlight.size > 0) {
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    for (const id of inFlight) if (decided(id)) inFlight.delete(id);
    const batch = [];
    if (RATE) {
      const now = performance.now();
      while (next < stream.length && t0 + (scheduled / RATE) * 1000 <= now) {
        const a = stream[next++];
        void publish(a, t0 + (scheduled / RATE) * 1000).catch((e) => log(`publish ${a.appId}: ${e.message}`));
        scheduled += a.replicas;
      }
      await sleep(1);
    } else {
      while (next < stream.length && inFlight.size + batch.length < WINDOW) batch.push(stream[next++]);
      await Promise.all(batch.map((a) => publish(a)));
      if (batch.length === 0) await sleep(1);
    }
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      const secs = (performance.now() - t0) / 1000;
      log(
        `${sentReplicas} replicas requested, ${placedLat.length} placed, ${[...refused.values()].reduce((a, b) => a + b, 0)} refused; ` +
          `${(placedLat.length / secs).toFixed(0)} placements/s, p99 so far ${pct(placedLat, 99).toFixed(0)} ms; scheduler RSS ${memory(pid).rssMiB.toFixed(0)} MiB`,
      );
    }
  }
  const tEnd = performance.now();
  const seconds = (tEnd - t0) / 1000;
  const schedCpu = processCpu(pid) - cpu0;
  const threads1 = threadCpu(pid);
  const natsCpu = commCpu('nats-server') - nats0;
  const postgresCpu = commCpu('postgres') - postgres0;
  const machine1 = machineCpu();
  const machineBusy = machine1.busy - machine0.busy;
  const switches = machine1.ctxt - machine0.ctxt;
  const benchCpu = process.cpuUsage(benchCpu1);
  const memEnd = memory(pid);
  await sleep(3000); // READY reports and their reconciles
  // The same fleet, now running what was placed, with nothing more to decide.
  const afterIdle = await idleCores();
  const refusedReplicas = [...refused.values()].reduce((a, b) => a + b, 0);
  const published1 = await publishedMessages(bus.nc, ns.namespace);

  // From the scheduler's database: what it holds, and what it had allocated at the first refusal.
  const held = await one(
    `SELECT count(*)::int AS n, coalesce(sum(jsonb_array_length(gpus)), 0)::int AS gpus,
            count(*) FILTER (WHERE phase = 'READY')::int AS ready FROM scheduler.replicas`,
  );
  const dup = await one(
    `SELECT count(*)::int AS n FROM (SELECT g->>'uuid' AS u, r.node_id FROM scheduler.replicas r,
       jsonb_array_elements(r.gpus) g GROUP BY 1, 2 HAVING count(*) > 1) d`,
  );
  let utilAtFirstRefusal = held.gpus / TOTAL_GPUS;
  if (firstRefusal) {
    const before = await one(
      `SELECT coalesce(sum(jsonb_array_length(gpus)), 0)::int AS gpus FROM scheduler.replicas WHERE created_at <= $1`,
      [firstRefusal.at],
    );
    utilAtFirstRefusal = before.gpus / TOTAL_GPUS;
  }
  const stats1 = await tableStats();
  const delta = (t, k) => Number(stats1[t]?.[k] ?? 0) - Number(stats0[t]?.[k] ?? 0);
  const agentsReady = agents.reduce((n, a) => n + a.phases().filter((p) => p.phase === 'READY').length, 0);
  const metrics1 = await schedulerHistograms(sched.url);
  const decision = histogramDelta(
    metrics0.gantry_scheduler_decision_seconds,
    metrics1.gantry_scheduler_decision_seconds,
  );
  const passes = histogramDelta(
    metrics0.gantry_scheduler_pass_seconds,
    metrics1.gantry_scheduler_pass_seconds,
  );
  const passApps = histogramDelta(metrics0.gantry_scheduler_pass_apps, metrics1.gantry_scheduler_pass_apps);

  // Placements per second while placing is what happens: until the first refusal is seen (the
  // fleet is then about full, and what follows is mostly refusals), or the whole run without one.
  const fillEnd = firstRefusal?.seenAt ?? tEnd;
  const real = {
    placementsPerSecond: placedAt.filter((t) => t <= fillEnd).length / ((fillEnd - t0) / 1000),
    decisionsPerSecond: (placedLat.length + refusedReplicas) / seconds,
    p50: pct(placedLat, 50),
    p99: pct(placedLat, 99),
    refusalP50: pct(refusedLat, 50),
    refusalP99: pct(refusedLat, 99),
    utilAtFirstRefusal,
    placed: placedLat.length,
    decided: placedLat.length + refusedReplicas,
    memMiB: memEnd.rssMiB,
  };

  // The table.
  const percent = (x) => `${(x * 100).toFixed(2)} %`;
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  console.log('');
  console.log(
    `fleet placement: ${NODES} nodes × ${GPUS} H100 (${TOTAL_GPUS} GPUs), ${sentReplicas} of ${REQUESTS} replica requests sent (${sent} apps, h100-1-gpu; per app 1/2/4 GPUs × 1 replica or 4 GPUs × 2 replicas: 50/25/15/10 %), ${LOAD}`,
  );
  console.log(
    `fidelity: full NodeAgent code + FakeDriver per node, NATS control plane, heartbeats every ${HEARTBEAT_MS} ms; scheduler process on NATS + PostgreSQL${timedOut ? `; STOPPED AT THE ${LIMIT_S} s LIMIT` : ''}`,
  );
  console.log(
    `${'metric'.padEnd(36)}${'real path'.padEnd(18)}${'pure decision'.padEnd(18)}${'ratio'.padEnd(10)}target`,
  );
  const row = (label, a, b, show, target = '') =>
    console.log(
      `${label.padEnd(36)}${show(a).padEnd(18)}${show(b).padEnd(18)}${(Number.isFinite(a / b) ? `${(a / b).toFixed(a / b < 10 ? 3 : 0)}×` : 'n/a').padEnd(10)}${target}`,
    );
  const met = (ok) => (ok ? 'met' : 'MISSED');
  row(
    'placements/s until the first refusal',
    real.placementsPerSecond,
    pure.placementsPerSecond,
    (x) => f(x, 0),
    `≥ 2000: ${met(real.placementsPerSecond >= 2000)}`,
  );
  row('decisions per second (incl. refusals)', real.decisionsPerSecond, pure.decisionsPerSecond, (x) =>
    f(x, 0),
  );
  row('placement latency p50 (ms)', real.p50, pure.p50, (x) => f(x));
  row('placement latency p99 (ms)', real.p99, pure.p99, (x) => f(x), `< 50 ms: ${met(real.p99 < 50)}`);
  console.log(
    `${'refusal latency p50 / p99 (ms)'.padEnd(36)}${`${f(real.refusalP50)} / ${f(real.refusalP99)}`.padEnd(18)}(publish → status "waiting for capacity")`,
  );
  row(
    'GPU utilisation at first refusal',
    real.utilAtFirstRefusal,
    pure.utilAtFirstRefusal,
    percent,
    `≥ 98 %: ${met(real.utilAtFirstRefusal >= 0.98)}${firstRefusal ? '' : ' (no refusal yet: utilisation reached)'}`,
  );
  row('replicas placed', real.placed, pure.placed, String);
  row('replicas decided', real.decided, pure.decided, String);
  console.log(
    `${'scheduler memory (MiB)'.padEnd(36)}RSS idle ${f(memIdle.rssMiB, 0)}, with ${NODES} nodes ${f(memFleet.rssMiB, 0)}, after ${f(memEnd.rssMiB, 0)} (peak ${f(memEnd.hwmMiB, 0)}); pure decision: heap ${global.gc ? `+${f(pure.memMiB, 1)}` : 'n/a (run with --expose-gc)'}`,
  );
  console.log(
    `wall ${f(seconds, 1)} s; scheduler CPU ${f(schedCpu, 1)} s (${f((schedCpu / seconds) * 100, 0)} % of a core); this process (agents + status subscription) CPU ${f((benchCpu.user + benchCpu.system) / 1e6, 1)} s; ${statuses} status events`,
  );
  console.log(
    `idle fleet (registered, nothing to decide, 3 s before measuring): ${f(idle.machine, 2)} of ${machine0.cores} cores busy (scheduler ${f(idle.sched, 2)}, agents ${f(idle.bench, 2)}, NATS ${f(idle.nats, 2)}, PostgreSQL ${f(idle.pg, 2)})`,
  );
  console.log(
    `idle fleet running the placed replicas (3 s after measuring): ${f(afterIdle.machine, 2)} cores busy (scheduler ${f(afterIdle.sched, 2)}, agents ${f(afterIdle.bench, 2)}, NATS ${f(afterIdle.nats, 2)}, PostgreSQL ${f(afterIdle.pg, 2)})`,
  );
  console.log(
    `machine while measuring: ${f(machineBusy, 1)} CPU seconds = ${f(machineBusy / seconds, 2)} of its ${machine0.cores} cores busy ` +
      `(scheduler ${f(schedCpu, 1)} s, agents ${f((benchCpu.user + benchCpu.system) / 1e6, 1)} s, NATS ${f(natsCpu, 1)} s, PostgreSQL ${f(postgresCpu, 1)} s, the rest ${f(machineBusy - schedCpu - natsCpu - postgresCpu - (benchCpu.user + benchCpu.system) / 1e6, 1)} s): ` +
      `${f((machineBusy / Math.max(1, real.decided)) * 1000, 2)} ms of CPU per decision`,
  );
  console.log(
    `context switches while measuring: ${switches} = ${f(switches / Math.max(1, real.decided), 1)} per decision, ${f(switches / seconds, 0)}/s; ` +
      `at ${f(hop.cpuUs, 1)} µs of CPU per bare round trip (${f(hop.switches, 1)} switches), ${f(hop.cpuUs / hop.switches, 1)} µs per switch ≈ ` +
      `${f(((switches * hop.cpuUs) / hop.switches / 1e6 / Math.max(1e-9, machineBusy)) * 100, 0)} % of the CPU used while measuring`,
  );
  console.log(
    `scheduler threads (CPU s; the outbox relay worker, GC and libuv threads are not named): ${Object.entries(
      threads1,
    )
      .map(([k, v]) => [k, v - (threads0[k] ?? 0)])
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${f(v, 1)}`)
      .join(', ')}`,
  );
  // What limits the real path, from the CPU figures above: the scheduler's deciding thread, and the
  // rest of this machine (simulated fleet, NATS, PostgreSQL, the scheduler's relay and GC threads).
  const mainCpu = (threads1.main ?? 0) - (threads0.main ?? 0);
  const perDecision = (cpu) => (cpu / Math.max(1, real.decided)) * 1000;
  console.log(
    `what bounds it: the scheduler's main thread used ${f(perDecision(mainCpu), 3)} ms of CPU per decision ` +
      `(≈ ${f(1000 / perDecision(mainCpu), 0)} decisions/s if it had a core to itself); everything else on this machine used ` +
      `${f(perDecision(machineBusy - mainCpu), 3)} ms per decision, so ${machine0.cores} cores allow at most ` +
      `≈ ${f((machine0.cores * 1000) / perDecision(machineBusy - mainCpu), 0)} decisions/s here even if deciding cost nothing`,
  );
  console.log(
    `scheduler database: ${held.n} replicas, ${held.gpus} GPUs bound (${percent(held.gpus / TOTAL_GPUS)}), ${held.ready} READY; agents run ${agentsReady} READY replicas; GPUs bound twice: ${dup.n}`,
  );
  if (firstRefusal) console.log(`first refusal: ${firstRefusal.appId}: ${firstRefusal.message}`);
  const sentMessages = Object.entries(published1)
    .map(([k, n]) => [k, n - (published0[k] ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const totalMessages = sentMessages.reduce((a, [, n]) => a + n, 0);
  console.log(
    `messages stored in JetStream while measuring: ${totalMessages} (${f(totalMessages / Math.max(1, real.placed), 1)} per placed replica; ` +
      `nats-server CPU ${f((natsCpu * 1e6) / Math.max(1, totalMessages), 0)} µs per message stored, with its deliveries and acks): ` +
      sentMessages.map(([k, n]) => `${k} ${n}`).join(', '),
  );
  console.log(
    `scheduler's own view (gantry_scheduler_decision_seconds: desired state stored in JetStream → decision committed): ` +
      `${decision.count} decisions, p50 ${f(histogramPct(decision, 50) * 1000, 1)} ms, p99 ${f(histogramPct(decision, 99) * 1000, 1)} ms ` +
      `(p99 < 50 ms: ${met(histogramPct(decision, 99) < 0.05)}); ${passes.count} passes, mean ${f((passes.sum / passes.count) * 1000, 1)} ms (p99 ${f(histogramPct(passes, 99) * 1000, 1)} ms) and ${f(passApps.sum / passApps.count, 1)} apps each`,
  );
  console.log(
    `latency above (publish → the replica in its node's assignments KV entry) adds the outbox relay and the KV watch to that: ` +
      `decided (the list's updatedAt) → received by its node p50 ${f(pct(relayLag, 50), 1)} ms, p99 ${f(pct(relayLag, 99), 1)} ms; ` +
      `${delta('apps', 'n_tup_upd')} app rows and ${delta('replicas', 'n_tup_ins')} replica rows written`,
  );
}

await main();
process.exit(0);
