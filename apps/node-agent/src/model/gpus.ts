import { createHash } from 'node:crypto';

import type { Gpu } from '@gantry/contracts';

/** The query the agent runs: one CSV row per GPU, no header, memory in MiB without unit. */
export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,uuid,name,memory.total',
  '--format=csv,noheader,nounits',
] as const;

const MiB = 1024 ** 2;

export interface ParsedGpus {
  gpus: Gpu[];
  /** Rows that could not be understood, with why. */
  skipped: string[];
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`.
 * Tolerates padding, CRLF, blank lines and commas in names; a row without an index or a GPU UUID is
 * skipped (and said so); memory, printed in MiB, is kept in bytes (not a number, `[N/A]`: 0). Sorted
 * by index.
 */
export function parseNvidiaSmi(output: string): ParsedGpus {
  const gpus: Gpu[] = [];
  const skipped: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const row = raw.trim();
    if (!row) continue;
    const cells = row.split(',').map((c) => c.trim());
    if (cells.length < 4) {
      skipped.push(`${row}: expected 4 columns`);
      continue;
    }
    const [indexCell = '', uuid = ''] = cells;
    const memoryCell = cells[cells.length - 1] ?? '';
    const model = cells.slice(2, -1).join(', ');
    if (!/^\d+$/.test(indexCell)) {
      skipped.push(`${row}: index is not a number`);
      continue;
    }
    if (!/^(GPU|MIG)-[0-9A-Za-z-]+$/.test(uuid) || uuid.length > 128) {
      skipped.push(`${row}: not a GPU UUID`);
      continue;
    }
    const memory = /^\d{1,9}$/.test(memoryCell) ? Number(memoryCell) * MiB : 0;
    gpus.push({ index: Number(indexCell), uuid, model: model.slice(0, 128), memory });
  }
  gpus.sort((a, b) => a.index - b.index);
  return { gpus, skipped };
}

/** Models a simulated node can advertise: short name → what nvidia-smi would print (memory in MiB). */
export const SIMULATED_MODELS: Record<string, { name: string; memory: number }> = {
  h100: { name: 'NVIDIA H100 80GB HBM3', memory: 81_559 },
  a100: { name: 'NVIDIA A100-SXM4-80GB', memory: 81_920 },
  l40s: { name: 'NVIDIA L40S', memory: 46_068 },
  l4: { name: 'NVIDIA L4', memory: 23_034 },
  a10: { name: 'NVIDIA A10', memory: 23_028 },
  v100s: { name: 'Tesla V100S-PCIE-32GB', memory: 32_768 },
};

/**
 * `count` simulated GPUs of `model`, with UUIDs derived from the node id: the same node always
 * advertises the same UUIDs, two nodes never share one.
 */
export function simulatedGpus(nodeId: string, count: number, model: string): Gpu[] {
  const m = SIMULATED_MODELS[model] ?? { name: model, memory: 0 };
  return Array.from({ length: count }, (_, index) => {
    const h = createHash('sha256').update(`gantry-simulated-gpu:${nodeId}:${index}`).digest('hex');
    const uuid = `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    return { index, uuid, model: m.name, memory: m.memory * MiB };
  });
}
