import {
  type AppSpec,
  type AppState,
  type HistoryEntry,
  type Info,
  QUOTA_FIELDS,
  type Rate,
  type TokenRole,
} from '@gantry/contracts';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

import type { PreviousRuntime } from '../domain/runtime.js';

/** bigint columns come back from pg as strings; every value here stays far below 2^53. */
const bigintNumber = {
  to: (v: number | null) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

/**
 * A tenant: owns apps and tokens; its quotas bound the CPUs, GPUs and memory its apps hold at once,
 * and how many apps and tokens it has (see domain/quota.ts).
 */
@Entity({ name: 'projects' })
export class ProjectRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Index('UQ_projects_name', { unique: true })
  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'integer', name: 'gpu_quota', default: QUOTA_FIELDS.gpuQuota.default })
  gpuQuota!: number;

  @Column({ type: 'integer', name: 'cpu_quota', default: QUOTA_FIELDS.cpuQuota.default })
  cpuQuota!: number;

  /** Bytes. */
  @Column({
    type: 'bigint',
    name: 'memory_quota',
    default: QUOTA_FIELDS.memoryQuota.default,
    transformer: bigintNumber,
  })
  memoryQuota!: number;

  @Column({ type: 'integer', name: 'app_quota', default: QUOTA_FIELDS.appQuota.default })
  appQuota!: number;

  @Column({ type: 'integer', name: 'token_quota', default: QUOTA_FIELDS.tokenQuota.default })
  tokenQuota!: number;

  @Column({ type: 'timestamptz', name: 'created_at', default: () => 'now()' })
  createdAt!: Date;
}

/** A bearer token. Only the SHA-256 (hex) of its secret is stored. */
@Entity({ name: 'tokens' })
@Index('UQ_tokens_project_name', ['projectId', 'name'], { unique: true })
export class TokenRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  role!: TokenRole;

  @Column({ type: 'text', name: 'label_selector', nullable: true })
  labelSelector!: string | null;

  @Index('UQ_tokens_secret_hash', { unique: true })
  @Column({ type: 'text', name: 'secret_hash' })
  secretHash!: string;

  /** Bumped on every renewal. */
  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}

/** A flavor of the catalog: resources per unit, the most units a replica may take, the unit price. */
@Entity({ name: 'flavors' })
export class FlavorRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  type!: 'cpu' | 'gpu';

  /** The flavor used for its type when a request names none. */
  @Column({ type: 'boolean', name: 'is_default', default: false })
  isDefault!: boolean;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'integer', name: 'max_units' })
  maxUnits!: number;

  @Column({ type: 'double precision', name: 'cpu_per_unit' })
  cpuPerUnit!: number;

  @Column({ type: 'bigint', name: 'memory_per_unit', transformer: bigintNumber })
  memoryPerUnit!: number;

  @Column({ type: 'bigint', name: 'ephemeral_storage_per_unit', transformer: bigintNumber })
  ephemeralStoragePerUnit!: number;

  /** Bytes per second. */
  @Column({ type: 'bigint', name: 'public_network_per_unit', transformer: bigintNumber })
  publicNetworkPerUnit!: number;

  /** Bytes per second. */
  @Column({ type: 'bigint', name: 'private_network_per_unit', transformer: bigintNumber })
  privateNetworkPerUnit!: number;

  @Column({ type: 'text', name: 'gpu_brand', nullable: true })
  gpuBrand!: string | null;

  @Column({ type: 'text', name: 'gpu_model', nullable: true })
  gpuModel!: string | null;

  /** Bytes of memory of one GPU. */
  @Column({ type: 'bigint', name: 'gpu_memory', nullable: true, transformer: bigintNumber })
  gpuMemory!: number | null;

  /** Price of one unit for one hour, in micro-units of `currency`. */
  @Column({ type: 'bigint', name: 'unit_price_micros', transformer: bigintNumber })
  unitPriceMicros!: number;

  @Column({ type: 'text' })
  currency!: string;
}

/**
 * An app: the desired state the gateway owns (spec, lifecycle, desired version) and the read model of
 * its observed status (from `app.status.v1`, applied only when newer). Deleted apps keep their row.
 */
@Entity({ name: 'apps' })
@Index('IDX_apps_project_created', ['projectId', 'createdAt'])
export class AppRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  name!: string;

  /** Name of the token that created the app. */
  @Column({ type: 'text', name: 'created_by' })
  createdBy!: string;

  @Column({ type: 'jsonb' })
  spec!: AppSpec;

  @Column({ type: 'jsonb' })
  rate!: Rate;

  /** What the app ran before its current runtime spec (a rollback returns to it); null until that changes. */
  @Column({ type: 'jsonb', name: 'previous_runtime', nullable: true })
  previousRuntime!: PreviousRuntime | null;

  /** What the user asked for: RUNNING, STOPPED or DELETED. */
  @Column({ type: 'text' })
  lifecycle!: 'RUNNING' | 'STOPPED' | 'DELETED';

  /** Version of the last `app.desired.v1` written; +1 on every change. */
  @Column({ type: 'integer', name: 'desired_version' })
  desiredVersion!: number;

  @Column({ type: 'text' })
  state!: AppState;

  @Column({ type: 'jsonb' })
  info!: Info;

  @Column({ type: 'integer', name: 'available_replicas', default: 0 })
  availableReplicas!: number;

  /** The replica count the scheduler last said the app works towards (NULL until it has). */
  @Column({ type: 'integer', name: 'desired_replicas', nullable: true })
  desiredReplicas!: number | null;

  @Column({ type: 'jsonb' })
  history!: HistoryEntry[];

  @Column({ type: 'timestamptz', name: 'last_transition_at' })
  lastTransitionAt!: Date;

  /** Version of the last `app.status.v1` applied; 0 until the scheduler reports. */
  @Column({ type: 'integer', name: 'status_version', default: 0 })
  statusVersion!: number;

  /** True once the scheduler reported DELETED: hidden from the API, kept for the record. */
  @Column({ type: 'boolean', default: false })
  deleted!: boolean;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}

/**
 * A private registry's credentials, per project: `url` normalized (see normalizeRegistryUrl), the
 * password sealed with the gateway's secret key (AES-256-GCM, bound to the row's id; see SecretBox).
 */
@Entity({ name: 'registries' })
@Index('UQ_registries_project_url', ['projectId', 'url'], { unique: true })
export class RegistryRow {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  url!: string;

  @Column({ type: 'text' })
  username!: string;

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url: never the password itself. */
  @Column({ type: 'text', name: 'password_sealed' })
  passwordSealed!: string;

  @Column({ type: 'text' })
  region!: string;

  /** Name of the token that registered it. */
  @Column({ type: 'text', name: 'created_by' })
  createdBy!: string;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}

export const GATEWAY_ENTITIES = [ProjectRow, TokenRow, FlavorRow, AppRow, RegistryRow];
