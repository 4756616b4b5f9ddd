import type {
  AppSortField,
  AppSpec,
  AppState,
  AppStatusChanged,
  BucketName,
  BucketValue,
  EventPayload,
  EventSubject,
  Flavor,
  QuotaField,
  Rate,
} from '@gantry/contracts';
import { Outbox } from '@gantry/database';
import { errorMessage } from '@gantry/errors';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, Not } from 'typeorm';

import type { Lifecycle } from '../domain/lifecycle.js';
import type { QuotaView } from '../domain/quota.js';
import type { PreviousRuntime } from '../domain/runtime.js';
import { AppRow, FlavorRow, ProjectRow, RegistryRow, TokenRow } from './entities.js';

export interface ListAppsFilter {
  projectId: string;
  states?: AppState[];
  /** Every pair must be a label of the app. */
  labels?: Array<{ key: string; value: string }>;
  updatedAfter?: string;
  updatedBefore?: string;
  sort: AppSortField;
  order: 'asc' | 'desc';
  page: number;
  size: number;
}

const SORT_COLUMNS: Record<AppSortField, string> = {
  createdAt: 'a.created_at',
  updatedAt: 'a.updated_at',
  name: 'a.name',
  'status.state': 'a.state',
};

/** What a spec change writes of an app. */
export interface SpecWrite {
  spec: AppSpec;
  rate: Rate;
  previousRuntime: PreviousRuntime | null;
}

/**
 * What a service does inside one transaction: read with row locks, write rows, and queue the events
 * and KV writes the change implies (sent by the outbox relay after commit).
 */
export interface GatewayTx {
  /** The project, locked until commit (serialises quota decisions of one project). */
  lockProject(id: string): Promise<ProjectRow | null>;
  /** The app, locked until commit (serialises lifecycle changes of one app). */
  lockApp(id: string): Promise<AppRow | null>;
  /** Apps of the project that may count against its quota (not deleted, asked to run). */
  appsAskedToRun(projectId: string, exceptAppId?: string): Promise<QuotaView[]>;
  /** How many apps the project has that are not deleted (its apps quota counts them). */
  countApps(projectId: string): Promise<number>;
  /** How many tokens the project has. */
  countTokens(projectId: string): Promise<number>;
  insertApp(row: AppRow): Promise<void>;
  setLifecycle(id: string, lifecycle: Lifecycle, version: number, at: Date): Promise<void>;
  /**
   * Stores a changed spec as desired version `version`, with the rate it is billed at and the runtime
   * spec a rollback would return to.
   */
  setSpec(id: string, change: SpecWrite, version: number, at: Date): Promise<void>;
  /** Stores what a rollback would return to, the desired version unchanged. */
  setPreviousRuntime(id: string, previousRuntime: PreviousRuntime | null): Promise<void>;
  /** Sets the quotas given; the others keep their value. */
  setProjectQuotas(id: string, quotas: Partial<Record<QuotaField, number>>): Promise<void>;
  insertProject(row: ProjectRow): Promise<void>;
  tokenByName(projectId: string, name: string): Promise<TokenRow | null>;
  lockToken(id: string): Promise<TokenRow | null>;
  saveToken(row: TokenRow): Promise<void>;
  deleteToken(id: string): Promise<void>;
  allTokens(): Promise<TokenRow[]>;
  event<S extends EventSubject>(subject: S, payload: EventPayload<S>): Promise<void>;
  kvPut<B extends BucketName>(bucket: B, key: string, value: BucketValue<B>): Promise<void>;
  kvDelete(bucket: BucketName, key: string): Promise<void>;
}

/** The gateway's storage: the only code that touches its tables. */
@Injectable()
export class GatewayStore {
  private readonly log = new Logger('GatewayStore');

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly outbox: Outbox,
  ) {}

  /**
   * Runs `fn` in one transaction; what it queued on the outbox is sent right after commit (and by the
   * relay's timer should that fail).
   */
  async transaction<T>(fn: (tx: GatewayTx) => Promise<T>): Promise<T> {
    const result = await this.ds.transaction((em) => fn(this.tx(em)));
    this.outbox
      .flush()
      .catch((error: unknown) => this.log.warn(`outbox flush failed: ${(error as Error).message}`));
    return result;
  }

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  // Flavors

  async flavors(): Promise<Flavor[]> {
    const rows = await this.ds.getRepository(FlavorRow).find({ order: { id: 'ASC' } });
    return rows.map(toFlavor);
  }

  // Projects

  project(id: string): Promise<ProjectRow | null> {
    return this.ds.getRepository(ProjectRow).findOneBy({ id });
  }

  projects(): Promise<ProjectRow[]> {
    return this.ds.getRepository(ProjectRow).find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  // Tokens

  tokenByHash(secretHash: string): Promise<TokenRow | null> {
    return this.ds.getRepository(TokenRow).findOneBy({ secretHash });
  }

  token(id: string): Promise<TokenRow | null> {
    return this.ds.getRepository(TokenRow).findOneBy({ id });
  }

  tokens(projectId?: string): Promise<TokenRow[]> {
    return this.ds
      .getRepository(TokenRow)
      .find({ where: projectId ? { projectId } : {}, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  // Registries

  registries(projectId: string): Promise<RegistryRow[]> {
    return this.ds
      .getRepository(RegistryRow)
      .find({ where: { projectId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  registry(id: string): Promise<RegistryRow | null> {
    return this.ds.getRepository(RegistryRow).findOneBy({ id });
  }

  /** Inserts a registry; false when the project already has one at its url. */
  async insertRegistry(row: RegistryRow): Promise<boolean> {
    return uniqueOrFalse(async () => {
      await this.ds.getRepository(RegistryRow).insert(row);
    });
  }

  /**
   * Writes a registry's changed fields, if it still exists: 'gone' when it was deleted meanwhile,
   * 'taken' when the project already has another one at its url.
   */
  async updateRegistry(row: RegistryRow): Promise<'updated' | 'gone' | 'taken'> {
    let affected = 0;
    const ok = await uniqueOrFalse(async () => {
      const { url, username, passwordSealed, updatedAt } = row;
      const r = await this.ds
        .getRepository(RegistryRow)
        .update({ id: row.id }, { url, username, passwordSealed, updatedAt });
      affected = r.affected ?? 0;
    });
    return !ok ? 'taken' : affected === 0 ? 'gone' : 'updated';
  }

  /** Whether a live app of the project runs (or is to run) `image`. */
  async projectUsesImage(projectId: string, image: string): Promise<boolean> {
    return this.ds
      .getRepository(AppRow)
      .createQueryBuilder('app')
      .where('app.projectId = :projectId AND app.deleted = false', { projectId })
      .andWhere("app.spec ->> 'image' = :image", { image })
      .getExists();
  }

  async deleteRegistry(id: string): Promise<boolean> {
    return ((await this.ds.getRepository(RegistryRow).delete({ id })).affected ?? 0) > 0;
  }

  // Apps

  /** A live app (not reported DELETED). */
  app(id: string): Promise<AppRow | null> {
    return this.ds.getRepository(AppRow).findOneBy({ id, deleted: false });
  }

  /** An app, deleted or not (usage of deleted apps stays readable). */
  appEvenDeleted(id: string): Promise<AppRow | null> {
    return this.ds.getRepository(AppRow).findOneBy({ id });
  }

  async appsAskedToRun(projectId: string): Promise<QuotaView[]> {
    return appsAskedToRun(this.ds.manager, projectId);
  }

  countApps(projectId: string): Promise<number> {
    return countApps(this.ds.manager, projectId);
  }

  countTokens(projectId: string): Promise<number> {
    return this.ds.getRepository(TokenRow).countBy({ projectId });
  }

  async listApps(f: ListAppsFilter): Promise<{ rows: AppRow[]; total: number }> {
    const qb = this.ds
      .getRepository(AppRow)
      .createQueryBuilder('a')
      .where('a.project_id = :projectId', { projectId: f.projectId })
      .andWhere('a.deleted = false');
    if (f.states?.length) qb.andWhere('a.state IN (:...states)', { states: f.states });
    f.labels?.forEach((l, i) =>
      qb.andWhere(`a.spec -> 'labels' @> :label${i}::jsonb`, {
        [`label${i}`]: JSON.stringify({ [l.key]: l.value }),
      }),
    );
    if (f.updatedAfter) qb.andWhere('a.updated_at > :after', { after: new Date(f.updatedAfter) });
    if (f.updatedBefore) qb.andWhere('a.updated_at < :before', { before: new Date(f.updatedBefore) });
    const direction = f.order === 'asc' ? 'ASC' : 'DESC';
    qb.orderBy(SORT_COLUMNS[f.sort], direction)
      .addOrderBy('a.id', direction)
      .offset((f.page - 1) * f.size)
      .limit(f.size);
    const [rows, total] = await qb.getManyAndCount();
    return { rows, total };
  }

  /**
   * Applies observed statuses, each only if newer than the one stored (idempotent: older and
   * duplicate versions change nothing; of one app's statuses, the newest). DELETED is final: nothing
   * is applied after it. One statement for the lot; if PostgreSQL refuses the data of one (a
   * version or a text it cannot store), one at a time, and the refused ones are skipped (an app gets
   * its newest status that can be stored), so that one bad status never holds back the others.
   * Returns how many apps changed.
   */
  async applyStatuses(statuses: readonly AppStatusChanged[]): Promise<number> {
    // Each app's statuses, newest first.
    const byApp = new Map<string, AppStatusChanged[]>();
    for (const e of statuses) byApp.set(e.appId, [...(byApp.get(e.appId) ?? []), e]);
    const lists = [...byApp.values()].map((l) => l.sort((a, b) => b.version - a.version));
    if (lists.length === 0) return 0;
    try {
      return await this.updateStatuses(lists.map((l) => l[0] as AppStatusChanged));
    } catch (error) {
      if (!sqlState(error)?.startsWith('22')) throw error;
    }
    // One at a time: of each app's statuses, the newest PostgreSQL accepts.
    let applied = 0;
    for (const list of lists)
      for (const e of list)
        try {
          applied += await this.updateStatuses([e]);
          break;
        } catch (error) {
          if (!sqlState(error)?.startsWith('22')) throw error;
          this.log.warn(`status ${e.id} of app ${e.appId} cannot be stored, skipped: ${errorMessage(error)}`);
        }
    return applied;
  }

  private async updateStatuses(statuses: readonly AppStatusChanged[]): Promise<number> {
    const { schema, tableName } = this.ds.getMetadata(AppRow);
    const q = (name: string): string => this.ds.driver.escape(name);
    const [, affected] = (await this.ds.query(
      `UPDATE ${schema ? `${q(schema)}.` : ''}${q(tableName)} AS a SET
         state = x.state, info = x.info, available_replicas = x."availableReplicas",
         desired_replicas = COALESCE(x."desiredReplicas", a.desired_replicas),
         history = x.history, last_transition_at = x."lastTransitionDate", status_version = x.version,
         deleted = (x.state = 'DELETED'), updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS x("appId" text, "projectId" text, version integer,
         state text, info jsonb, "availableReplicas" integer, "desiredReplicas" integer, history jsonb,
         "lastTransitionDate" timestamptz)
       WHERE a.id = x."appId" AND a.project_id = x."projectId" AND a.status_version < x.version
         AND a.deleted = false`,
      [JSON.stringify(statuses)],
    )) as [unknown[], number]; // TypeORM answers an UPDATE with [rows, affected]
    return affected;
  }

  private tx(em: EntityManager): GatewayTx {
    const outbox = this.outbox;
    return {
      lockProject: (id) =>
        em.getRepository(ProjectRow).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } }),
      lockApp: (id) =>
        em.getRepository(AppRow).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } }),
      appsAskedToRun: (projectId, exceptAppId) => appsAskedToRun(em, projectId, exceptAppId),
      countApps: (projectId) => countApps(em, projectId),
      countTokens: (projectId) => em.getRepository(TokenRow).countBy({ projectId }),
      insertApp: async (row) => {
        await em.getRepository(AppRow).insert(row);
      },
      setLifecycle: async (id, lifecycle, version, at) => {
        await em.getRepository(AppRow).update({ id }, { lifecycle, desiredVersion: version, updatedAt: at });
      },
      setSpec: async (id, { spec, rate, previousRuntime }, version, at) => {
        await em
          .getRepository(AppRow)
          .update(
            { id },
            { spec, rate, previousRuntime, name: spec.name, desiredVersion: version, updatedAt: at },
          );
      },
      setPreviousRuntime: async (id, previousRuntime) => {
        await em.getRepository(AppRow).update({ id }, { previousRuntime });
      },
      setProjectQuotas: async (id, quotas) => {
        await em.getRepository(ProjectRow).update({ id }, quotas);
      },
      insertProject: async (row) => {
        // A copy: TypeORM writes the defaulted columns back into what it inserts, bigints as strings.
        await em.getRepository(ProjectRow).insert({ ...row });
      },
      tokenByName: (projectId, name) => em.getRepository(TokenRow).findOneBy({ projectId, name }),
      lockToken: (id) =>
        em.getRepository(TokenRow).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } }),
      saveToken: async (row) => {
        await em.getRepository(TokenRow).save(row);
      },
      deleteToken: async (id) => {
        await em.getRepository(TokenRow).delete({ id });
      },
      allTokens: () => em.getRepository(TokenRow).find({ order: { id: 'ASC' } }),
      event: (subject, payload) => outbox.event(em, subject, payload),
      kvPut: (bucket, key, value) => outbox.kvPut(em, bucket, key, value),
      kvDelete: (bucket, key) => outbox.kvDelete(em, bucket, key),
    };
  }
}

async function appsAskedToRun(
  em: EntityManager,
  projectId: string,
  exceptAppId?: string,
): Promise<QuotaView[]> {
  const rows = await em.getRepository(AppRow).find({
    where: {
      projectId,
      deleted: false,
      lifecycle: 'RUNNING',
      ...(exceptAppId ? { id: Not(exceptAppId) } : {}),
    },
    select: { spec: true, lifecycle: true, state: true },
  });
  return rows.map((r) => ({ spec: r.spec, lifecycle: r.lifecycle, state: r.state }));
}

const countApps = (em: EntityManager, projectId: string): Promise<number> =>
  em.getRepository(AppRow).countBy({ projectId, deleted: false });

function toFlavor(r: FlavorRow): Flavor {
  return {
    id: r.id,
    type: r.type,
    default: r.isDefault,
    description: r.description,
    max: r.maxUnits,
    resourcesPerUnit: {
      cpu: r.cpuPerUnit,
      memory: r.memoryPerUnit,
      ephemeralStorage: r.ephemeralStoragePerUnit,
      publicNetwork: r.publicNetworkPerUnit,
      privateNetwork: r.privateNetworkPerUnit,
    },
    ...(r.gpuBrand && r.gpuModel && r.gpuMemory !== null
      ? { gpuInformation: { gpuBrand: r.gpuBrand, gpuModel: r.gpuModel, gpuMemory: r.gpuMemory } }
      : {}),
    price: { unitPriceMicros: r.unitPriceMicros, currency: r.currency },
  };
}

/**
 * The SQLSTATE of a PostgreSQL error (TypeORM wraps the driver's): class 22 is a value PostgreSQL
 * refuses (out of range, invalid text), which no retry helps; 23505 a unique index broken.
 */
function sqlState(error: unknown): string | undefined {
  const code = (error as { driverError?: { code?: unknown } }).driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Runs a write; false when it broke a unique index, which the caller reports. */
async function uniqueOrFalse(write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (sqlState(error) === '23505') return false;
    throw error;
  }
}
