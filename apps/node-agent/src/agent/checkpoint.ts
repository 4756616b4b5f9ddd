import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

import { INFO_CODES } from '@gantry/contracts';
import { Logger } from '@nestjs/common';
import { z } from 'zod';

const ReplicaCheckpointSchema = z.object({
  restarts: z.int().min(0).default(0),
  streak: z.int().min(0).default(0),
  everReady: z.boolean().default(false),
  failed: z
    .object({ reason: z.enum(INFO_CODES), message: z.string().max(8192), exitCode: z.int().optional() })
    .optional(),
  /** Stamp of the last log line shipped. */
  logCursor: z.string().max(40).optional(),
});
export type ReplicaCheckpoint = z.infer<typeof ReplicaCheckpointSchema>;

const FileSchema = z.object({
  version: z.literal(1),
  replicas: z.record(z.string(), ReplicaCheckpointSchema),
  /**
   * The local images the agent pulled with credentials: image id → the registry host they came from.
   * Absent from the files of agents that predate it (they load as none); an invalid value is dropped
   * alone, so that it does not cost the replicas' state. Never pruned: a short entry per distinct
   * image ever pulled with credentials, and forgetting one would let it run unchecked again.
   */
  privateImages: z.record(z.string().max(256), z.string().max(512)).optional().catch(undefined),
});

const SAVE_DELAY_MS = 200;

/**
 * What the agent must remember across its own restarts and cannot read back from Docker: per replica,
 * restart counts, whether it was ever ready or has failed, and how far its logs were shipped; and
 * which local images it pulled with a project's credentials (see `imageStep`). One JSON
 * file, written atomically (temp file + rename), shortly after each change. Best effort: an unreadable
 * file is ignored, a failed write is logged, and the agent keeps working either way.
 */
export class Checkpoint {
  private readonly log = new Logger('Checkpoint');
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private warned = false;

  private constructor(
    private readonly path: string | undefined,
    private readonly replicas: Map<string, ReplicaCheckpoint>,
    private readonly privateImages: Map<string, string> = new Map(),
  ) {}

  /** In memory only (tests, simulated nodes). */
  static inMemory(): Checkpoint {
    return new Checkpoint(undefined, new Map());
  }

  static async load(path: string): Promise<Checkpoint> {
    const log = new Logger('Checkpoint');
    let replicas = new Map<string, ReplicaCheckpoint>();
    let privateImages = new Map<string, string>();
    try {
      const parsed = FileSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
      if (parsed.success) {
        replicas = new Map(Object.entries(parsed.data.replicas));
        privateImages = new Map(Object.entries(parsed.data.privateImages ?? {}));
      } else log.warn(`ignoring ${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        log.warn(`ignoring ${path}: ${(error as Error).message}`);
    }
    return new Checkpoint(path, replicas, privateImages);
  }

  get(replicaId: string): ReplicaCheckpoint | undefined {
    return this.replicas.get(replicaId);
  }

  ids(): string[] {
    return [...this.replicas.keys()];
  }

  update(replicaId: string, patch: Partial<ReplicaCheckpoint>): void {
    const current = this.replicas.get(replicaId) ?? { restarts: 0, streak: 0, everReady: false };
    this.replicas.set(replicaId, { ...current, ...patch });
    this.schedule();
  }

  delete(replicaId: string): void {
    if (this.replicas.delete(replicaId)) this.schedule();
  }

  /** The registry host the local image `imageId` was pulled from with credentials; undefined: not known to be private. */
  privateImage(imageId: string): string | undefined {
    return this.privateImages.get(imageId);
  }

  /**
   * Remembers that the local image `imageId` was pulled from `registry` with credentials, on disk
   * (fsynced) before it resolves: an agent that crashes right after must still know the image is
   * private, or it would let another project run it from the cache. False when it could not be written.
   */
  async rememberPrivateImage(imageId: string, registry: string): Promise<boolean> {
    if (this.privateImages.get(imageId) !== registry) this.privateImages.set(imageId, registry);
    return this.flush();
  }

  /** Writes now; resolves once what is in memory is on disk (true) or failed to get there (false). */
  async flush(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const written = this.saving.then(() => this.write());
    this.saving = written.then(() => undefined);
    return written;
  }

  private schedule(): void {
    if (!this.path || this.timer) return;
    this.timer = setTimeout(() => void this.flush(), SAVE_DELAY_MS);
    this.timer.unref();
  }

  /** Temp file, fsync, rename, fsync of the directory: the file is the old one or the new one, durably. */
  private async write(): Promise<boolean> {
    if (!this.path) return true;
    const body = JSON.stringify({
      version: 1,
      replicas: Object.fromEntries(this.replicas),
      privateImages: Object.fromEntries(this.privateImages),
    });
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const file = await open(tmp, 'w');
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path);
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      this.warned = false;
      return true;
    } catch (error) {
      if (!this.warned) this.log.warn(`cannot write ${this.path}: ${(error as Error).message}`);
      this.warned = true;
      return false;
    }
  }
}
