import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The CLI's configuration: the environment (read here only) and the saved login file.
 *
 * Precedence, highest first: `--url`/`--token` on the command line, `GANTRY_URL`/`GANTRY_TOKEN`,
 * the file written by `gantry login` (`$GANTRY_CONFIG`, else `$XDG_CONFIG_HOME/gantry/config.json`,
 * else `~/.config/gantry/config.json`), then the default URL.
 */
export interface CliEnv {
  /** Where `gantry login` saves `{url, token}`. */
  configPath: string;
  url?: string;
  token?: string;
}

/** Where the API listens on one machine (DESIGN.md "Defaults for one machine"). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8000';

export function loadEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const nonEmpty = (v: string | undefined) => (v !== undefined && v.trim() !== '' ? v.trim() : undefined);
  const configHome = nonEmpty(env['XDG_CONFIG_HOME']) ?? join(homedir(), '.config');
  const url = nonEmpty(env['GANTRY_URL']);
  const token = nonEmpty(env['GANTRY_TOKEN']);
  return {
    configPath: nonEmpty(env['GANTRY_CONFIG']) ?? join(configHome, 'gantry', 'config.json'),
    ...(url !== undefined ? { url } : {}),
    ...(token !== undefined ? { token } : {}),
  };
}

/** What `gantry login` saves. */
export interface SavedConfig {
  url?: string;
  token?: string;
}

/** The saved login, `{}` when there is none. Throws when the file exists but is not valid. */
export async function readSavedConfig(path: string): Promise<SavedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read the config file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the config file ${path} is not valid JSON: fix or delete it, then run gantry login`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`the config file ${path} must hold a JSON object like {"url": "...", "token": "..."}`);
  const o = parsed as Record<string, unknown>;
  return {
    ...(typeof o['url'] === 'string' ? { url: o['url'] } : {}),
    ...(typeof o['token'] === 'string' ? { token: o['token'] } : {}),
  };
}

/**
 * Saves the login, readable by its owner only (mode 0600, directory 0700), atomically: a temporary
 * file in the same directory, then a rename.
 */
export async function saveConfig(path: string, config: SavedConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
