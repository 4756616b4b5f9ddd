import type Docker from 'dockerode';

import { LABELS } from '../../model/ownership.js';
import type { ContainerDetails, ContainerSpec, ContainerState, ContainerSummary, Owner } from '../driver.js';
import { statusOf, toDriverError } from './errors.js';

/** Log files of a container are capped (json-file keeps them readable by `docker logs` and the agent). */
const LOG_CONFIG = { Type: 'json-file', Config: { 'max-size': '20m', 'max-file': '3' } };

function stateOf(status: string | undefined): ContainerState {
  if (status === 'running' || status === 'paused' || status === 'restarting') return 'running';
  if (status === 'created') return 'created';
  return 'exited';
}

/** Docker's zero time ("0001-01-01T00:00:00Z") and unparsable dates are undefined. */
function timeOf(iso: string | undefined): number | undefined {
  if (!iso || iso.startsWith('0001-')) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The container's IP: the top-level one (the default bridge's; engines before API 1.44 set it), else
 * that of the first network that gave it one.
 */
function addressOf(settings: Docker.ContainerInspectInfo['NetworkSettings'] | undefined): string | undefined {
  const legacy = (settings as { IPAddress?: unknown } | undefined)?.IPAddress;
  if (typeof legacy === 'string' && legacy) return legacy;
  return Object.values(settings?.Networks ?? {}).find((n) => n?.IPAddress)?.IPAddress || undefined;
}

/** The engine-level translation of a ContainerSpec. */
export function createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const key = (p: number): string => `${p}/tcp`;
  return {
    name: spec.name,
    Image: spec.image,
    Labels: spec.labels,
    User: spec.user,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...(spec.command ? { Cmd: spec.command } : {}),
    ExposedPorts: Object.fromEntries(spec.ports.map((p) => [key(p), {}])),
    HostConfig: {
      // A minimal init as PID 1 forwards SIGTERM to the app and reaps zombies: an image whose
      // entrypoint ignores signals as PID 1 (most do) still stops at once instead of at the timeout.
      Init: true,
      NanoCpus: Math.round(spec.cpus * 1e9),
      ...(spec.memory > 0 ? { Memory: spec.memory, MemorySwap: spec.memory } : {}),
      PidsLimit: spec.pidsLimit,
      SecurityOpt: spec.noNewPrivileges ? ['no-new-privileges'] : [],
      PortBindings: Object.fromEntries(
        spec.ports.map((p) => [key(p), [{ HostIp: spec.hostIp, HostPort: '' }]]),
      ),
      RestartPolicy: { Name: 'no' },
      LogConfig: LOG_CONFIG,
      ...(spec.gpus.kind === 'devices'
        ? { DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: spec.gpus.uuids, Capabilities: [['gpu']] }] }
        : {}),
    },
  };
}

/** Containers: create, start, stop, remove, inspect, list by owner. */
export class DockerContainers {
  constructor(private readonly docker: Docker) {}

  async create(spec: ContainerSpec): Promise<string> {
    try {
      const c = await this.docker.createContainer(createOptions(spec));
      return c.id;
    } catch (error) {
      throw toDriverError(error, `creating ${spec.name}`);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusOf(error) === 304) return;
      throw toDriverError(error, 'starting the container');
    }
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: graceSeconds });
    } catch (error) {
      const status = statusOf(error);
      if (status === 304 || status === 404) return;
      throw toDriverError(error, `stopping container ${id.slice(0, 12)}`);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 || status === 409) return; // gone, or its removal is already in progress
      throw toDriverError(error, `removing container ${id.slice(0, 12)}`);
    }
  }

  async inspect(id: string): Promise<ContainerDetails | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toDriverError(error, `inspecting container ${id.slice(0, 12)}`);
    }
    const ports: Record<string, number> = {};
    const bindings = (info.NetworkSettings?.Ports ?? {}) as Record<
      string,
      Array<{ HostIp?: string; HostPort?: string }> | null
    >;
    for (const [key, list] of Object.entries(bindings)) {
      const [port, proto] = key.split('/');
      const host = (list ?? []).map((b) => Number(b.HostPort)).find((p) => Number.isInteger(p) && p > 0);
      if (proto === 'tcp' && port && host) ports[port] = host;
    }
    const running = stateOf(info.State.Status) === 'running';
    const address = running ? addressOf(info.NetworkSettings) : undefined;
    const startedAt = timeOf(info.State.StartedAt);
    const finishedAt = timeOf(info.State.FinishedAt);
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      labels: info.Config?.Labels ?? {},
      state: stateOf(info.State.Status),
      createdAt: timeOf(info.Created) ?? 0,
      exitCode: info.State.ExitCode,
      ...(info.State.Error ? { error: info.State.Error } : {}),
      oomKilled: info.State.OOMKilled,
      ...(startedAt !== undefined ? { startedAt } : {}),
      ...(finishedAt !== undefined ? { finishedAt } : {}),
      ports,
      ...(address ? { address } : {}),
    };
  }

  async list(owner: Owner): Promise<ContainerSummary[]> {
    try {
      const list = await this.docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.namespace}=${owner.namespace}`, `${LABELS.node}=${owner.nodeId}`] },
      });
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        labels: c.Labels ?? {},
        state: stateOf(c.State),
        createdAt: c.Created * 1000,
      }));
    } catch (error) {
      throw toDriverError(error, 'listing containers');
    }
  }
}
