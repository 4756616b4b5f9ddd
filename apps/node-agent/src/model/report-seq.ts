/**
 * Sequence numbers of replica reports: strictly increasing per replica, including across agent
 * restarts, without storing anything. A number is the wall clock in microseconds, bumped past the
 * previous one when reports come faster than the clock ticks. A restarted agent starts from its
 * clock, which is past every number the previous process used unless the clock went back or that
 * process issued more than 1000 reports per millisecond for a while.
 */
export class ReportSequencer {
  private readonly last = new Map<string, number>();

  constructor(private readonly clockMs: () => number = Date.now) {}

  next(replicaId: string): number {
    const now = Math.floor(this.clockMs() * 1000);
    const seq = Math.max(now, (this.last.get(replicaId) ?? 0) + 1);
    this.last.set(replicaId, seq);
    return seq;
  }

  forget(replicaId: string): void {
    this.last.delete(replicaId);
  }
}
