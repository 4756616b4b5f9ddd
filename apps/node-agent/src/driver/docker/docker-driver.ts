import { Logger } from '@nestjs/common';
import Docker from 'dockerode';

import type {
  ContainerDetails,
  ContainerDriver,
  ContainerSpec,
  ContainerStats,
  ContainerSummary,
  ImageInfo,
  LogFrame,
  Owner,
  PullOptions,
  RegistryDigestOptions,
  RuntimeEvent,
  RuntimeInfo,
} from '../driver.js';
import { DockerContainers } from './containers.js';
import { toDriverError } from './errors.js';
import { DockerEvents } from './events.js';
import { DockerImages } from './images.js';
import { DockerLogs } from './logs.js';
import { DockerStats } from './stats.js';

/** dockerode options from a DOCKER_HOST value (`unix:///path`, `tcp://host:port`, `http(s)://…`); default the local socket. */
export function dockerOptions(dockerHost: string | undefined): Docker.DockerOptions {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return {
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 2376 : 2375)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  };
}

/** The Docker Engine behind the driver interface; dockerode stays in this folder. */
export class DockerDriver implements ContainerDriver {
  private readonly images: DockerImages;
  private readonly containers: DockerContainers;
  private readonly logs: DockerLogs;
  private readonly events: DockerEvents;
  private readonly sampler: DockerStats;
  private readonly log = new Logger('DockerDriver');

  constructor(private readonly docker: Docker = new Docker(dockerOptions(undefined))) {
    this.images = new DockerImages(docker);
    this.containers = new DockerContainers(docker);
    this.logs = new DockerLogs(docker);
    this.events = new DockerEvents(docker, (m) => this.log.warn(m));
    this.sampler = new DockerStats(docker);
  }

  static connect(dockerHost: string | undefined): DockerDriver {
    return new DockerDriver(new Docker(dockerOptions(dockerHost)));
  }

  async info(): Promise<RuntimeInfo> {
    try {
      const info = (await this.docker.info()) as { NCPU?: number; MemTotal?: number; ServerVersion?: string };
      return {
        cpus: Number(info.NCPU) || 1,
        memory: Number(info.MemTotal) || 0,
        version: `docker ${info.ServerVersion ?? '?'}`,
      };
    } catch (error) {
      const e = toDriverError(error, 'asking Docker');
      throw e.kind === 'unknown' ? Object.assign(e, { kind: 'unavailable' as const }) : e;
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  inspectImage(ref: string): Promise<ImageInfo | undefined> {
    return this.images.inspect(ref);
  }

  pullImage(ref: string, opts: PullOptions): Promise<void> {
    return this.images.pull(ref, opts);
  }

  registryDigest(ref: string, opts: RegistryDigestOptions): Promise<string> {
    return this.images.registryDigest(ref, opts);
  }

  createContainer(spec: ContainerSpec): Promise<string> {
    return this.containers.create(spec);
  }

  startContainer(id: string): Promise<void> {
    return this.containers.start(id);
  }

  stopContainer(id: string, graceSeconds: number): Promise<void> {
    return this.containers.stop(id, graceSeconds);
  }

  removeContainer(id: string): Promise<void> {
    return this.containers.remove(id);
  }

  inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    return this.containers.inspect(id);
  }

  listContainers(owner: Owner): Promise<ContainerSummary[]> {
    return this.containers.list(owner);
  }

  watchEvents(owner: Owner, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): void {
    this.events.watch(owner, onEvent, signal);
  }

  followLogs(id: string, opts: { since?: string; signal: AbortSignal }): AsyncIterable<LogFrame> {
    return this.logs.follow(id, opts);
  }

  tailLogs(id: string, lines: number): Promise<LogFrame[]> {
    return this.logs.tail(id, lines);
  }

  stats(id: string, opts: { signal?: AbortSignal } = {}): Promise<ContainerStats | undefined> {
    return this.sampler.sample(id, opts.signal);
  }
}
