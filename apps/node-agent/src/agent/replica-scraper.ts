import { type QueryRequest, type QueryResponse, REPLICA_SCRAPE_MAX_BYTES } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';

import type { ContainerDriver } from '../driver/driver.js';
import { LABELS } from '../model/ownership.js';
import type { ReplicaRuntime } from './executor.js';
import { boundedGet } from './http-get.js';

export type ScrapeQuery = QueryRequest<'query.replica-scrape.v1'>;
export type ScrapeResult = QueryResponse<'query.replica-scrape.v1'>;

/** Scrapes at once past which a node refuses more: each holds a socket and up to 256 KiB. */
const MAX_IN_FLIGHT = 32;

/**
 * Answers `query.replica-scrape.v1`: an HTTP GET to one of this agent's own replicas, on its
 * container's IP (the port need not be published). Only replicas the agent runs can be reached:
 * anything else is NOT_FOUND, so the query cannot be used to reach another container or host.
 */
export class ReplicaScraper {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly d: {
      nodeId: string;
      driver: ContainerDriver;
      replicas: ReadonlyMap<string, ReplicaRuntime>;
    },
  ) {}

  async scrape(q: ScrapeQuery): Promise<ScrapeResult> {
    if (this.stopping.signal.aborted)
      throw new GantryError('UNAVAILABLE', String(this.stopping.signal.reason));
    if (this.inFlight.size >= MAX_IN_FLIGHT)
      throw new GantryError(
        'RATE_LIMITED',
        `node ${this.d.nodeId} is already scraping ${MAX_IN_FLIGHT} replicas`,
      );
    const scrape = this.get(q);
    this.inFlight.add(scrape);
    try {
      return await scrape;
    } finally {
      this.inFlight.delete(scrape);
    }
  }

  /** Ends the scrapes under way at once (each answered UNAVAILABLE), and refuses new ones. */
  async stop(): Promise<void> {
    this.stopping.abort(`the agent of node ${this.d.nodeId} is stopping`);
    await Promise.allSettled(this.inFlight);
  }

  private async get(q: ScrapeQuery): Promise<ScrapeResult> {
    const host = await this.addressOf(q.replicaId);
    try {
      return await boundedGet({
        host,
        port: q.port,
        path: q.path,
        timeoutMs: q.timeoutMs,
        maxBytes: REPLICA_SCRAPE_MAX_BYTES,
        signal: this.stopping.signal,
      });
    } catch (error) {
      throw error instanceof GantryError
        ? new GantryError(error.code, `replica ${q.replicaId}: ${error.message}`)
        : error;
    }
  }

  /** The IP of the replica's running container; why not when there is none. */
  private async addressOf(replicaId: string): Promise<string> {
    const rt = this.d.replicas.get(replicaId);
    if (!rt) throw new GantryError('NOT_FOUND', `replica ${replicaId} does not run on node ${this.d.nodeId}`);
    let details;
    try {
      details = rt.containerId ? await this.d.driver.inspectContainer(rt.containerId) : undefined;
    } catch (error) {
      throw new GantryError('UNAVAILABLE', `replica ${replicaId}: ${(error as Error).message}`);
    }
    if (!details || details.state !== 'running' || details.labels[LABELS.replica] !== replicaId)
      throw new GantryError('UNAVAILABLE', `replica ${replicaId} is not running (phase ${rt.phase})`);
    if (!details.address)
      throw new GantryError('UNAVAILABLE', `replica ${replicaId} has no address on its container network`);
    return details.address;
  }
}
