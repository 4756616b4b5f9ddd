import { hostname } from 'node:os';

import { env, loadConfig, platformEnv } from '@gantry/config';
import { LABEL_KEY, LABEL_VALUE } from '@gantry/contracts';
import { z } from 'zod';

import { SIMULATED_MODELS } from './model/gpus.js';

/** A host name made into a node id (letters, digits, _ and -, at most 100, starting alphanumeric). */
export function sanitizeNodeId(name: string): string {
  const id = name
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  return id || 'node';
}

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

const labels = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of text.split(',').map((p) => p.trim())) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const key = eq === -1 ? pair : pair.slice(0, eq).trim();
      const value = eq === -1 ? '' : pair.slice(eq + 1).trim();
      if (eq === -1 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not key=value (e.g. zone=rack-a,tier=h100)` });
        return z.NEVER;
      }
      out[key] = value;
    }
    return out;
  });

const simulated = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return undefined;
    const m = /^(\d{1,2})(?::([a-z0-9]+))?$/i.exec(text.trim());
    const model = (m?.[2] ?? 'h100').toLowerCase();
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 64 || !SIMULATED_MODELS[model]) {
      ctx.addIssue({
        code: 'custom',
        message: `must be <count 1-64>[:<model>], model one of ${Object.keys(SIMULATED_MODELS).join(', ')} (e.g. 4:h100)`,
      });
      return z.NEVER;
    }
    return { count: Number(m[1]), model };
  });

export const NodeAgentConfigSchema = z.object({
  ...platformEnv,
  /** This node's id in the scheduler and on its containers' labels. */
  NODE_ID: z
    .string()
    .regex(NODE_ID, 'must be 1-100 letters, digits, _ or -, starting with a letter or digit')
    .default(() => sanitizeNodeId(hostname())),
  /** Address app ports are published on, and advertised to the ingress. */
  NODE_ADDRESS: env.string('127.0.0.1'),
  /** Capacity to advertise; default: what the Docker host has. */
  NODE_CPUS: z.coerce.number().positive().optional(),
  NODE_MEMORY: z.coerce.number().int().positive().optional(),
  NODE_LABELS: labels,
  /** Development: advertise simulated GPUs (`4`, `4:h100`) instead of asking nvidia-smi. */
  SIMULATED_GPUS: simulated,
  NVIDIA_SMI: env.string('nvidia-smi'),
  /** Docker endpoint (`unix:///var/run/docker.sock`, `tcp://host:2375`); default the local socket. */
  DOCKER_HOST: z.string().min(1).optional(),
  HEARTBEAT_INTERVAL_MS: env.int(1000, 100, 60_000),
  /** How often each running replica's CPU, memory and GPU use is measured and sent to the autoscaler; 0: never. */
  USAGE_INTERVAL_MS: env
    .int(2000, 0, 600_000)
    .refine((ms) => ms === 0 || ms >= 100, 'must be 0 (off) or at least 100'),
  /** How long a container no assignment accounts for is left alone before it is removed. */
  ORPHAN_GRACE_MS: env.int(30_000, 0),
  /** Periodic full convergence, besides the assignment watch and Docker events. */
  RESYNC_INTERVAL_MS: env.int(5000, 100, 600_000),
  /** Time limit of one image pull. */
  IMAGE_PULL_TIMEOUT_MS: env.int(600_000, 1000),
  /**
   * How long to wait for the api-gateway's answer with a registry's credentials before an image pull
   * (past it, the image is pulled without credentials).
   */
  REGISTRY_AUTH_TIMEOUT_MS: env.int(5000, 100, 60_000),
  /** SIGTERM → SIGKILL grace when stopping a replica. */
  STOP_GRACE_SECONDS: env.int(10, 0, 600),
  /** Where the agent keeps its checkpoint (log cursors, restart counts). */
  STATE_DIR: env.string('.gantry/node-agent'),
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.port(8102),
});
export type NodeAgentConfig = z.infer<typeof NodeAgentConfigSchema>;

export const loadNodeAgentConfig = (): NodeAgentConfig => loadConfig(NodeAgentConfigSchema);
