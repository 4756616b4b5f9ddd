import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

import { planChaos, runChaos } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

// eslint-disable-next-line @nx/enforce-module-boundaries -- the chaos launcher is a script (npm run chaos), not an Nx project
import { chaosPlanOptions, type ChaosPlatform, startChaosPlatform } from '../../scripts/chaos.mjs';
import { E } from './platform.js';

/**
 * The chaos suite, short: 45 s of faults on a small workload (3 CPU apps, 2 GPU apps, 2 agents with 2
 * simulated GPUs each) — every service killed -9 once and restarted, replicas paused, PostgreSQL
 * restarted, one of three NATS servers killed — then the invariants. It runs a platform of its own
 * (private PostgreSQL and NATS cluster, own namespace and ports): the shared one is left alone. The
 * seed is fixed so that runs compare; GANTRY_CHAOS_SEED picks another. `npm run chaos` runs longer.
 */
const SEED = Number(process.env['GANTRY_CHAOS_SEED'] ?? 20_261_102);

describe('chaos: a short seeded run', () => {
  let platform: ChaosPlatform | undefined;

  beforeAll(async () => {
    platform = await startChaosPlatform({
      image: E.images.web,
      logDir: join(E.logDir, 'chaos'),
      log: (line) => appendFileSync(join(E.logDir, 'chaos', 'chaos.log'), `${line}\n`),
    });
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  it('keeps every invariant through kills, pauses, a PostgreSQL restart and a NATS server loss', async () => {
    const h = platform;
    if (!h) throw new Error('no chaos platform');
    const plan = planChaos({ ...chaosPlanOptions(h, SEED, 0.75), pauses: 4 });
    const report = await runChaos(h, plan, { convergeTimeoutMs: 60_000 });
    process.stderr.write(`${report.text}\n(logs: ${h.logDir})\n`);
    expect(report.judgedPauses).toBeGreaterThan(0);
    expect(report.violations).toEqual([]);
  }, 300_000);
});
