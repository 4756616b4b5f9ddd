import type { InfoCode, ReplicaPhase, ReplicaReport } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import { retryDelay } from '../model/backoff.js';
import { ReportSequencer } from '../model/report-seq.js';
import type { ControlPlane } from './control-plane.js';
import { agentMetrics } from './metrics.js';

export interface ReportContent {
  replicaId: string;
  appId: string;
  phase: ReplicaPhase;
  restarts: number;
  everReady: boolean;
  endpoint?: { address: string; ports: Record<string, number> };
  exitCode?: number;
  reason?: InfoCode;
  message?: string;
}

const MAX_QUEUE = 10_000;
const MAX_MESSAGE = 8192;

/**
 * Publishes replica reports in order, each with a unique id and a per-replica sequence number that
 * keeps growing across agent restarts. A report that cannot be published is retried (with backoff)
 * until it is, or until the queue overflows (oldest dropped, logged) — it never blocks the caller.
 */
export class Reporter {
  private readonly log = new Logger('Reporter');
  private readonly queue: ReplicaReport[] = [];
  private running = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;

  constructor(
    private readonly nodeId: string,
    private readonly plane: ControlPlane,
    private readonly seq = new ReportSequencer(),
  ) {}

  report(c: ReportContent): ReplicaReport {
    const seq = this.seq.next(c.replicaId);
    const report: ReplicaReport = {
      id: `${this.nodeId}:${c.replicaId}:${seq}`,
      nodeId: this.nodeId,
      replicaId: c.replicaId,
      appId: c.appId,
      seq,
      at: new Date().toISOString(),
      phase: c.phase,
      restarts: c.restarts,
      everReady: c.everReady,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.message !== undefined ? { message: c.message.slice(0, MAX_MESSAGE) } : {}),
    };
    if (this.queue.length >= MAX_QUEUE) {
      const dropped = this.queue.shift();
      this.log.error(`report queue full: dropped ${dropped?.id}`);
    }
    this.queue.push(report);
    agentMetrics.reports.inc({ node: this.nodeId, phase: c.phase });
    if (c.phase === 'STOPPED') this.seq.forget(c.replicaId);
    this.pump();
    return report;
  }

  /** Resolves once the queue is empty, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.race([this.idle, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  stop(): void {
    this.stopped = true;
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    void this.run();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (this.queue.length && !this.stopped) {
      const next = this.queue[0];
      if (!next) break;
      try {
        await this.plane.publishReport(next);
        this.queue.shift();
        attempt = 0;
      } catch (error) {
        if ((error as Error).name === 'ZodError') {
          this.log.error(`dropping invalid report ${next.id}: ${(error as Error).message}`);
          this.queue.shift();
          continue;
        }
        if (attempt === 0)
          this.log.warn(`cannot publish report ${next.id}, retrying: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, retryDelay(attempt++, 200, 5000)));
      }
    }
    this.running = false;
    this.markIdle();
  }
}
