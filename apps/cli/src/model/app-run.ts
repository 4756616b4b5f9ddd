import type { CreateAppInput } from '@gantry/contracts';

import { ArgumentError, pairsToRecord } from './args.js';

/** The options of `gantry app run` (reference §3.1 flag names). */
export interface AppRunOptions {
  name?: string;
  cpu?: number;
  gpu?: number;
  flavor?: string;
  replicas?: number;
  env?: Array<[string, string]>;
  label?: Array<[string, string]>;
  defaultHttpPort?: number;
  grpcPort?: number;
  unsecureHttp?: boolean;
  probePath?: string;
  probePort?: number;
}

/**
 * The body of `POST /v1/app` for `gantry app run IMAGE [options] [-- command...]`. Only what the
 * user gave is sent: the API applies its defaults (port 8080, the default flavor, 1 replica…).
 * Throws ArgumentError for combinations the API would refuse anyway (`--cpu` with `--gpu`).
 */
export function buildCreateAppBody(
  image: string,
  opts: AppRunOptions,
  command: readonly string[] = [],
): CreateAppInput {
  if (opts.cpu !== undefined && opts.gpu !== undefined)
    throw new ArgumentError('--cpu and --gpu cannot be used together: an app runs on CPUs or on GPUs');
  const body: CreateAppInput = { image };
  if (opts.name !== undefined) body.name = opts.name;
  if (command.length > 0) body.command = [...command];
  if (opts.env?.length) {
    const env = pairsToRecord(opts.env);
    body.envVars = Object.entries(env).map(([name, value]) => ({ name, value }));
  }
  if (opts.label?.length) body.labels = pairsToRecord(opts.label);
  if (opts.flavor !== undefined || opts.cpu !== undefined || opts.gpu !== undefined)
    body.resources = {
      ...(opts.flavor !== undefined ? { flavor: opts.flavor } : {}),
      ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
      ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}),
    };
  if (opts.replicas !== undefined) body.scalingStrategy = { fixed: { replicas: opts.replicas } };
  if (opts.defaultHttpPort !== undefined) body.defaultHttpPort = opts.defaultHttpPort;
  if (opts.grpcPort !== undefined) body.grpcPort = opts.grpcPort;
  if (opts.probePath !== undefined || opts.probePort !== undefined)
    body.probe = {
      ...(opts.probePath !== undefined ? { path: opts.probePath } : {}),
      ...(opts.probePort !== undefined ? { port: opts.probePort } : {}),
    };
  if (opts.unsecureHttp) body.unsecureHttp = true;
  return body;
}

/** The body of `PUT /v1/app/{id}/scalingstrategy` for `gantry app scale ID --replicas N`. */
export function buildScalingBody(replicas: number): { fixed: { replicas: number } } {
  return { fixed: { replicas } };
}
