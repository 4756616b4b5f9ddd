/** The query the agent runs each sampling interval: one CSV row per GPU, no header, no units. */
export const NVIDIA_SMI_USAGE_ARGS = [
  '--query-gpu=uuid,utilization.gpu,memory.used',
  '--format=csv,noheader,nounits',
] as const;

const MiB = 1024 ** 2;

/** What nvidia-smi says one GPU is doing; a figure it could not give (`[N/A]`) is absent. */
export interface GpuReading {
  /** Percent of the sampling period a kernel ran. */
  utilization?: number;
  /** Memory in use, bytes. */
  memory?: number;
}

export interface ParsedGpuUsage {
  readings: Map<string, GpuReading>;
  /** Rows that could not be understood, with why. */
  skipped: string[];
}

const number = (cell: string | undefined, max: number): number | undefined =>
  cell !== undefined && /^\d{1,9}(\.\d{1,6})?$/.test(cell) && Number(cell) <= max ? Number(cell) : undefined;

/**
 * Parses `nvidia-smi --query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits`:
 * GPU UUID → utilisation (percent) and memory in use (printed in MiB, kept in bytes). Tolerates
 * padding, CRLF and blank lines; a figure nvidia-smi cannot give (`[N/A]`, `[Not Supported]`) is
 * left out; a row without a GPU UUID is skipped and said so.
 */
export function parseGpuUsage(output: string): ParsedGpuUsage {
  const readings = new Map<string, GpuReading>();
  const skipped: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const row = raw.trim();
    if (!row) continue;
    const [uuid = '', utilization, memory, ...rest] = row.split(',').map((c) => c.trim());
    if (memory === undefined || rest.length) {
      skipped.push(`${row.slice(0, 200)}: expected 3 columns`);
      continue;
    }
    if (!/^GPU-[0-9A-Za-z-]+$/.test(uuid) || uuid.length > 128) {
      skipped.push(`${row.slice(0, 200)}: not a GPU UUID`);
      continue;
    }
    const percent = number(utilization, 100);
    const mib = number(memory, 1e8);
    readings.set(uuid, {
      ...(percent !== undefined ? { utilization: percent } : {}),
      ...(mib !== undefined ? { memory: Math.round(mib * MiB) } : {}),
    });
  }
  return { readings, skipped };
}

/**
 * A replica's GPU figures from its GPUs' readings: the mean utilisation and the memory of them all,
 * each over the GPUs that gave it. A figure none of its GPUs gave is absent (unknown, not zero).
 */
export function replicaGpuUsage(
  uuids: ReadonlyArray<string>,
  readings: ReadonlyMap<string, GpuReading>,
): { gpu?: number; gpuMemory?: number } {
  const known = uuids.map((u) => readings.get(u)).filter((r): r is GpuReading => r !== undefined);
  const utilizations = known.flatMap((r) => (r.utilization !== undefined ? [r.utilization] : []));
  const memories = known.flatMap((r) => (r.memory !== undefined ? [r.memory] : []));
  return {
    ...(utilizations.length ? { gpu: utilizations.reduce((a, b) => a + b, 0) / utilizations.length } : {}),
    ...(memories.length ? { gpuMemory: memories.reduce((a, b) => a + b, 0) } : {}),
  };
}
