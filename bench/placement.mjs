#!/usr/bin/env node
// Placement benchmark (issue: the GPU fleet). Simulated cluster, no Docker, no I/O: the scheduler's
// own decision code (apps/scheduler/dist/model/placement.js) placing a stream of mixed-size GPU
// replicas, side by side with a first-fit baseline on the same stream.
// Two workloads: "fill" (arrivals only) and "churn" (before each request, a random running replica
// leaves with probability 0.3 — what fragments a real fleet).
//   npm run build && node bench/placement.mjs [nodes=1000] [gpusPerNode=8] [requests=10000] [seed=42]
import { freeCapacity, placeReplica, release, reserve } from '../apps/scheduler/dist/model/placement.js';
import { rng } from './lib.mjs';

const [NODES = 1000, GPUS = 8, REQUESTS = 10_000, SEED = 42] = process.argv.slice(2).map(Number);
const GiB = 1024 ** 3;

function cluster() {
  return Array.from({ length: NODES }, (_, n) => ({
    id: `node-${String(n).padStart(4, '0')}`,
    address: '10.0.0.1',
    health: 'READY',
    schedulable: true,
    simulatedGpus: true,
    capacity: {
      cpus: GPUS * 16,
      memory: GPUS * 128 * GiB,
      gpus: Array.from({ length: GPUS }, (_, i) => ({
        index: i,
        uuid: `GPU-${n}-${i}`,
        model: 'NVIDIA H100 80GB HBM3',
        memory: 81559,
      })),
    },
  }));
}

/** Mixed sizes: half 1-GPU, a quarter 2, 15 % 4, 10 % 8 GPUs per replica. */
function requests() {
  const r = rng(SEED);
  return Array.from({ length: REQUESTS }, (_, i) => {
    const x = r();
    const gpus = x < 0.5 ? 1 : x < 0.75 ? 2 : x < 0.9 ? 4 : 8;
    return { appId: `app-${i}`, type: 'gpu', cpu: gpus * 8, memory: gpus * 64 * GiB, gpus, gpuModel: 'H100' };
  });
}

/** Baseline: the first node (in id order) that fits, lowest GPUs first. */
function firstFit(req, free) {
  for (const f of free.values()) {
    if (f.cpus < req.cpu || f.memory < req.memory || f.gpus.length < req.gpus) continue;
    return {
      ok: true,
      nodeId: f.node.id,
      gpus: f.gpus.slice(0, req.gpus).map(({ index, uuid }) => ({ index, uuid })),
    };
  }
  return { ok: false, reason: 'no fit' };
}

function run(name, decide, churn) {
  const free = freeCapacity(cluster(), []);
  const running = [];
  const leave = rng(SEED + 1);
  const total = NODES * GPUS;
  const latencies = [];
  let placed = 0;
  let usedGpus = 0;
  let utilAtFirstRefusal;
  const seen = new Set();
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (const req of requests()) {
    if (churn && running.length && leave() < 0.3) {
      const [gone] = running.splice(Math.floor(leave() * running.length), 1);
      release(free, { ...gone.req, nodeId: gone.res.nodeId, gpus: gone.res.gpus });
      usedGpus -= gone.res.gpus.length;
      for (const g of gone.res.gpus) seen.delete(g.uuid);
    }
    const s = process.hrtime.bigint();
    const res = decide(req, free);
    if (res.ok) reserve(free, req, res);
    latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (res.ok) {
      running.push({ req, res });
      placed++;
      usedGpus += res.gpus.length;
      for (const g of res.gpus) {
        if (seen.has(g.uuid)) throw new Error(`${name}: GPU ${g.uuid} bound twice`);
        seen.add(g.uuid);
      }
    } else if (utilAtFirstRefusal === undefined) utilAtFirstRefusal = usedGpus / total;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    name,
    decisionsPerSecond: Math.round(REQUESTS / seconds),
    placed,
    p50ms: q(0.5),
    p99ms: q(0.99),
    maxMs: latencies.at(-1),
    utilAtFirstRefusal: utilAtFirstRefusal ?? usedGpus / total,
    finalUtil: usedGpus / total,
    heapMiB: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20,
  };
}

const pct = (x) => `${(x * 100).toFixed(2)} %`;
const fmt = (x, d = 3) => x.toFixed(d);
console.log(
  `placement: ${NODES} nodes × ${GPUS} GPUs, ${REQUESTS} replica requests (1/2/4/8 GPUs: 50/25/15/10 %), seed ${SEED}, node ${process.version}`,
);
for (const churn of [false, true]) {
  run('warm-up', placeReplica, churn);
  const gantry = run('gantry (spread + best-fit)', placeReplica, churn);
  const baseline = run('baseline first-fit', firstFit, churn);
  console.log('');
  console.log(
    `workload: ${churn ? 'churn (30 % chance a running replica leaves before each request)' : 'fill (arrivals only)'}`,
  );
  console.log(`${'metric'.padEnd(34)}${gantry.name.padEnd(30)}${baseline.name.padEnd(22)}ratio`);
  const row = (label, a, b, show, lower) =>
    console.log(
      `${label.padEnd(34)}${show(a).padEnd(30)}${show(b).padEnd(22)}${fmt(a / b, 2)}×${lower ? ' (lower is better)' : ''}`,
    );
  row('decisions per second', gantry.decisionsPerSecond, baseline.decisionsPerSecond, String);
  row('decision latency p50 (ms)', gantry.p50ms, baseline.p50ms, (x) => fmt(x), true);
  row('decision latency p99 (ms)', gantry.p99ms, baseline.p99ms, (x) => fmt(x), true);
  row('GPU utilisation at first refusal', gantry.utilAtFirstRefusal, baseline.utilAtFirstRefusal, pct);
  row('replicas placed', gantry.placed, baseline.placed, String);
  console.log(
    `${'heap growth while placing (MiB)'.padEnd(34)}${fmt(gantry.heapMiB, 1).padEnd(30)}${fmt(baseline.heapMiB, 1)}`,
  );
  console.log(
    `targets: ≥ 2000 placements/s ${gantry.decisionsPerSecond >= 2000 ? 'met' : 'MISSED'}; p99 < 50 ms ${gantry.p99ms < 50 ? 'met' : 'MISSED'}; ≥ 98 % GPUs allocated before the first refusal ${gantry.utilAtFirstRefusal >= 0.98 ? 'met' : 'MISSED'}`,
  );
}
