import { readFileSync } from 'node:fs';

import { GpuSchema } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { parseNvidiaSmi, simulatedGpus } from './gpus.js';

const MiB = 1024 ** 2;
const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseNvidiaSmi', () => {
  it('reads an 8 × H100 host', () => {
    const { gpus, skipped } = parseNvidiaSmi(fixture('nvidia-smi-8xh100.csv'));
    expect(skipped).toEqual([]);
    expect(gpus).toHaveLength(8);
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(gpus[0]).toEqual({
      index: 0,
      uuid: 'GPU-5c3f0a5e-9b3c-2f0e-8d9d-1e2f3a4b5c6d',
      model: 'NVIDIA H100 80GB HBM3',
      memory: 81_559 * MiB,
    });
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    for (const g of gpus) expect(GpuSchema.parse(g)).toEqual(g);
  });

  it('reads a 2 × A100 host with odd spacing, CRLF and a blank line', () => {
    const { gpus, skipped } = parseNvidiaSmi(fixture('nvidia-smi-2xa100.csv'));
    expect(skipped).toEqual([]);
    expect(gpus).toEqual([
      {
        index: 0,
        uuid: 'GPU-4f0c5c77-9b3a-2c1e-8d6f-0a9b8c7d6e5f',
        model: 'NVIDIA A100-SXM4-80GB',
        memory: 81_920 * MiB,
      },
      {
        index: 1,
        uuid: 'GPU-7e21a0b3-3c4d-5e6f-a7b8-c9d0e1f2a3b4',
        model: 'NVIDIA A100-SXM4-80GB',
        memory: 81_920 * MiB,
      },
    ]);
  });

  it.each([
    { name: 'no output', output: '', gpus: 0, skipped: 0 },
    { name: '"No devices were found"', output: 'No devices were found\n', gpus: 0, skipped: 1 },
    {
      name: 'a driver failure message',
      output: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
      gpus: 0,
      skipped: 1,
    },
    {
      name: 'a row without a GPU UUID',
      output: '0, 00000000:17:00.0, NVIDIA L4, 23034\n',
      gpus: 0,
      skipped: 1,
    },
  ])('skips what is not a GPU row: $name', ({ output, gpus, skipped }) => {
    const r = parseNvidiaSmi(output);
    expect(r.gpus).toHaveLength(gpus);
    expect(r.skipped).toHaveLength(skipped);
  });

  it('reads [N/A] memory as 0, keeps commas in names and sorts by index', () => {
    const r = parseNvidiaSmi(
      '1, GPU-11111111-2222-3333-4444-555555555555, Some GPU, rev 2, [N/A]\n0, MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, NVIDIA A100-SXM4-80GB MIG 1g.10gb, 9728\n',
    );
    expect(r.gpus).toEqual([
      {
        index: 0,
        uuid: 'MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
        model: 'NVIDIA A100-SXM4-80GB MIG 1g.10gb',
        memory: 9728 * MiB,
      },
      { index: 1, uuid: 'GPU-11111111-2222-3333-4444-555555555555', model: 'Some GPU, rev 2', memory: 0 },
    ]);
  });
});

describe('simulatedGpus', () => {
  it('derives stable UUIDs from the node id, unique across nodes', () => {
    const a = simulatedGpus('node-a', 4, 'h100');
    expect(simulatedGpus('node-a', 4, 'h100')).toEqual(a);
    const b = simulatedGpus('node-b', 4, 'h100');
    expect(new Set([...a, ...b].map((g) => g.uuid)).size).toBe(8);
    expect(a[2]).toMatchObject({ index: 2, model: 'NVIDIA H100 80GB HBM3', memory: 81_559 * MiB });
    expect(a[0]?.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const g of a) expect(GpuSchema.parse(g)).toEqual(g);
  });
});
