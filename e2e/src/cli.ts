import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** The built `gantry` CLI, run as a subprocess by the e2e suites. */
export const MAIN = resolve('apps/cli/dist/main.js');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `gantry args…` with config file `configPath` and no GANTRY_URL/GANTRY_TOKEN unless given;
 * `input` is written to its stdin (which is closed either way).
 */
export function runCli(
  configPath: string,
  args: string[],
  env: Record<string, string> = {},
  input = '',
): Promise<Result> {
  // eslint-disable-next-line no-restricted-syntax -- the CLI inherits the test's environment, minus its own settings
  const base = { ...process.env };
  delete base['GANTRY_URL'];
  delete base['GANTRY_TOKEN'];
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { ...base, GANTRY_CONFIG: configPath, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}

export const json = <T>(r: Result): T => {
  if (r.code !== 0) throw new Error(`gantry exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
