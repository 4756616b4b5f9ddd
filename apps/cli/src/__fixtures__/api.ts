import type { App, FlavorOutput, Me, Registry, Token } from '@gantry/contracts';

/** API objects for the CLI's unit tests. */

export const APP_ID = '0b6f3c4e-9a37-4e25-8d41-2f4a8f1d9c01';

export function sampleApp(
  over: {
    id?: string;
    name?: string;
    state?: App['status']['state'];
    available?: number;
    scaling?: App['spec']['scalingStrategy'];
  } = {},
): App {
  const id = over.id ?? APP_ID;
  return {
    id,
    projectId: 'default',
    createdAt: '2026-11-23T11:55:00.000Z',
    updatedAt: '2026-11-23T11:56:00.000Z',
    user: 'admin',
    spec: {
      name: over.name ?? 'web',
      image: 'busybox:1.37',
      command: ['httpd', '-f', '-p', '8080'],
      envVars: [{ name: 'GREETING', value: 'hello world' }],
      labels: { team: 'a', 'gantry/id': id },
      resources: {
        flavor: 'ai1-1-cpu',
        type: 'cpu',
        units: 1,
        cpu: 1,
        gpu: 0,
        memory: 4 * 1024 ** 3,
        ephemeralStorage: 50 * 1024 ** 3,
        publicNetwork: 1_500_000_000,
        privateNetwork: 0,
      },
      scalingStrategy: over.scaling ?? { fixed: { replicas: 2 } },
      defaultHttpPort: 8080,
      probe: { path: '/', port: 8080 },
      unsecureHttp: true,
      deploymentStrategy: { maxSurge: '25%', maxUnavailable: '25%', progressDeadlineSeconds: 600 },
    },
    status: {
      state: over.state ?? 'RUNNING',
      availableReplicas: over.available ?? 2,
      url: `http://${id}.app.localhost:8080`,
      info: { code: 'APP_RUNNING', message: 'the app is running' },
      history: [
        { state: 'QUEUED', date: '2026-11-23T11:55:00.000Z' },
        { state: 'RUNNING', date: '2026-11-23T11:55:30.000Z' },
      ],
      lastTransitionDate: '2026-11-23T11:55:30.000Z',
    },
  } as App;
}

export const sampleFlavor: FlavorOutput = {
  id: 'ai1-1-cpu',
  type: 'cpu',
  default: true,
  description: '1 vCPU, 4 GiB',
  max: 12,
  resourcesPerUnit: {
    cpu: 1,
    memory: 4 * 1024 ** 3,
    ephemeralStorage: 50 * 1024 ** 3,
    publicNetwork: 1_500_000_000,
    privateNetwork: 0,
  },
  price: { unitPriceMicros: 30_000, unitPrice: '0.03', currency: 'EUR', per: 'unit-hour' },
};

export const sampleMe: Me = {
  name: 'admin',
  tokenId: 'tok-1',
  tenant: 'default',
  project: { id: 'default', name: 'Default' },
  role: 'admin',
  tokenKind: 'bearer',
  quotas: {
    projectId: 'default',
    resources: { CPU: 32, GPU: 4, memory: 128 * 1024 ** 3, apps: 50, tokens: 100 },
    inUse: { CPU: 0, GPU: 1, memory: 0, apps: 1, tokens: 1 },
    storage: 0,
  },
};

export const sampleToken = (over: { value?: string; labelSelector?: string } = {}): Token => ({
  id: '5d0c2a8e-1111-4a4a-9b9b-000000000001',
  createdAt: '2026-11-23T11:00:00.000Z',
  updatedAt: '2026-11-23T11:00:00.000Z',
  spec: {
    name: 'reader',
    role: 'read',
    ...(over.labelSelector ? { labelSelector: over.labelSelector } : {}),
    projectId: 'default',
  },
  status: { ...(over.value ? { value: over.value } : {}), version: 1 },
});

export const REGISTRY_ID = '7a1e9c52-2222-4b4b-8c8c-000000000002';

export const sampleRegistry = (over: { url?: string; username?: string } = {}): Registry => ({
  id: REGISTRY_ID,
  createdAt: '2026-11-23T10:00:00.000Z',
  updatedAt: '2026-11-23T11:00:00.000Z',
  user: 'admin',
  region: 'local',
  projectId: 'default',
  url: over.url ?? 'registry.example.com',
  username: over.username ?? 'ci',
});

/** Automatic scaling as the API returns it: every default applied. */
export const cpuScaling = (min = 0, max = 4): App['spec']['scalingStrategy'] => ({
  automatic: {
    replicasMin: min,
    replicasMax: max,
    resourceType: 'CPU',
    averageUsageTarget: 50,
    scaleUpStabilizationWindowSeconds: 0,
    scaleDownStabilizationWindowSeconds: 300,
    ...(min === 0 ? { cooldownPeriodSeconds: 300 } : {}),
  },
});

export const customScaling: App['spec']['scalingStrategy'] = {
  automatic: {
    replicasMin: 1,
    replicasMax: 4,
    scaleUpStabilizationWindowSeconds: 30,
    scaleDownStabilizationWindowSeconds: 600,
    customMetrics: {
      apiUrl: 'http://<SELF>:9100/metrics',
      format: 'PROMETHEUS',
      valueLocation: 'queue_depth',
      targetValue: 10,
      aggregationType: 'AVERAGE',
    },
  },
};

/**
 * `sampleApp` at one moment of a rollout: its image, state and status message, when its status
 * last moved, when its spec last changed, and whether a failed rollout undoes itself.
 */
export function rolloutApp(
  image: string,
  state: App['status']['state'],
  message: string,
  over: {
    code?: App['status']['info']['code'];
    moved?: string;
    updatedAt?: string;
    available?: number;
    autoRollback?: boolean;
  } = {},
): App {
  const app = sampleApp({ state, available: over.available ?? 2 });
  return {
    ...app,
    updatedAt: over.updatedAt ?? '2026-11-23T12:00:00.000Z',
    spec: {
      ...app.spec,
      image,
      deploymentStrategy: {
        ...app.spec.deploymentStrategy,
        ...(over.autoRollback !== undefined ? { autoRollback: over.autoRollback } : {}),
      },
    },
    status: {
      ...app.status,
      info: {
        code: over.code ?? (state === 'RUNNING' ? 'APP_RUNNING' : 'APP_SCALING'),
        message,
      },
      lastTransitionDate: over.moved ?? '2026-11-23T11:55:30.000Z',
    },
  };
}
