/** One line of `GET /v1/app/{id}/log`. */
export interface LogEntry {
  timestamp: string;
  replica: string;
  stream: 'stdout' | 'stderr';
  content: string;
}

/** Milliseconds of an RFC 3339 timestamp (nanoseconds are cut); NaN when unreadable. */
const millis = (ts: string): number => Date.parse(ts);

const keyOf = (l: LogEntry): string => `${l.timestamp}\u0000${l.replica}\u0000${l.stream}\u0000${l.content}`;

/**
 * Follows an app's log by polling `GET /v1/app/{id}/log?since=<last timestamp seen>`. The API's
 * `since` is inclusive and at millisecond precision, so each poll repeats the lines of the last
 * millisecond already printed: the follower remembers those (by timestamp, replica, stream and
 * content, counting duplicates) and returns only what is new.
 */
export class LogFollower {
  /** Timestamp of the newest line seen. */
  private last: string | undefined;
  /** Lines seen whose millisecond is the newest one's: the next poll returns them again. */
  private boundary = new Map<string, number>();

  constructor(since?: string) {
    this.last = since;
  }

  /** What to send as `since` on the next poll (undefined: no line seen yet). */
  get since(): string | undefined {
    return this.last;
  }

  /** The lines of `batch` (oldest first) not returned before. */
  accept(batch: readonly LogEntry[]): LogEntry[] {
    const fresh: LogEntry[] = [];
    const inBatch = new Map<string, number>();
    const floor = this.last !== undefined ? millis(this.last) : Number.NEGATIVE_INFINITY;
    for (const line of batch) {
      const t = millis(line.timestamp);
      if (t < floor) continue; // older than what was already printed
      const key = keyOf(line);
      const n = (inBatch.get(key) ?? 0) + 1;
      inBatch.set(key, n);
      if (n <= (this.boundary.get(key) ?? 0)) continue; // printed by an earlier poll
      fresh.push(line);
    }
    // Remember the lines of the newest millisecond, with their counts in this batch (the next poll
    // returns all of them again, old and new).
    const newest = batch.reduce<string | undefined>(
      (acc, l) => (acc === undefined || millis(l.timestamp) >= millis(acc) ? l.timestamp : acc),
      this.last,
    );
    if (newest !== undefined) {
      const top = millis(newest);
      const next = new Map<string, number>();
      if (top === floor) for (const [k, v] of this.boundary) next.set(k, v);
      for (const line of batch)
        if (millis(line.timestamp) === top) {
          const key = keyOf(line);
          next.set(key, Math.max(next.get(key) ?? 0, inBatch.get(key) ?? 0));
        }
      this.boundary = next;
      this.last = newest;
    }
    return fresh;
  }
}

/** A log line as printed: the content, optionally prefixed by its timestamp and replica. */
export function formatLogLine(l: LogEntry, opts: { timestamps?: boolean; replica?: boolean } = {}): string {
  const prefix = [opts.timestamps ? l.timestamp : undefined, opts.replica ? `[${l.replica}]` : undefined]
    .filter(Boolean)
    .join(' ');
  return prefix ? `${prefix} ${l.content}` : l.content;
}

/**
 * Whether each printed line names its replica. As asked (`--prefix` / `--no-prefix`); else never
 * with `--replica` (every line is that one's); else as soon as the lines can be told apart by
 * nothing else: the app is meant to run several replicas, or its lines have come from more than one
 * (a rolling update, a scale-down). Once lines name their replica they keep doing so, so a followed
 * log never switches back.
 */
export class ReplicaNaming {
  private readonly seen = new Set<string>();
  private naming: boolean;

  constructor(
    private readonly opts: {
      /** `--prefix` (true) or `--no-prefix` (false); undefined: decide. */
      asked?: boolean;
      /** `--replica`: only this replica's lines are shown. */
      replica?: string;
      /** How many replicas the app is meant to run, when known. */
      desiredReplicas?: number;
    },
  ) {
    this.naming = opts.asked ?? (opts.replica === undefined && (opts.desiredReplicas ?? 1) > 1);
  }

  /** Whether the lines of `batch`, printed next, name their replica. */
  accept(batch: readonly LogEntry[]): boolean {
    if (this.opts.asked !== undefined || this.opts.replica !== undefined) return this.naming;
    for (const l of batch) this.seen.add(l.replica);
    if (this.seen.size > 1) this.naming = true;
    return this.naming;
  }
}
