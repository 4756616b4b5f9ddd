import type Docker from 'dockerode';

import type { ContainerStats } from '../driver.js';
import { statusOf, toDriverError } from './errors.js';

/** One resource sample of a running container (Docker measures CPU over about a second). */
export class DockerStats {
  constructor(private readonly docker: Docker) {}

  async sample(id: string): Promise<ContainerStats | undefined> {
    let s: Docker.ContainerStats;
    try {
      s = await this.docker.getContainer(id).stats({ stream: false });
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 409) return undefined;
      throw toDriverError(error, 'sampling the container');
    }
    if (!s?.cpu_stats || !s.read || s.read.startsWith('0001-')) return undefined;
    const cpuDelta =
      (s.cpu_stats.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
    const online = s.cpu_stats.online_cpus || 1;
    const cache = (s.memory_stats?.stats as { cache?: number } | undefined)?.cache ?? 0;
    return {
      cpus: systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online : 0,
      memory: Math.max(0, (s.memory_stats?.usage ?? 0) - cache),
      memoryLimit: s.memory_stats?.limit ?? 0,
      pids: s.pids_stats?.current ?? 0,
    };
  }
}
