import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  type NodeAssignments,
  type ReplicaAssignment,
  type ReplicaReport,
  wireSubject,
} from '@gantry/contracts';
import type { TypedKv } from '@gantry/messaging';
import { runService } from '@gantry/runtime';
import { buildTestImage, createTestNamespace, removeImage, uniqueName, waitFor } from '@gantry/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import Docker from 'dockerode';

import { NodeAgentModule, SERVICE } from './app.module.js';
import { NodeAgentConfigSchema } from './config.js';
import { LABELS } from './model/ownership.js';

const MiB = 1024 ** 2;

/**
 * Liveness probes against the real Docker Engine and NATS: a busybox web app whose
 * `/cgi-bin/healthz` answers 500 once `/tmp/sick` exists (each start clears it, unless its command
 * says otherwise). The test plays the scheduler (KV `assignments`) and reads the agent's reports.
 */
describe('node-agent liveness probes on the real Docker Engine', () => {
  const docker = new Docker();
  const run = uniqueName('nal').toLowerCase();
  const image = `gantry-test/${run}-healthz:1`;
  const NODE = `node-${run}`;
  const LIVENESS = {
    path: '/cgi-bin/healthz',
    port: 8080,
    periodSeconds: 1,
    failureThreshold: 2,
    timeoutSeconds: 1,
  };
  let ns: Awaited<ReturnType<typeof createTestNamespace>>;
  let kv: TypedKv<'assignments'>;
  let stateDir: string;
  let app: INestApplication | undefined;
  let generation = 0;
  const reports: ReplicaReport[] = [];

  const replica = (replicaId: string, over: Partial<ReplicaAssignment> = {}): ReplicaAssignment => ({
    replicaId,
    appId: `app-${replicaId}`,
    projectId: 'proj-1',
    image,
    envVars: [],
    ports: [8080],
    probe: { path: '/', port: 8080, startupGraceSeconds: 0, liveness: LIVENESS },
    resources: { cpu: 0.5, memory: 64 * MiB, pids: 64 },
    gpus: [],
    ...over,
  });
  const assign = async (replicas: ReplicaAssignment[]): Promise<void> => {
    const value: NodeAssignments = {
      nodeId: NODE,
      generation: ++generation,
      updatedAt: new Date().toISOString(),
      replicas,
    };
    await kv.put(NODE, value);
  };
  const of = (replicaId: string): ReplicaReport[] => reports.filter((r) => r.replicaId === replicaId);
  const reported = (replicaId: string, phase: ReplicaReport['phase'], n = 1, timeoutMs = 20_000) =>
    waitFor(`${replicaId} ${phase} × ${n}`, () => of(replicaId).filter((r) => r.phase === phase)[n - 1], {
      timeoutMs,
    });
  const containerOf = async (replicaId: string): Promise<Docker.ContainerInspectInfo> => {
    const [c] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.namespace}=${ns.namespace}`, `${LABELS.replica}=${replicaId}`] },
    });
    if (!c) throw new Error(`no container of ${replicaId}`);
    return docker.getContainer(c.Id).inspect();
  };
  /** Runs `cmd` in the container (as its own user) and waits for it to end. */
  const exec = async (id: string, cmd: string[]): Promise<void> => {
    const e = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await e.start({});
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    const { ExitCode } = await e.inspect();
    if (ExitCode !== 0) throw new Error(`${cmd.join(' ')} exited with ${ExitCode}`);
  };

  beforeAll(async () => {
    ns = await createTestNamespace('nal');
    stateDir = await mkdtemp(join(tmpdir(), 'gantry-node-agent-liveness-'));
    ns.bus.nc.subscribe(wireSubject(ns.namespace, 'node.report.v1'), {
      callback: (error, m) => {
        if (!error) reports.push(m.json<ReplicaReport>());
      },
    });
    await ns.bus.nc.flush();
    kv = await ns.bus.kv('assignments');
    const cgi = (body: string) => `#!/bin/sh\n${body}\n`;
    await buildTestImage(docker, image, {
      files: {
        '/www/index.html': 'ready\n',
        // CGI headers end in CRLF (see webAppSpec).
        '/www/cgi-bin/healthz': cgi(
          `if [ -e /tmp/sick ]; then printf 'Status: 500 Sick\\r\\n\\r\\nsick\\n'; else printf 'Status: 200 OK\\r\\n\\r\\nok\\n'; fi`,
        ),
      },
      cmd: ['/bin/sh', '-c', 'rm -f /tmp/sick; echo listening; exec httpd -f -p 8080 -h /www'],
      expose: [8080],
    });
    const config = NodeAgentConfigSchema.parse({
      NATS_URL: ns.natsUrl,
      GANTRY_NAMESPACE: ns.namespace,
      NODE_ID: NODE,
      NODE_ADDRESS: '127.0.0.1',
      HEARTBEAT_INTERVAL_MS: '500',
      ORPHAN_GRACE_MS: '1000',
      RESYNC_INTERVAL_MS: '1000',
      STOP_GRACE_SECONDS: '2',
      STATE_DIR: stateDir,
      LOG_LEVEL: 'error',
    });
    app = await runService({
      name: SERVICE,
      module: NodeAgentModule.forRoot(config, {
        policy: { baseDelayMs: 200, maxDelayMs: 1000, maxRestartsBeforeReady: 2, stableAfterMs: 60_000 },
        probeTiming: { fastMs: 100, slowMs: 300, timeoutMs: 500, failureThreshold: 3 },
      }),
      port: 0,
      host: '127.0.0.1',
      logLevel: 'error',
    });
  });

  afterAll(async () => {
    await app?.close();
    const mine = await docker
      .listContainers({ all: true, filters: { label: [`${LABELS.namespace}=${ns?.namespace}`] } })
      .catch(() => []);
    await Promise.all(
      mine.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await removeImage(docker, image);
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('restarts a ready replica whose /healthz begins to fail, after failureThreshold periods, naming the probe', async () => {
    await assign([replica('r-sick')]);
    await reported('r-sick', 'READY');
    const before = await containerOf('r-sick');
    // Alive: several periods pass without a restart.
    await new Promise((r) => setTimeout(r, 2500));
    expect(of('r-sick').some((r) => r.phase === 'RESTARTING')).toBe(false);

    await exec(before.Id, ['touch', '/tmp/sick']);
    const sickAt = Date.now();
    const restarting = await reported('r-sick', 'RESTARTING');
    // Two failed tries a period apart: at least one period, and well within a few.
    expect(Date.parse(restarting.at) - sickAt).toBeGreaterThanOrEqual(900);
    expect(Date.parse(restarting.at) - sickAt).toBeLessThan(8000);
    expect(restarting).toMatchObject({ restarts: 1, everReady: true });
    expect(restarting.message).toBe(
      'liveness probe GET /cgi-bin/healthz on :8080 failed 2 times in a row (last: answered 500); ' +
        'restarting (restart 1 in 0.2 s)',
    );

    // The same container started again (its start clears /tmp/sick): ready, alive, and left alone.
    await reported('r-sick', 'READY', 2);
    const after = await containerOf('r-sick');
    expect(after.Id).toBe(before.Id);
    expect(after.State.StartedAt).not.toBe(before.State.StartedAt);
    await new Promise((r) => setTimeout(r, 2500));
    expect(of('r-sick').filter((r) => r.phase === 'RESTARTING')).toHaveLength(1);
  });

  it('lets a replica that fails its liveness probe from the start live out its startup grace', async () => {
    const grace = 3;
    await assign([
      replica('r-grace', {
        // Sick from its very start, but serving its readiness probe.
        command: ['/bin/sh', '-c', 'touch /tmp/sick; exec httpd -f -p 8080 -h /www'],
        probe: { path: '/', port: 8080, startupGraceSeconds: grace, liveness: LIVENESS },
      }),
    ]);
    const ready = await reported('r-grace', 'READY');
    const restarting = await reported('r-grace', 'RESTARTING');
    // Its first run started before it was ready; the grace counts from that start.
    expect(Date.parse(restarting.at) - Date.parse(ready.at)).toBeGreaterThanOrEqual(grace * 1000 - 500);
    expect(restarting.message).toMatch(
      /^liveness probe GET \/cgi-bin\/healthz on :8080 failed 2 times in a row/,
    );
  });
});
