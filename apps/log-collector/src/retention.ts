import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { LogStore } from './log-store.js';

const HOUR = 3_600_000;

/** Deletes log lines and events past the retention period, hourly. */
@Injectable()
export class Retention implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private readonly log = new Logger('Retention');

  constructor(
    private readonly store: LogStore,
    private readonly days: number,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.prune(), HOUR);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async prune(): Promise<void> {
    try {
      await this.store.prune(new Date(Date.now() - this.days * 24 * HOUR));
    } catch (error) {
      this.log.warn(`pruning failed: ${(error as Error).message}`);
    }
  }
}
