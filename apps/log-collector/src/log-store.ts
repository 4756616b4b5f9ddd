import type { AppEvent, LogBatch, LogQueryResult } from '@gantry/contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan } from 'typeorm';

import { AppEventRow, LogBatchRow, LogLineRow } from './log.entities.js';
import { normalizeTimestamp } from './timestamps.js';

/** The log collector's storage: the only code that touches its tables. */
@Injectable()
export class LogStore {
  private readonly log = new Logger('LogStore');

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Stores a batch once: a batch id seen before is skipped. Lines with a malformed stamp are dropped. */
  async appendBatch(batch: LogBatch): Promise<{ stored: number }> {
    return this.ds.transaction(async (em) => {
      const inserted = await em
        .createQueryBuilder()
        .insert()
        .into(LogBatchRow)
        .values({ id: batch.id })
        .orIgnore()
        .execute();
      if ((inserted.raw as unknown[]).length === 0) return { stored: 0 };
      const rows = [];
      for (const l of batch.lines) {
        const ts = normalizeTimestamp(l.ts);
        if (!ts) {
          this.log.warn(
            `dropping a line of replica ${batch.replicaId} with a malformed stamp ${JSON.stringify(l.ts)}`,
          );
          continue;
        }
        // PostgreSQL text cannot hold NUL.
        rows.push({
          appId: batch.appId,
          replicaId: batch.replicaId,
          nodeId: batch.nodeId,
          ts,
          stream: l.stream,
          line: l.line.replaceAll('\0', ''),
        });
      }
      if (rows.length) await em.insert(LogLineRow, rows);
      return { stored: rows.length };
    });
  }

  /** The last `tail` lines of an app (optionally of one replica, or since a date), oldest first. */
  async tail(q: { appId: string; tail: number; replica?: string; since?: string }): Promise<LogQueryResult> {
    const qb = this.ds
      .getRepository(LogLineRow)
      .createQueryBuilder('l')
      .where('l.appId = :appId', { appId: q.appId });
    if (q.replica) qb.andWhere('l.replicaId = :replica', { replica: q.replica });
    if (q.since) {
      const since = normalizeTimestamp(new Date(q.since).toISOString());
      qb.andWhere('l.ts >= :since', { since });
    }
    const rows = await qb.orderBy('l.ts', 'DESC').addOrderBy('l.id', 'DESC').limit(q.tail).getMany();
    rows.reverse();
    const last = rows.at(-1);
    return {
      ...(last ? { lastActivity: new Date(last.ts.slice(0, 23) + 'Z').toISOString() } : {}),
      logs: rows.map((r) => ({ timestamp: r.ts, replica: r.replicaId, stream: r.stream, content: r.line })),
    };
  }

  /** Records events, in one statement; an event already recorded (same id) is left as it is. */
  async recordEvents(events: readonly AppEvent[]): Promise<void> {
    await this.ds
      .createQueryBuilder()
      .insert()
      .into(AppEventRow)
      .values(
        events.map((e) => ({
          id: e.id,
          appId: e.appId,
          projectId: e.projectId,
          at: new Date(e.at),
          source: e.source,
          type: e.type,
          reason: e.reason,
          message: e.message,
          replicaId: e.replicaId ?? null,
          nodeId: e.nodeId ?? null,
        })),
      )
      .orIgnore()
      .execute();
  }

  /** The last `limit` events of an app, oldest first. */
  async events(appId: string, limit: number): Promise<AppEvent[]> {
    const rows = await this.ds
      .getRepository(AppEventRow)
      .find({ where: { appId }, order: { at: 'DESC', seq: 'DESC' }, take: limit });
    return rows.reverse().map((r) => ({
      id: r.id,
      appId: r.appId,
      projectId: r.projectId,
      at: r.at.toISOString(),
      source: r.source as AppEvent['source'],
      type: r.type as AppEvent['type'],
      reason: r.reason as AppEvent['reason'],
      message: r.message,
      ...(r.replicaId ? { replicaId: r.replicaId } : {}),
      ...(r.nodeId ? { nodeId: r.nodeId } : {}),
    }));
  }

  /** Deletes what is older than `before`. */
  async prune(before: Date): Promise<void> {
    const stamp = normalizeTimestamp(before.toISOString()) ?? '';
    await this.ds.getRepository(LogLineRow).delete({ ts: LessThan(stamp) });
    await this.ds.getRepository(LogBatchRow).delete({ receivedAt: LessThan(before) });
    await this.ds.getRepository(AppEventRow).delete({ at: LessThan(before) });
  }
}
