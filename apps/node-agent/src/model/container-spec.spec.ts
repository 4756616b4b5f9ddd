import type { ReplicaAssignment } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { containerSpecFor, type NodeFacts } from './container-spec.js';

const a: ReplicaAssignment = {
  replicaId: 'r1',
  appId: 'app1',
  projectId: 'p1',
  image: 'registry.example/app:1',
  command: ['python', 'serve.py'],
  envVars: [
    { name: 'MODEL', value: 'llama' },
    { name: 'GANTRY_APP_ID', value: 'spoofed' },
  ],
  ports: [8080, 9000],
  probe: { path: '/health', port: 8081 },
  resources: { cpu: 16, memory: 8 << 30, pids: 2048 },
  gpus: [
    { index: 0, uuid: 'GPU-aaa' },
    { index: 3, uuid: 'GPU-ddd' },
  ],
};
const node = (gpuMode: NodeFacts['gpuMode']): NodeFacts => ({
  owner: { namespace: 'gantry', nodeId: 'n1' },
  address: '10.0.0.11',
  realCpus: 8,
  gpuMode,
});

describe('containerSpecFor', () => {
  it('runs as 42420, with limits, labels, every port and the platform variables', () => {
    const s = containerSpecFor(a, 7, node('real'));
    expect(s).toMatchObject({
      name: 'gantry-gantry-r1',
      image: 'registry.example/app:1',
      user: '42420:42420',
      command: ['python', 'serve.py'],
      cpus: 8,
      memory: 8 << 30,
      pidsLimit: 2048,
      ports: [8080, 9000, 8081],
      hostIp: '10.0.0.11',
      noNewPrivileges: true,
      labels: {
        'gantry.namespace': 'gantry',
        'gantry.node': 'n1',
        'gantry.replica': 'r1',
        'gantry.app': 'app1',
        'gantry.project': 'p1',
        'gantry.generation': '7',
      },
    });
    expect(s.env).toEqual({ MODEL: 'llama', GANTRY_APP_ID: 'app1', GANTRY_REPLICA_ID: 'r1' });
  });

  it('asks for real GPUs by UUID through device requests', () => {
    const s = containerSpecFor(a, 1, node('real'));
    expect(s.gpus).toEqual({ kind: 'devices', uuids: ['GPU-aaa', 'GPU-ddd'] });
    expect(s.env['NVIDIA_VISIBLE_DEVICES']).toBeUndefined();
  });

  it('gives simulated GPUs as NVIDIA_VISIBLE_DEVICES only', () => {
    const s = containerSpecFor(a, 1, node('simulated'));
    expect(s.gpus).toEqual({ kind: 'none' });
    expect(s.env['NVIDIA_VISIBLE_DEVICES']).toBe('GPU-aaa,GPU-ddd');
  });

  it('hides the GPUs of a GPU host from a replica without any', () => {
    const cpuOnly = { ...a, gpus: [] };
    expect(containerSpecFor(cpuOnly, 1, node('real')).env['NVIDIA_VISIBLE_DEVICES']).toBe('void');
    expect(containerSpecFor(cpuOnly, 1, node('none')).env['NVIDIA_VISIBLE_DEVICES']).toBeUndefined();
  });

  it('keeps the CPU limit between 0.01 and the real cores, and leaves CMD alone without a command', () => {
    const { command: _c, ...noCommand } = a;
    const s = containerSpecFor({ ...noCommand, resources: { ...a.resources, cpu: 0.001 } }, 1, node('none'));
    expect(s.cpus).toBe(0.01);
    expect(s.command).toBeUndefined();
    expect(containerSpecFor({ ...a, resources: { ...a.resources, cpu: 1.5 } }, 1, node('none')).cpus).toBe(1.5);
  });
});
