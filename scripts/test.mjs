#!/usr/bin/env node
// `npm test`: builds, makes sure the host has what the tests need (a Docker Engine, busybox-static,
// docker-registry and htpasswd), runs the static checks (type-check of everything including tests,
// lint with module boundaries; each counts as one check in the totals), then every jest project
// (unit, integration, e2e), and ends with the totals as one line: "N passed, N failed".
// Extra arguments go to jest and skip the static checks (e.g. `npm test -- --selectProjects unit`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { ensureBusybox, ensureDocker, ensureRegistryTools, log } from './host.mjs';
import { ROOT } from './platform.mjs';

const state = join(ROOT, '.gantry');
mkdirSync(state, { recursive: true });
await ensureDocker(state);
ensureBusybox();
ensureRegistryTools();

log('building (tsc -b)');
const build = spawnSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const checks = { passed: 0, failed: 0 };
const jestArgs = process.argv.slice(2);
if (jestArgs.length === 0) {
  const bin = (p) => join(ROOT, 'node_modules', p);
  for (const [name, args] of [
    ['type-check (sources and tests)', [bin('typescript/bin/tsc'), '-p', 'tsconfig.typecheck.json']],
    ['project graph', [bin('nx/dist/bin/nx.js'), 'show', 'projects']],
    ['lint (zero warnings, module boundaries)', [bin('eslint/bin/eslint.js'), '.', '--max-warnings=0']],
  ]) {
    log(name);
    const r = spawnSync(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', name === 'project graph' ? 'ignore' : 'inherit', 'inherit'],
      env: { ...process.env, NX_DAEMON: 'false' },
    });
    if (r.status === 0) checks.passed++;
    else {
      checks.failed++;
      log(`${name}: FAILED`);
    }
  }
}

/**
 * One jest run; its totals, read from its JSON results (a run that wrote none counts as one failure,
 * and so does a run that failed without a failing test to show for it: a crashed global setup).
 */
function runJest(name, args) {
  const results = join(state, `jest-results-${name}.json`);
  // A run that dies before writing its results must not be read as the previous run's totals.
  rmSync(results, { force: true });
  const jest = spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--no-warnings=ExperimentalWarning',
      join(ROOT, 'node_modules/jest/bin/jest.js'),
      '--maxWorkers=2',
      '--json',
      `--outputFile=${results}`,
      ...args,
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  const totals = { passed: 0, failed: 0, ok: jest.status === 0 };
  try {
    const r = JSON.parse(readFileSync(results, 'utf8'));
    totals.passed = r.numPassedTests;
    totals.failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  } catch {
    totals.failed = 1;
  }
  if (jest.status !== 0 && totals.failed === 0) totals.failed = 1;
  return totals;
}

// The chaos suite runs a platform of its own and kills its services on a schedule: it runs on its
// own after the rest, so that the two cores are not shared with the timing-sensitive fleet tests.
const CHAOS = 'e2e/src/chaos.e2e-spec.ts';
const runs =
  jestArgs.length > 0
    ? [runJest('all', jestArgs)]
    : [
        runJest('main', ['--testPathIgnorePatterns', '/node_modules/', '/dist/', 'chaos\\.e2e-spec']),
        runJest('chaos', ['--selectProjects', 'e2e', '--', CHAOS]),
      ];
const passed = checks.passed + runs.reduce((n, r) => n + r.passed, 0);
const failed = checks.failed + runs.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(runs.every((r) => r.ok) && checks.failed === 0 ? 0 : 1);
