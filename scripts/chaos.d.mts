// Types of chaos.mjs for the end-to-end suite, which runs a short seed of the chaos suite.
import type { ChaosHarness, ChaosPlanOptions } from '@gantry/testing';

export interface ChaosPlatformOptions {
  /** Node agents (default 2). */
  agents?: number;
  /** Simulated V100S GPUs per agent (default 2). */
  gpus?: number;
  /** A web image to run (serves GET / on 8080); one is built, and removed at the end, when absent. */
  image?: string;
  logDir?: string;
  log?: (line: string) => void;
}

/** A platform of the run's own (private PostgreSQL, 3-server NATS cluster, namespace, ports). */
export interface ChaosPlatform extends ChaosHarness {
  readonly logDir: string;
  /** Stops every process and removes every container, image and directory it made. Safe twice. */
  stop(): Promise<void>;
}

export function startChaosPlatform(opts?: ChaosPlatformOptions): Promise<ChaosPlatform>;
export function chaosPlanOptions(h: ChaosHarness, seed: number, minutes: number): ChaosPlanOptions;
