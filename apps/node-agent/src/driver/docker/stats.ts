import type Docker from 'dockerode';

import { stampMs } from '../../model/usage.js';
import type { ContainerStats } from '../driver.js';
import { statusOf, toDriverError } from './errors.js';

/** A count from the engine's JSON: anything but a finite positive number is 0. */
const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/** Resource counters of a running container. */
export class DockerStats {
  constructor(private readonly docker: Docker) {}

  /**
   * One reading: `one-shot` (API 1.41+) makes the engine answer with its stats collector's next
   * reading (within a second) instead of waiting for a second one to fill `precpu_stats`, which the
   * caller does not use: it keeps its own previous reading. Docker's zero `read` time means the
   * container is not running.
   */
  async sample(id: string, signal?: AbortSignal): Promise<ContainerStats | undefined> {
    let s: Docker.ContainerStats;
    try {
      s = await this.docker.getContainer(id).stats({
        stream: false,
        'one-shot': true,
        ...(signal ? { abortSignal: signal } : {}),
      } as { stream: false; 'one-shot': true });
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 409) return undefined;
      throw toDriverError(error, 'sampling the container');
    }
    const readAt = typeof s?.read === 'string' ? stampMs(s.read) : undefined;
    if (readAt === undefined || !s.cpu_stats) return undefined;
    const counters: ContainerStats['memoryCounters'] = {};
    const raw: unknown = s.memory_stats?.stats;
    if (raw && typeof raw === 'object')
      for (const [key, value] of Object.entries(raw))
        if (key === 'inactive_file' || key === 'total_inactive_file') counters[key] = count(value);
    return {
      readAt,
      cpuNs: count(s.cpu_stats.cpu_usage?.total_usage),
      memoryUsage: count(s.memory_stats?.usage),
      memoryCounters: counters,
    };
  }
}
