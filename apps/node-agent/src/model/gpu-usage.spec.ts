import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { parseGpuUsage, replicaGpuUsage } from './gpu-usage.js';

const MiB = 1024 ** 2;
const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const H100 = [
  'GPU-5c3f0a5e-9b3c-2f0e-8d9d-1e2f3a4b5c6d',
  'GPU-0d1b7a6f-4c2e-8e1a-3b5d-7f9a1c3e5b7d',
  'GPU-8e2c4a6b-1d3f-5a7c-9e0b-2d4f6a8c0e1f',
  'GPU-3a5c7e9b-0d2f-4b6d-8f1a-3c5e7a9b1d3f',
  'GPU-6b8d0f2a-3c5e-7a9b-1d3f-5b7d9f1a3c5e',
  'GPU-9c1e3a5b-7d9f-1b3d-5f7a-9c1e3b5d7f9a',
  'GPU-2d4f6a8b-0c2e-4a6c-8e0b-2d4f6b8d0f2a',
  'GPU-f5a7c9e1-3b5d-7f9b-1d3f-5a7c9e1b3d5f',
];

describe('parseGpuUsage', () => {
  it('reads the utilisation and memory of each GPU of an 8 × H100 host', () => {
    const { readings, skipped } = parseGpuUsage(fixture('nvidia-smi-usage-8xh100.csv'));
    expect(skipped).toEqual([]);
    expect([...readings.keys()]).toEqual(H100);
    expect(readings.get(H100[0] ?? '')).toEqual({ utilization: 97, memory: 71_234 * MiB });
    expect(readings.get(H100[2] ?? '')).toEqual({ utilization: 0, memory: MiB });
  });

  it('leaves out what nvidia-smi cannot give ([N/A]), with odd spacing, CRLF and a blank line', () => {
    const { readings, skipped } = parseGpuUsage(fixture('nvidia-smi-usage-2xa100.csv'));
    expect(skipped).toEqual([]);
    expect(Object.fromEntries(readings)).toEqual({
      'GPU-4f0c5c77-9b3a-2c1e-8d6f-0a9b8c7d6e5f': { utilization: 63, memory: 40_960 * MiB },
      'GPU-7e21a0b3-3c4d-5e6f-a7b8-c9d0e1f2a3b4': {},
    });
  });

  it.each([
    { name: 'no output', output: '', skipped: [] },
    { name: '"No devices were found"', output: 'No devices were found\n', skipped: ['expected 3 columns'] },
    {
      name: 'the discovery query’s columns',
      output: '0, GPU-a1, NVIDIA H100, 81559\n',
      skipped: ['expected 3 columns'],
    },
    { name: 'an index instead of a UUID', output: '0, 50, 1024\n', skipped: ['not a GPU UUID'] },
    { name: 'a MIG device', output: 'MIG-1234-abcd, 5, 10\n', skipped: ['not a GPU UUID'] },
  ])('skips and says so: $name', ({ output, skipped }) => {
    const parsed = parseGpuUsage(output);
    expect(parsed.readings.size).toBe(0);
    expect(parsed.skipped.map((s) => s.replace(/^.*: /, ''))).toEqual(skipped);
  });

  it.each([
    ['[Not Supported]', '12', { memory: 12 * MiB }],
    ['101', '12', { memory: 12 * MiB }],
    ['-3', '1e9', {}],
    ['45.5', '0', { utilization: 45.5, memory: 0 }],
  ])('keeps only figures that are figures: utilisation %p, memory %p', (utilization, memory, reading) => {
    const { readings } = parseGpuUsage(`GPU-abc, ${utilization}, ${memory}\n`);
    expect(readings.get('GPU-abc')).toEqual(reading);
  });
});

describe('replicaGpuUsage', () => {
  const readings = parseGpuUsage(fixture('nvidia-smi-usage-8xh100.csv')).readings;

  it('averages the utilisation of the replica’s GPUs and adds up their memory', () => {
    expect(replicaGpuUsage(H100.slice(4), readings)).toEqual({
      gpu: 41,
      gpuMemory: (3 * 20_480 + 20_482) * MiB,
    });
    expect(replicaGpuUsage([H100[0] ?? ''], readings)).toEqual({ gpu: 97, gpuMemory: 71_234 * MiB });
  });

  it('counts only the GPUs that gave a figure, and gives none when none did', () => {
    const mixed = parseGpuUsage(fixture('nvidia-smi-usage-2xa100.csv')).readings;
    const [known = '', unknown = ''] = mixed.keys();
    expect(replicaGpuUsage([known, unknown], mixed)).toEqual({ gpu: 63, gpuMemory: 40_960 * MiB });
    expect(replicaGpuUsage([unknown], mixed)).toEqual({});
    expect(replicaGpuUsage(['GPU-not-on-this-host'], readings)).toEqual({});
  });
});
