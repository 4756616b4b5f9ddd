#!/usr/bin/env node
// Autoscaling benchmark (issue 16). Real platform (every service its own process, real NATS,
// PostgreSQL and Docker), the busybox web image (its /cgi-bin/burn keeps a CPU busy). In one run:
//   load step   an automatic app (min 1, max 3, CPU 50 %, up window 0 s, down window DOWN s) under two
//               callers of /cgi-bin/burn: time from the load's start to a second replica serving, against
//               the target (up window + 10 s); then, the load stopped, the time back to one replica
//               against the down window, and the direction changes of the replica count.
//   wake        an app with min 0 scaled to zero; a request through the ingress is held while a replica
//               starts: time to its answer, interleaved with `docker run` of the same image to its first
//               HTTP 200 (the target: at most 1.5× that).
//   rollout     a fixed app of 3 replicas rolled to a new image under a steady request loop: failed
//               requests (the target: 0).
//   npm run build && node bench/autoscale.mjs [wakeTrials=5]
import { execFileSync } from 'node:child_process';

import { log } from '../scripts/host.mjs';
import { benchPlatform, hostGet, pct, sleep, until } from './lib.mjs';

const WAKE_TRIALS = Number(process.argv[2] ?? 5);
const DOWN_WINDOW_S = 20;
const ms = (x) => `${x.toFixed(0).padStart(6)} ms`;

function client(api, token) {
  const auth = { authorization: `Bearer ${token}` };
  const call = async (method, path, body) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    create: (body) => call('POST', '/v1/app', body),
    get: (id) => call('GET', `/v1/app/${id}`),
    events: async (id) => (await call('GET', `/v1/app/${id}/event`)).events,
    put: (path, body) => call('PUT', path, body),
    remove: (id) => call('DELETE', `/v1/app/${id}?force=true`).catch(() => undefined),
  };
}

async function dockerRunTrial(image) {
  const t0 = performance.now();
  const id = execFileSync('docker', ['run', '-d', '--user', '42420:42420', '-p', '127.0.0.1::8080', image])
    .toString()
    .trim();
  const port = execFileSync('docker', ['port', id, '8080/tcp']).toString().trim().split(':').pop();
  await until('docker run to answer', async () => (await fetch(`http://127.0.0.1:${port}/`)).status === 200, {
    pollMs: 10,
  });
  const answered = performance.now() - t0;
  execFileSync('docker', ['rm', '-f', id]);
  return answered;
}

const replicasOf = async (c, id) => {
  const app = await c.get(id);
  return app.status.state === 'RUNNING' || app.status.state === 'SCALING' ? app.status.availableReplicas : -1;
};

async function loadStep(c, ingress, image) {
  const app = await c.create({
    image,
    resources: { cpu: 1 },
    unsecureHttp: true,
    scalingStrategy: {
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        resourceType: 'CPU',
        averageUsageTarget: 50,
        scaleUpStabilizationWindowSeconds: 0,
        scaleDownStabilizationWindowSeconds: DOWN_WINDOW_S,
      },
    },
  });
  const host = `${app.id}.app.localhost`;
  try {
    await until('RUNNING', async () => (await c.get(app.id)).status.state === 'RUNNING');
    await until('served', async () => (await hostGet(`${ingress}/`, host)).status === 200);
    let loading = true;
    const t0 = performance.now();
    const loaders = [0, 1].map(async () => {
      while (loading && performance.now() - t0 < 120_000)
        await hostGet(`${ingress}/cgi-bin/burn?400000`, host, 30_000).catch(() => undefined);
    });
    await until('a second replica serving', async () => (await replicasOf(c, app.id)) >= 2, {
      limitMs: 120_000,
      pollMs: 100,
    });
    const up = performance.now() - t0;
    loading = false;
    await Promise.all(loaders);
    const stopped = performance.now();
    await until('back to one replica', async () => (await replicasOf(c, app.id)) === 1, {
      limitMs: 180_000,
      pollMs: 200,
    });
    const down = performance.now() - stopped;
    const decisions = (await c.events(app.id)).filter((e) => e.type === 'AUTOSCALED');
    const counts = decisions.map((e) => Number(/→ (\d+)/.exec(e.message)?.[1]));
    let reversals = 0;
    for (let i = 2; i < counts.length; i++)
      if (Math.sign(counts[i] - counts[i - 1]) * Math.sign(counts[i - 1] - counts[i - 2]) < 0) reversals++;
    return { up, down, decisions: decisions.map((e) => e.message), reversals };
  } finally {
    await c.remove(app.id);
  }
}

async function wake(c, ingress, image) {
  const app = await c.create({
    image,
    resources: { cpu: 1 },
    unsecureHttp: true,
    scalingStrategy: {
      automatic: {
        replicasMin: 0,
        replicasMax: 1,
        scaleDownStabilizationWindowSeconds: 0,
        cooldownPeriodSeconds: 2,
      },
    },
  });
  const host = `${app.id}.app.localhost`;
  const base = [];
  const woken = [];
  try {
    await until('RUNNING', async () => (await c.get(app.id)).status.state === 'RUNNING');
    await dockerRunTrial(image); // warm-up
    for (let i = 0; i < WAKE_TRIALS; i++) {
      await until('scaled to zero', async () => (await replicasOf(c, app.id)) === 0, {
        limitMs: 120_000,
        pollMs: 100,
      });
      await sleep(500);
      const t0 = performance.now();
      const reply = await hostGet(`${ingress}/`, host, 60_000);
      if (reply.status !== 200) throw new Error(`woken app answered ${reply.status}: ${reply.body}`);
      woken.push(performance.now() - t0);
      base.push(await dockerRunTrial(image));
      log(
        `wake ${i + 1}/${WAKE_TRIALS}: held request answered in ${ms(woken.at(-1))}, docker run ${ms(base.at(-1))}`,
      );
    }
  } finally {
    await c.remove(app.id);
  }
  return { base, woken };
}

async function rollout(c, ingress, image) {
  const next = `${image.replace(/:1$/, '')}:2`;
  execFileSync('docker', ['tag', image, next]);
  const app = await c.create({
    image,
    resources: { cpu: 1 },
    unsecureHttp: true,
    scalingStrategy: { fixed: { replicas: 3 } },
  });
  const host = `${app.id}.app.localhost`;
  let ok = 0;
  const failures = [];
  try {
    await until(
      '3 ready',
      async () => (await replicasOf(c, app.id)) === 3 && (await c.get(app.id)).status.state === 'RUNNING',
    );
    let loading = true;
    const loop = [0, 1, 2, 3].map(async () => {
      while (loading) {
        try {
          const r = await hostGet(`${ingress}/`, host, 10_000);
          if (r.status === 200) ok++;
          else failures.push(`${r.status} ${r.body.toString().slice(0, 120)}`);
        } catch (error) {
          failures.push(String(error.message ?? error));
        }
      }
    });
    await sleep(1000);
    const t0 = performance.now();
    await c.put(`/v1/app/${app.id}/image`, { url: next });
    await until(
      'rolled to the new image',
      async () => {
        const a = await c.get(app.id);
        return a.status.state === 'RUNNING' &&
          a.status.availableReplicas === 3 &&
          !/rolling update/.test(a.status.info.message)
          ? (await c.events(app.id)).some((e) => /replaced: image changed/.test(e.message))
          : false;
      },
      { limitMs: 180_000, pollMs: 200 },
    );
    const took = performance.now() - t0;
    await sleep(1000);
    loading = false;
    await Promise.all(loop);
    return { ok, failures, took };
  } finally {
    await c.remove(app.id);
    execFileSync('docker', ['rmi', next]);
  }
}

async function main() {
  const bench = await benchPlatform('autoscale', async (_ports, id) => [{ id: `bench-${id}`, cpus: 8 }]);
  const { api, ingress, image, token } = bench;
  const c = client(api, token);
  let step;
  let w;
  let roll;
  try {
    step = await loadStep(c, ingress, image);
    log(`load step: decisions: ${step.decisions.join(' | ')}`);
    w = await wake(c, ingress, image);
    roll = await rollout(c, ingress, image);
  } finally {
    await bench.cleanup();
  }
  console.log('\nautoscaling, one run (2 cores; figures side by side)');
  console.log(
    `load step → second replica serving   ${ms(step.up)}   target ≤ up window 0 s + 10 s: ${step.up <= 10_000 ? 'met' : 'MISSED'}`,
  );
  console.log(
    `load stopped → back to one replica   ${ms(step.down)}   down window ${DOWN_WINDOW_S} s (ratio ${(step.down / (DOWN_WINDOW_S * 1000)).toFixed(2)}); reversals ${step.reversals} (target ≤ 1 per window)`,
  );
  const b50 = pct(w.base, 50);
  const w50 = pct(w.woken, 50);
  console.log(`wake from zero, ${WAKE_TRIALS} trials                 p50        max`);
  console.log(`docker run + first answer            ${ms(b50)} ${ms(Math.max(...w.base))}   1.00`);
  console.log(
    `held request answered (from zero)    ${ms(w50)} ${ms(Math.max(...w.woken))}   ${(w50 / b50).toFixed(2)}   target ≤ 1.50: ${w50 / b50 <= 1.5 ? 'met' : 'MISSED'}`,
  );
  console.log(
    `rolling update of 3 replicas under load: ${roll.ok} requests answered 200, ${roll.failures.length} failed (target 0), rollout ${ms(roll.took)}`,
  );
  for (const f of roll.failures.slice(0, 5)) console.log(`  failed: ${f}`);
}

await main();
process.exit(0);
