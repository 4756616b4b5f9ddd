#!/usr/bin/env node
// Failover benchmark (issue: the GPU fleet). Real platform, three node agents on this machine
// sharing the Docker Engine, product default timings (a node is LOST 10 s after its last heartbeat).
// An app with two replicas on two hosts is called in a loop through the ingress. Per trial: a host
// holding one of its replicas is lost (its agent killed with SIGKILL and its containers removed, as
// when a machine dies); measured from that host's last heartbeat seen on NATS:
//   - until a replica that did not exist before serves a request through the ingress;
//   - every request that failed meanwhile (the other replica keeps serving).
// The host then comes back (a fresh agent, same node id) and must end up running nothing.
//   npm run build && node bench/failover.mjs [trials=10]
import { connect } from '@nats-io/transport-node';

import { log } from '../scripts/host.mjs';
import { freePort } from '../scripts/platform.mjs';
import { benchPlatform, hostGet, pct, sleep, until } from './lib.mjs';

const TRIALS = Number(process.argv[2] ?? 10);
async function main() {
  let nodes = [];
  const bench = await benchPlatform('failover', async (ports, id) => {
    nodes = ['a', 'b', 'c'].map((x) => `fo-${id}-${x}`);
    const agents = [];
    for (const [i, n] of nodes.entries())
      agents.push({ id: n, cpus: 4, port: i === 0 ? ports.agent : await freePort() });
    return agents;
  });
  const { docker, image, ns, platform, ports, token } = bench;

  const lastBeat = new Map();
  const nc = await connect({ servers: ns.natsUrl });
  const sub = nc.subscribe(`${ns.namespace}.node.heartbeat.v1`);
  (async () => {
    for await (const m of sub) {
      try {
        lastBeat.set(m.json().nodeId, performance.now());
      } catch {
        // not ours to judge
      }
    }
  })();

  const { api } = bench;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await until('three READY nodes', async () => {
    const r = await (await fetch(`${api}/v1/node`, { headers: auth })).json();
    return r.items.filter((n) => n.state === 'READY').length === nodes.length;
  });
  const res = await fetch(`${api}/v1/app`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      image,
      resources: { cpu: 1 },
      unsecureHttp: true,
      defaultHttpPort: 8080,
      scalingStrategy: { fixed: { replicas: 2 } },
    }),
  });
  const app = await res.json();
  if (res.status !== 200) throw new Error(`create: ${res.status} ${JSON.stringify(app)}`);
  const appState = async () =>
    (await (await fetch(`${api}/v1/app/${app.id}`, { headers: auth })).json()).status;
  await until('2 replicas available', async () => (await appState()).availableReplicas === 2);

  // The load loop: one request at a time through the ingress, recording failures and who served.
  const seen = new Map(); // replica id → first time it served
  let failures = 0;
  let requests = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      requests++;
      try {
        const r = await hostGet(`http://127.0.0.1:${ports.ingress}/`, `${app.id}.app.localhost`);
        if (r.status !== 200) failures++;
        const replica = r.headers['x-gantry-replica'];
        if (replica && !seen.has(replica)) seen.set(replica, performance.now());
      } catch {
        failures++;
      }
      await sleep(20);
    }
  })();

  const containersOn = async (node) =>
    docker.listContainers({
      all: true,
      filters: { label: [`gantry.namespace=${ns.namespace}`, `gantry.node=${node}`] },
    });
  const results = [];
  try {
    for (let t = 0; t < TRIALS; t++) {
      await until('2 replicas available', async () => (await appState()).availableReplicas === 2);
      await sleep(1500);
      const holding = [];
      for (const n of nodes) if ((await containersOn(n)).length > 0) holding.push(n);
      if (holding.length !== 2) throw new Error(`the two replicas are on ${holding.length} host(s), not 2`);
      const victim = holding[t % 2];
      const before = new Set(seen.keys());
      const failuresBefore = failures;
      const agent = platform.services.find((s) => s.label === `node-agent:${victim}`);
      agent.proc.kill('SIGKILL');
      for (const c of await containersOn(victim)) await docker.getContainer(c.Id).remove({ force: true });
      const beat = lastBeat.get(victim);
      const served = await until('a new replica serving', async () => {
        for (const [r, at] of seen) if (!before.has(r)) return at;
        return undefined;
      });
      const ms = served - beat;
      // The host comes back; once it has heartbeated and resynced, it runs nothing.
      await platform.restart(`node-agent:${victim}`);
      await until('2 replicas available again', async () => (await appState()).availableReplicas === 2);
      await sleep(2000);
      const leftovers = (await containersOn(victim)).length;
      results.push({ ms, failed: failures - failuresBefore, leftovers });
      log(
        `trial ${t + 1}/${TRIALS}: ${victim} lost; a new replica served ${(ms / 1000).toFixed(2)} s after its last heartbeat; ` +
          `${failures - failuresBefore} failed requests; returning host runs ${leftovers} containers`,
      );
    }
  } finally {
    running = false;
    await loop;
    await nc.close();
    await bench.cleanup();
  }
  const secs = results.map((r) => r.ms / 1000);
  console.log(
    `\nfailover: last heartbeat of a lost host → a replacement replica serving, ${results.length} trials`,
  );
  console.log(
    `  p50 ${pct(secs, 50).toFixed(2)} s   p95 ${pct(secs, 95).toFixed(2)} s   max ${Math.max(...secs).toFixed(2)} s   (target: p95 ≤ 15 s)`,
  );
  console.log(`  of which the lost-node grace period (NODE_LOST_AFTER_MS): 10.00 s`);
  console.log(
    `  requests ${requests}, failed ${failures} (target: 0) — the app kept a replica on another host`,
  );
  console.log(
    `  containers left on returning hosts: ${results.reduce((a, r) => a + r.leftovers, 0)} (target: 0)`,
  );
}

await main();
process.exit(0);
