/** One replica's usage over one node-agent sampling interval, stamped with when it was received. */
export interface UsageSample {
  at: number;
  /** CPUs used (1.5 = one and a half CPUs busy). */
  cpu: number;
  /** Bytes of memory in use. */
  memory: number;
}

/**
 * Recent usage per replica, for the apps the autoscaler follows. Bounded: samples older than
 * `keepMs` go at each prune, and a replica keeps at most `maxPerReplica` of them (a node reporting
 * far more often than expected cannot grow it).
 */
export class UsageSamples {
  private readonly byReplica = new Map<string, { appId: string; samples: UsageSample[] }>();

  constructor(
    private readonly keepMs: number,
    private readonly maxPerReplica = 1000,
  ) {}

  add(replicaId: string, appId: string, sample: UsageSample): void {
    let r = this.byReplica.get(replicaId);
    if (!r || r.appId !== appId) {
      r = { appId, samples: [] };
      this.byReplica.set(replicaId, r);
    }
    r.samples.push(sample);
    if (r.samples.length > this.maxPerReplica) r.samples.splice(0, r.samples.length - this.maxPerReplica);
  }

  /** The replica's samples received after `since`, if they are of `appId`. */
  since(replicaId: string, appId: string, since: number): UsageSample[] {
    const r = this.byReplica.get(replicaId);
    if (!r || r.appId !== appId) return [];
    return r.samples.filter((s) => s.at > since);
  }

  /** Drops samples older than the window, replicas left without any, and every replica of `forget`. */
  prune(now: number, forget: (appId: string) => boolean = () => false): void {
    for (const [replicaId, r] of this.byReplica) {
      if (forget(r.appId)) {
        this.byReplica.delete(replicaId);
        continue;
      }
      const keepFrom = r.samples.findIndex((s) => s.at > now - this.keepMs);
      if (keepFrom === -1) this.byReplica.delete(replicaId);
      else if (keepFrom > 0) r.samples.splice(0, keepFrom);
    }
  }

  get replicaCount(): number {
    return this.byReplica.size;
  }
}
