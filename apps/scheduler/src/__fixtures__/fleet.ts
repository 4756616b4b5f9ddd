import type { AppDesired, AppSpec, NodeHeartbeat } from '@gantry/contracts';

/** Test fixtures of the scheduler's specs: app specs and node heartbeats. Not part of the build. */
export const GiB = 1024 ** 3;

/** An app spec: by default 1 replica of 1 CPU (ai1-1-cpu) with 4 GiB; `gpus` > 0 makes it H100 GPUs. */
export function appSpec(
  over: { replicas?: number; gpus?: number; image?: string; memory?: number } & Partial<AppSpec> = {},
): AppSpec {
  const { replicas = 1, gpus = 0, image = 'gantry-test/web:1', memory = 4 * GiB, ...rest } = over;
  return {
    name: 'demo',
    image,
    envVars: [],
    labels: {},
    resources: {
      flavor: gpus > 0 ? 'h100-1-gpu' : 'ai1-1-cpu',
      type: gpus > 0 ? 'gpu' : 'cpu',
      units: gpus > 0 ? gpus : 1,
      cpu: gpus > 0 ? gpus : 1,
      gpu: gpus,
      memory,
      ephemeralStorage: 0,
      publicNetwork: 0,
      privateNetwork: 0,
      ...(gpus > 0 ? { gpuModel: 'H100' } : {}),
    },
    scalingStrategy: { fixed: { replicas } },
    defaultHttpPort: 8080,
    probe: { path: '/', port: 8080 },
    unsecureHttp: true,
    deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
    ...rest,
  };
}

/** A node's heartbeat, now: `gpus` simulated H100s (uuids `GPU-<node>-<i>`), 32 CPUs, 128 GiB. */
export function heartbeat(
  nodeId: string,
  over: { gpus?: number; cpus?: number; memory?: number; labels?: Record<string, string> } = {},
): NodeHeartbeat {
  const { gpus = 0, cpus = 32, memory = 128 * GiB, labels = {} } = over;
  return {
    nodeId,
    address: '127.0.0.1',
    at: new Date().toISOString(),
    agentVersion: 'test',
    capacity: {
      cpus,
      memory,
      gpus: Array.from({ length: gpus }, (_, i) => ({
        index: i,
        uuid: `GPU-${nodeId}-${i}`,
        model: 'NVIDIA H100 80GB HBM3',
        memory: 81_559 * 1024 ** 2,
      })),
    },
    simulatedGpus: gpus > 0,
    labels,
    appliedGeneration: 0,
    replicas: [],
  };
}

/** An app's desired state as the gateway publishes it: version 1, RUNNING, project p1, now. */
export function desiredState(appId: string, spec: AppSpec, over: Partial<AppDesired> = {}): AppDesired {
  const version = over.version ?? 1;
  return {
    id: `${appId}:desired:${version}`,
    appId,
    projectId: 'p1',
    version,
    at: new Date().toISOString(),
    lifecycle: 'RUNNING',
    spec,
    rate: { flavor: spec.resources.flavor, unitPriceMicros: 30_000, currency: 'EUR' },
    ...over,
  };
}
