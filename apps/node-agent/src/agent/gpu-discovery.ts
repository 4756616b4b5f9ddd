import { execFile } from 'node:child_process';

import type { Gpu } from '@gantry/contracts';
import { Logger } from '@nestjs/common';

import type { GpuMode } from '../model/container-spec.js';
import { NVIDIA_SMI_ARGS, parseNvidiaSmi, simulatedGpus } from '../model/gpus.js';

export interface GpuInventory {
  gpus: Gpu[];
  mode: GpuMode;
}

/**
 * The node's GPUs: simulated ones when asked for, else what nvidia-smi lists. A missing nvidia-smi
 * means no GPUs; one that fails is logged and also means none (the node still serves CPU apps).
 */
export async function discoverGpus(opts: {
  nodeId: string;
  nvidiaSmi: string;
  simulated?: { count: number; model: string };
}): Promise<GpuInventory> {
  if (opts.simulated)
    return {
      gpus: simulatedGpus(opts.nodeId, opts.simulated.count, opts.simulated.model),
      mode: 'simulated',
    };
  const log = new Logger('GpuDiscovery');
  const output = await new Promise<string | undefined>((resolve) => {
    execFile(
      opts.nvidiaSmi,
      [...NVIDIA_SMI_ARGS],
      { timeout: 15_000, maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (!error) return resolve(stdout);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          log.log(`${opts.nvidiaSmi} not found: no GPUs`);
        else log.warn(`${opts.nvidiaSmi} failed, advertising no GPUs: ${error.message}`);
        resolve(undefined);
      },
    );
  });
  if (output === undefined) return { gpus: [], mode: 'none' };
  const { gpus, skipped } = parseNvidiaSmi(output);
  for (const s of skipped) log.warn(`nvidia-smi row skipped: ${s}`);
  return { gpus, mode: gpus.length ? 'real' : 'none' };
}
