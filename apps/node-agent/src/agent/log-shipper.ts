import type { LogLine } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import type { ContainerDriver } from '../driver/driver.js';
import { retryDelay } from '../model/backoff.js';
import { type BatcherOptions, batchId, DEFAULT_BATCHING, LogBatcher } from '../model/batcher.js';
import { LineAssembler, stampKey } from '../model/lines.js';
import type { Checkpoint } from './checkpoint.js';
import type { ControlPlane } from './control-plane.js';
import { agentMetrics } from './metrics.js';

interface Follower {
  replicaId: string;
  appId: string;
  /** Runs of `follow`, one after the other. */
  chain: Promise<void>;
  abort: AbortController;
  batcher: LogBatcher;
  /** Stamp of the last line handed to the batcher (shipped or about to be). */
  accepted?: string;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Ships each replica's container output as `logs.batch.v1`: lines in order, in batches, each line once.
 * It follows a container from the stamp of the last line it shipped (kept in the checkpoint, so also
 * after an agent restart) and drops what Docker repeats at that boundary. A batch is retried until
 * published; a batch published twice has the same id (deduplicated downstream).
 */
export class LogShipper {
  private readonly log = new Logger('LogShipper');
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly nodeId: string,
    private readonly driver: ContainerDriver,
    private readonly plane: ControlPlane,
    private readonly checkpoint: Checkpoint,
    private readonly batching: BatcherOptions = DEFAULT_BATCHING,
  ) {}

  /** Follows the container of a replica (after the runs already queued for it end). */
  follow(replicaId: string, appId: string, containerId: string): void {
    const f = this.followers.get(replicaId) ?? this.create(replicaId, appId);
    f.chain = f.chain
      .then(() => this.run(f, containerId))
      .catch((error: unknown) => this.log.warn(`logs of ${replicaId}: ${(error as Error).message}`));
  }

  /**
   * Waits (at most `timeoutMs`) for the replica's followers to reach the end of the output of its
   * stopped container and ship it, then lets go of the replica.
   */
  async finish(replicaId: string, timeoutMs: number): Promise<void> {
    const f = this.followers.get(replicaId);
    if (!f) return;
    const timer = setTimeout(() => f.abort.abort(), timeoutMs);
    try {
      await f.chain;
      await f.batcher.flush();
    } finally {
      clearTimeout(timer);
      f.abort.abort();
      if (this.followers.get(replicaId) === f) this.followers.delete(replicaId);
    }
  }

  /** Agent shutdown: stops following, ships what is buffered (at most `timeoutMs`). */
  async stopAll(timeoutMs: number): Promise<void> {
    const all = [...this.followers.values()];
    for (const f of all) f.abort.abort();
    await Promise.race([
      Promise.all(
        all.map(async (f) => {
          await f.chain;
          await f.batcher.flush();
        }),
      ),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
    this.followers.clear();
  }

  private create(replicaId: string, appId: string): Follower {
    const abort = new AbortController();
    const cursor = this.checkpoint.get(replicaId)?.logCursor;
    const batcher = new LogBatcher(
      (lines) => this.ship(replicaId, appId, abort.signal, lines),
      this.batching,
      (error) => this.log.warn(`logs of ${replicaId}: ${(error as Error).message}`),
    );
    const f: Follower = {
      replicaId,
      appId,
      chain: Promise.resolve(),
      abort,
      batcher,
      ...(cursor ? { accepted: cursor } : {}),
    };
    this.followers.set(replicaId, f);
    return f;
  }

  private async run(f: Follower, containerId: string): Promise<void> {
    const signal = f.abort.signal;
    while (!signal.aborted) {
      const since = f.accepted;
      const boundary = since ? stampKey(since) : undefined;
      const assembler = new LineAssembler();
      const accept = async (line: LogLine): Promise<void> => {
        const key = stampKey(line.ts);
        if (boundary && key && key <= boundary) return; // shipped before this run
        f.accepted = line.ts;
        await f.batcher.add(line);
      };
      for await (const frame of this.driver.followLogs(containerId, { ...(since ? { since } : {}), signal }))
        for (const line of assembler.push(frame)) await accept(line);
      for (const line of assembler.end()) await accept(line);
      void f.batcher.flush();
      if (signal.aborted) return;
      // The stream ends when the container stops; if it is still running the stream broke: follow again.
      const details = await this.driver.inspectContainer(containerId).catch(() => undefined);
      if (details?.state !== 'running') return;
      await sleep(1000, signal);
    }
  }

  private async ship(replicaId: string, appId: string, signal: AbortSignal, lines: LogLine[]): Promise<void> {
    const batch = { id: batchId(replicaId, lines), nodeId: this.nodeId, appId, replicaId, lines };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.plane.publishLogs(batch);
        break;
      } catch (error) {
        if ((error as Error).name === 'ZodError') {
          this.log.error(`dropping an invalid log batch of ${replicaId}: ${(error as Error).message}`);
          return;
        }
        if (signal.aborted && attempt >= 2) return; // let go: the checkpoint says where to resume
        if (attempt === 0)
          this.log.warn(`cannot publish logs of ${replicaId}, retrying: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, retryDelay(attempt, 200, 5000)));
      }
    }
    const last = lines[lines.length - 1];
    if (last && this.followers.has(replicaId)) this.checkpoint.update(replicaId, { logCursor: last.ts });
    agentMetrics.logLines.inc({ node: this.nodeId }, lines.length);
    agentMetrics.logBatches.inc({ node: this.nodeId });
  }
}
