import type { LivenessProbe } from '@gantry/contracts';

import {
  type LivenessOutcome,
  LivenessTracker,
  type LivenessVerdict,
  nextTryInMs,
} from '../model/liveness.js';
import type { Prober, ProbeTarget } from './prober.js';

/**
 * Probes one container run for life: from `start(delayMs)` (the rest of its startup grace), a try
 * every `periodSeconds`, each within `timeoutSeconds`; at `failureThreshold` failures in a row it
 * tells `onDead` once and stops. Stops for good on `stop()`; a try in flight then counts for nothing.
 */
export class LivenessLoop {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly tracker: LivenessTracker;

  constructor(
    private readonly prober: Prober,
    private readonly target: ProbeTarget,
    private readonly probe: Pick<LivenessProbe, 'periodSeconds' | 'failureThreshold' | 'timeoutSeconds'>,
    private readonly onDead: (verdict: LivenessVerdict) => void,
  ) {
    this.tracker = new LivenessTracker(probe.failureThreshold);
  }

  start(delayMs: number): this {
    this.schedule(delayMs);
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const began = Date.now();
    const outcome: LivenessOutcome = await this.prober
      .probe(this.target, this.probe.timeoutSeconds * 1000)
      .catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
    if (this.stopped) return;
    const verdict = this.tracker.observe(outcome);
    if (!verdict) return this.schedule(nextTryInMs(this.probe.periodSeconds, Date.now() - began));
    this.stopped = true;
    try {
      this.onDead(verdict);
    } catch {
      // the listener's problem
    }
  }
}
