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

const results = join(state, 'jest-results.json');
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
    ...jestArgs,
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
let passed = checks.passed;
let failed = checks.failed;
try {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
} catch {
  failed += 1;
}
// Jest failed without a failing test to show for it (a crashed global setup, a suite that did not
// load): that is a failure too.
if (jest.status !== 0 && failed === checks.failed) failed += 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(jest.status === 0 && checks.failed === 0 ? 0 : 1);
