import { createHash } from 'node:crypto';

import type { AppSpec } from '@gantry/contracts';

/**
 * The part of an app's spec that its replicas run: a change here replaces them (rolling update);
 * anything else (name, labels, scaling, deployment strategy, stop/start) leaves them alone.
 */
function runtimeOf(spec: AppSpec): unknown {
  return {
    image: spec.image,
    command: spec.command ?? null,
    envVars: spec.envVars,
    defaultHttpPort: spec.defaultHttpPort,
    grpcPort: spec.grpcPort ?? null,
    probe: spec.probe,
    resources: spec.resources,
  };
}

/** JSON with object keys sorted, so that equal values always give equal text (undefined members left out). */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? '';
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + canonical(v[i]);
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonical(o[k])}`;
    first = false;
  }
  return `${out}}`;
}

/** Hashes by spec object: the scheduler keeps an app's spec object until its desired state changes. */
const hashes = new WeakMap<AppSpec, string>();

/** A stable hash of the runtime part of a spec (see `runtimeOf`), recorded on each replica. */
export function runtimeHash(spec: AppSpec): string {
  let hash = hashes.get(spec);
  if (hash === undefined) {
    hash = createHash('sha256')
      .update(canonical(runtimeOf(spec)))
      .digest('hex')
      .slice(0, 32);
    hashes.set(spec, hash);
  }
  return hash;
}

/** Resolves `"25%"` or `"2"` against a replica count, rounding percentages as told. */
function resolve(value: string | undefined, fallback: string, of: number, round: (n: number) => number) {
  const v = (value ?? fallback).trim();
  const pct = /^(\d+)%$/.exec(v);
  const n = pct ? round((Number(pct[1]) * of) / 100) : Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : round((25 * of) / 100);
}

/**
 * How far a rolling update may go beyond (`maxSurge`, rounded up) and below (`maxUnavailable`, rounded
 * down) the desired number of ready replicas; 25% each by default, and a surge of 1 if both are 0.
 */
export function rolloutBounds(
  strategy: Partial<AppSpec['deploymentStrategy']> | undefined,
  replicas: number,
): { maxSurge: number; maxUnavailable: number } {
  const maxSurge = resolve(strategy?.maxSurge, '25%', replicas, Math.ceil);
  const maxUnavailable = Math.min(replicas, resolve(strategy?.maxUnavailable, '25%', replicas, Math.floor));
  return maxSurge === 0 && maxUnavailable === 0
    ? { maxSurge: 1, maxUnavailable: 0 }
    : { maxSurge, maxUnavailable };
}
