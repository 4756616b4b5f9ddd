#!/usr/bin/env node
// Create→RUNNING benchmark (issue: the walking skeleton). Real platform (every service its own
// process, real NATS, PostgreSQL and Docker), a local image built FROM scratch with busybox httpd.
// Per trial, side by side and interleaved so machine noise hits both alike:
//   baseline  `docker run -d --user 42420:42420 -p 127.0.0.1::8080 IMAGE` (the CLI, as a user would
//             type it) until the published port first answers HTTP 200;
//   gantry    POST /v1/app until GET /v1/app/{id} says RUNNING, and until the ingress first answers
//             200 for the app's host.
// Prints p50/max of each and the ratio gantry/baseline.
//   npm run build && node bench/create-to-running.mjs [trials=7]
import { execFileSync } from 'node:child_process';

import { log } from '../scripts/host.mjs';
import { benchPlatform, hostGet, pct, until } from './lib.mjs';

const TRIALS = Number(process.argv[2] ?? 7);

const ok = async (url) => (await fetch(url)).status === 200;
const served = async (ingress, host) => (await hostGet(`${ingress}/`, host)).status === 200;

async function dockerRunTrial(image) {
  const t0 = performance.now();
  const id = execFileSync('docker', ['run', '-d', '--user', '42420:42420', '-p', '127.0.0.1::8080', image])
    .toString()
    .trim();
  const port = execFileSync('docker', ['port', id, '8080/tcp']).toString().trim().split(':').pop();
  await until('docker run to answer', () => ok(`http://127.0.0.1:${port}/`), { pollMs: 10 });
  const answered = performance.now() - t0;
  execFileSync('docker', ['rm', '-f', id]);
  return answered;
}

async function gantryTrial(api, token, ingress, image) {
  const auth = { authorization: `Bearer ${token}` };
  const t0 = performance.now();
  const res = await fetch(`${api}/v1/app`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ image, resources: { cpu: 1 }, unsecureHttp: true, defaultHttpPort: 8080 }),
  });
  if (res.status !== 200) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  const { id } = await res.json();
  let running;
  let servedAt;
  await until(
    'RUNNING and served',
    async () => {
      if (running === undefined) {
        const app = await (await fetch(`${api}/v1/app/${id}`, { headers: auth })).json();
        if (app.status.state === 'RUNNING') running = performance.now() - t0;
      }
      if (servedAt === undefined && (await served(ingress, `${id}.app.localhost`)))
        servedAt = performance.now() - t0;
      return running !== undefined && servedAt !== undefined;
    },
    { pollMs: 10 },
  );
  await fetch(`${api}/v1/app/${id}?force=true`, { method: 'DELETE', headers: auth });
  return { running, served: servedAt };
}

const ms = (x) => `${x.toFixed(0).padStart(6)} ms`;

async function main() {
  const bench = await benchPlatform('bench', async (_ports, id) => [{ id: `bench-${id}`, cpus: 8 }]);
  const { api, ingress, image, token } = bench;
  const base = [];
  const running = [];
  const served = [];
  try {
    await gantryTrial(api, token, ingress, image); // warm-up: first connections, JIT
    await dockerRunTrial(image);
    for (let i = 0; i < TRIALS; i++) {
      base.push(await dockerRunTrial(image));
      const g = await gantryTrial(api, token, ingress, image);
      running.push(g.running);
      served.push(g.served);
      log(
        `trial ${i + 1}/${TRIALS}: docker run ${ms(base.at(-1))}, gantry RUNNING ${ms(g.running)}, served ${ms(g.served)}`,
      );
    }
  } finally {
    await bench.cleanup();
  }
  const b50 = pct(base, 50);
  console.log(`\ncreate → first HTTP 200, local image, ${TRIALS} trials (after one warm-up each)`);
  console.log(`                                       p50        max   p50 ratio vs docker run`);
  console.log(`docker run + first answer       ${ms(b50)} ${ms(Math.max(...base))}   1.00`);
  const row = (name, xs) =>
    console.log(
      `${name.padEnd(32)}${ms(pct(xs, 50))} ${ms(Math.max(...xs))}   ${(pct(xs, 50) / b50).toFixed(2)}`,
    );
  row('gantry POST → RUNNING', running);
  row('gantry POST → ingress answers', served);
}

await main();
process.exit(0);
