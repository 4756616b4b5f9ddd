import type { NodeHeartbeat } from '@gantry/contracts';
import { AdvisoryLease, leaseHeldCountSql, Outbox, type OutboxEntry } from '@gantry/database';
import { unavailable } from '@gantry/errors';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Not } from 'typeorm';

import type { Changes, Fleet, StoredApp, StoredReplica } from '../model/fleet.js';
import { AppRow, NodeRow, ReplicaRow } from './entities.js';

/** The scheduler's storage: the only code that touches its tables. */
@Injectable()
export class SchedulerStore {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly lease: AdvisoryLease,
  ) {}

  flushOutbox(): Promise<void> {
    return this.outbox.flush();
  }

  async nodes(): Promise<NodeRow[]> {
    return this.ds.getRepository(NodeRow).find();
  }

  /** Records a node's heartbeat (never touching its assignment generation). */
  async saveHeartbeat(hb: NodeHeartbeat): Promise<void> {
    await this.ds
      .createQueryBuilder()
      .insert()
      .into(NodeRow)
      .values({
        id: hb.nodeId,
        address: hb.address,
        capacity: hb.capacity,
        labels: hb.labels,
        simulatedGpus: hb.simulatedGpus,
        lastHeartbeatAt: new Date(hb.at),
      })
      .orUpdate(['address', 'capacity', 'labels', 'simulated_gpus', 'last_heartbeat_at'], ['id'])
      .execute();
  }

  /**
   * Records when each of these nodes was last heard from, in one statement, never moving a time
   * back; returns the nodes that have no row (removed meanwhile).
   */
  async touchHeartbeats(seen: ReadonlyMap<string, number>): Promise<string[]> {
    if (seen.size === 0) return [];
    const rows: Array<{ id: string }> = await this.ds.query(
      `WITH u AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)),
            touched AS (UPDATE "scheduler"."nodes" n SET "last_heartbeat_at" = u.at FROM u
                         WHERE n."id" = u.id AND n."last_heartbeat_at" < u.at)
       SELECT u.id FROM u WHERE NOT EXISTS (SELECT 1 FROM "scheduler"."nodes" n WHERE n."id" = u.id)`,
      [[...seen.keys()], [...seen.values()].map((ms) => new Date(ms).toISOString())],
    );
    return rows.map((r) => r.id);
  }

  async setNodeHealth(id: string, health: string): Promise<void> {
    await this.ds.getRepository(NodeRow).update({ id }, { health });
  }

  async setNodeFlags(id: string, flags: { schedulable: boolean; draining: boolean }): Promise<void> {
    await this.ds.getRepository(NodeRow).update({ id }, flags);
  }

  /** Everything the leader works from (see Fleet): apps, replicas, and each node's generation. */
  async load(): Promise<{
    apps: StoredApp[];
    replicas: StoredReplica[];
    generations: Map<string, number>;
    deleted: string[];
  }> {
    const apps = this.ds.getRepository(AppRow);
    const [live, deleted, replicas, nodes] = await Promise.all([
      apps.find({ where: { state: Not('DELETED') } }),
      apps.find({ select: { id: true }, where: { state: 'DELETED' } }),
      this.ds.getRepository(ReplicaRow).find(),
      this.ds.getRepository(NodeRow).find({ select: { id: true, generation: true } }),
    ]);
    return {
      apps: live.map(storedApp),
      replicas: replicas.map(storedReplica),
      generations: new Map(nodes.map((n) => [n.id, n.generation])),
      deleted: deleted.map((a) => a.id),
    };
  }

  /**
   * Commits one pass atomically — in one statement, so one round trip: the rows it changed (as the
   * fleet now holds them, sent as JSON that PostgreSQL expands), node generations, nodes removed,
   * and the messages to send, through the outbox. Fenced by the leader lease: the statement commits
   * only while the session that took the lease still holds it, so a leader that has not yet noticed
   * it lost the lease writes nothing (it fails UNAVAILABLE, retryable: its messages are redelivered,
   * to whoever leads).
   */
  async persist(ch: Changes, fleet: Fleet): Promise<void> {
    const lease = this.lease.fence;
    if (!lease) throw unavailable('this scheduler has never held the leader lease: it writes nothing');
    const full = [...ch.desired].map((id) => fleet.app(id)).filter((a) => a !== undefined);
    const status = [...ch.apps]
      .filter((id) => !ch.desired.has(id))
      .map((id) => fleet.app(id))
      .filter((a) => a !== undefined);
    const replicas = [...ch.replicas].map((id) => fleet.replica(id)).filter((r) => r !== undefined);
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    const parts: string[] = [];
    if (full.length > 0)
      parts.push(upsertSql('apps', APP_INSERT, APP_UPDATE, param(JSON.stringify(full.map(appRow)))));
    if (status.length > 0) {
      const rows = status.map(appStatusRow);
      parts.push(
        `UPDATE "scheduler"."apps" a SET ${APP_STATUS.map((c) => `"${c}" = x."${c}"`).join(', ')}
           FROM jsonb_populate_recordset(NULL::"scheduler"."apps", ${param(JSON.stringify(rows))}::jsonb) x
          WHERE a."id" = x."id"`,
      );
    }
    if (ch.deletedReplicas.size > 0)
      parts.push(
        `DELETE FROM "scheduler"."replicas" WHERE "id" = ANY(${param([...ch.deletedReplicas])}::text[])`,
      );
    if (replicas.length > 0)
      parts.push(
        upsertSql(
          'replicas',
          REPLICA_INSERT,
          REPLICA_UPDATE,
          param(JSON.stringify(replicas.map(replicaRow))),
        ),
      );
    // Generations only go up, and each one is written once: a node whose stored generation is not
    // below the new one was written by someone else (a leader that has not yet noticed it lost the
    // lease), so the whole pass fails and the fleet is reloaded.
    // (Each message depends on a count, so that it is never folded into a constant and raised.)
    const fences = [
      `SELECT CASE WHEN h.n <> 1
         THEN ('${LEASE_LOST}: ' || h.n || ' session(s) of this scheduler hold it')::int END
         FROM (SELECT ${leaseHeldCountSql(lease, param)} AS n) h`,
    ];
    if (ch.generations.size > 0) {
      parts.push(
        `UPDATE "scheduler"."nodes" n SET "generation" = u.g
           FROM unnest(${param([...ch.generations.keys()])}::text[], ${param([...ch.generations.values()])}::int[]) AS u(id, g)
          WHERE n."id" = u.id AND n."generation" < u.g
          RETURNING 1`,
      );
      fences.push(`SELECT CASE WHEN g.n <> ${param(ch.generations.size)}::bigint
                 THEN ('assignment generations were written by another scheduler: ' || g.n || ' of ' || ${param(ch.generations.size)}::bigint || ' nodes')::int END
                 FROM (SELECT count(*) AS n FROM w${parts.length - 1}) g`);
    }
    if (ch.deletedNodes.size > 0)
      parts.push(`DELETE FROM "scheduler"."nodes" WHERE "id" = ANY(${param([...ch.deletedNodes])}::text[])`);
    // Built by the Fleet from validated events and reports, under the contracts' types; fleet.spec
    // checks every kind of message it sends against its contract. Only assignment lists are checked
    // here (a few per pass): a node refuses a whole list that breaks its contract, and a pass that
    // would write one fails instead, set aside app by app.
    if (ch.outbox.length > 0)
      parts.push(this.outbox.insertSql(param(this.outbox.encode(ch.outbox, isAssignmentList))));
    if (parts.length === 0) return;
    // Parts touch different rows (a replica is either removed or written; an app either whole or
    // by its status), as one statement may.
    const checks = fences.map((sql, i) => `(${sql}) AS f${i}`).join(', ');
    try {
      await this.ds.query(
        `WITH ${parts.map((sql, i) => `w${i} AS (${sql})`).join(', ')} SELECT ${checks}`,
        params,
      );
    } catch (error) {
      if ((error as Error).message.includes(LEASE_LOST))
        throw unavailable(`pass not committed: ${LEASE_LOST}`, error);
      throw error;
    }
  }
}

const LEASE_LOST = 'the scheduler lease is no longer held by the session that took it';

const isAssignmentList = (e: OutboxEntry): boolean => e.kind === 'kv-put' && e.bucket === 'assignments';

/** Inserts or replaces rows given as JSON objects keyed by column name, expanded by PostgreSQL. */
function upsertSql(
  table: 'apps' | 'replicas',
  insert: readonly string[],
  update: readonly string[],
  json: string,
): string {
  const cols = insert.map((c) => `"${c}"`).join(', ');
  return `INSERT INTO "scheduler"."${table}" (${cols})
      SELECT ${cols} FROM jsonb_populate_recordset(NULL::"scheduler"."${table}", ${json}::jsonb)
    ON CONFLICT ("id") DO UPDATE SET ${update.map((c) => `"${c}" = EXCLUDED."${c}"`).join(', ')}`;
}

/** An app's status columns; all its columns (its creation time is the database's) when its desired state changes. */
const APP_STATUS = [
  'state',
  'info',
  'history',
  'status_version',
  'available_replicas',
  'allocated_units',
  'last_transition_at',
  'route_version',
  'route_digest',
  'scaling',
  'scaling_version',
  'scaling_digest',
  'updated_at',
];
const APP_UPDATE = ['project_id', 'desired_version', 'lifecycle', 'spec', 'rate', ...APP_STATUS];
const APP_INSERT = ['id', ...APP_UPDATE];
/** A replica's placement never changes: a later write replaces only what its node reports and its fate. */
const REPLICA_UPDATE = [
  'desired',
  'phase',
  'ever_ready',
  'restarts',
  'exit_code',
  'reason',
  'message',
  'endpoint',
  'report_seq',
  'updated_at',
];
const REPLICA_INSERT = [
  'id',
  'app_id',
  'node_id',
  'spec_version',
  'spec_hash',
  'cpu',
  'memory',
  'units',
  'gpus',
  'assignment',
  'created_at',
  ...REPLICA_UPDATE,
];

function storedApp(row: AppRow): StoredApp {
  return {
    id: row.id,
    projectId: row.projectId,
    desiredVersion: row.desiredVersion,
    lifecycle: row.lifecycle,
    spec: row.spec,
    rate: row.rate,
    state: row.state,
    info: row.info,
    history: row.history,
    statusVersion: row.statusVersion,
    availableReplicas: row.availableReplicas,
    allocatedUnits: row.allocatedUnits,
    lastTransitionDate: row.lastTransitionAt.toISOString(),
    routeVersion: row.routeVersion,
    routeDigest: row.routeDigest,
    ...(row.scaling ? { scaling: row.scaling } : {}),
    scalingVersion: row.scalingVersion,
    scalingDigest: row.scalingDigest,
  };
}

/** An app as a row keyed by column name (see `upsert`). */
function appRow(a: StoredApp): Record<string, unknown> {
  return {
    ...appStatusRow(a),
    project_id: a.projectId,
    desired_version: a.desiredVersion,
    lifecycle: a.lifecycle,
    spec: a.spec,
    rate: a.rate,
  };
}

/** An app's id and status columns (APP_STATUS), keyed by column name. */
function appStatusRow(a: StoredApp): Record<string, unknown> {
  return {
    id: a.id,
    state: a.state,
    info: a.info,
    history: a.history,
    status_version: a.statusVersion,
    available_replicas: a.availableReplicas,
    allocated_units: a.allocatedUnits,
    last_transition_at: a.lastTransitionDate,
    route_version: a.routeVersion,
    route_digest: a.routeDigest,
    scaling: a.scaling ?? null,
    scaling_version: a.scalingVersion,
    scaling_digest: a.scalingDigest,
    updated_at: new Date().toISOString(),
  };
}

function storedReplica(row: ReplicaRow): StoredReplica {
  return {
    id: row.id,
    appId: row.appId,
    nodeId: row.nodeId,
    specVersion: row.specVersion,
    ...(row.specHash ? { specHash: row.specHash } : {}),
    image: row.assignment.image,
    desired: row.desired,
    cpu: row.cpu,
    memory: row.memory,
    units: row.units,
    gpus: row.gpus,
    phase: row.phase,
    everReady: row.everReady,
    restarts: row.restarts,
    ...(row.exitCode !== null ? { exitCode: row.exitCode } : {}),
    ...(row.reason ? { reason: row.reason } : {}),
    ...(row.message ? { message: row.message } : {}),
    ...(row.endpoint ? { endpoint: row.endpoint } : {}),
    reportSeq: row.reportSeq,
    assignment: row.assignment,
    createdAt: row.createdAt.toISOString(),
  };
}

/** A replica as a row keyed by column name (see `upsert`). */
function replicaRow(r: StoredReplica): Record<string, unknown> {
  return {
    id: r.id,
    app_id: r.appId,
    node_id: r.nodeId,
    spec_version: r.specVersion,
    spec_hash: r.specHash ?? null,
    desired: r.desired,
    cpu: r.cpu,
    memory: r.memory,
    units: r.units,
    gpus: r.gpus,
    assignment: r.assignment,
    phase: r.phase,
    ever_ready: r.everReady,
    restarts: r.restarts,
    exit_code: r.exitCode ?? null,
    reason: r.reason ?? null,
    message: r.message ?? null,
    endpoint: r.endpoint ?? null,
    report_seq: r.reportSeq,
    created_at: r.createdAt,
    updated_at: new Date().toISOString(),
  };
}
