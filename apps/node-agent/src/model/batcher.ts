import { createHash } from 'node:crypto';

import type { LogLine } from '@gantry/contracts';

/**
 * The id of a batch of log lines: the same lines of the same replica always get the same id, so a
 * batch published again (a retry, an agent restart) is deduplicated by JetStream and the collector.
 */
export function batchId(replicaId: string, lines: ReadonlyArray<LogLine>): string {
  const h = createHash('sha256');
  h.update(replicaId);
  for (const l of lines) h.update(`\n${l.ts}\t${l.stream}\t${l.line}`);
  return `${replicaId}.${h.digest('hex').slice(0, 32)}`;
}

export interface BatcherOptions {
  maxLines: number;
  maxDelayMs: number;
}

export const DEFAULT_BATCHING: BatcherOptions = { maxLines: 200, maxDelayMs: 250 };

/**
 * Groups lines into batches of at most `maxLines`, shipped at the latest `maxDelayMs` after their
 * first line, one batch at a time and in order. `add` applies back-pressure: when the buffer is
 * full it resolves only once every batch before it has been shipped. `ship` is expected to retry on
 * its own; if it throws anyway, `onError` hears of it and the next batches still go.
 */
export class LogBatcher {
  private buffer: LogLine[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly ship: (lines: LogLine[]) => Promise<void>,
    private readonly opts: BatcherOptions = DEFAULT_BATCHING,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  async add(line: LogLine): Promise<void> {
    this.buffer.push(line);
    if (this.buffer.length >= this.opts.maxLines) await this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxDelayMs);
  }

  /** Ships what is buffered; resolves once everything added so far has been shipped. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length) {
      const lines = this.buffer;
      this.buffer = [];
      this.chain = this.chain.then(() => this.ship(lines)).catch((error: unknown) => this.onError(error));
    }
    return this.chain;
  }

  /** Lines buffered, not yet handed to `ship`. */
  get buffered(): number {
    return this.buffer.length;
  }
}
