// One platform start shared by every end-to-end suite: its own database, NATS namespace, ports,
// node id and images; every service its own process, built from apps/*/dist. The connection details
// reach the tests through GANTRY_E2E (workers inherit the environment set here).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import {
  buildTestImage,
  createTestDatabase,
  createTestNamespace,
  crashingAppSpec,
  webAppSpec,
} from '@gantry/testing';
import Docker from 'dockerode';

import { ensureBusybox, ensureDocker, log } from '../../scripts/host.mjs';
import { freePorts, ROOT, startPlatform } from '../../scripts/platform.mjs';

export default async function globalSetup() {
  await ensureDocker(join(ROOT, '.gantry'));
  ensureBusybox();
  const id = randomBytes(4).toString('hex');
  const started = Date.now();
  const db = await createTestDatabase('e2e');
  const ns = await createTestNamespace('e2e');
  const docker = new Docker();
  const images = { web: `gantry-e2e/web-${id}:1`, crash: `gantry-e2e/crash-${id}:1` };
  await buildTestImage(docker, images.web, webAppSpec('gantry e2e'));
  await buildTestImage(docker, images.crash, crashingAppSpec(3));
  const ports = await freePorts();
  const adminToken = `e2e-admin-${randomBytes(16).toString('hex')}`;
  const nodeId = `e2e-node-${id}`;
  const logDir = join(ROOT, '.gantry', 'e2e-logs', id);
  const platform = await startPlatform({
    natsUrl: ns.natsUrl,
    databaseUrl: db.url,
    namespace: ns.namespace,
    adminToken,
    secretKey: randomBytes(32).toString('base64url'),
    ports,
    logDir,
    logLevel: 'info',
    agents: [{ id: nodeId, cpus: 8, memory: 32 * 1024 ** 3, labels: 'zone=e2e' }],
    timings: {
      agent: { HEARTBEAT_INTERVAL_MS: 500, ORPHAN_GRACE_MS: 5000, USAGE_INTERVAL_MS: 1000 },
      autoscaler: {
        AUTOSCALER_INTERVAL_MS: 500,
        AUTOSCALER_METRICS_INTERVAL_MS: 1000,
        AUTOSCALER_METRIC_WINDOW_MS: 4000,
        AUTOSCALER_READY_GRACE_MS: 5000,
      },
      scheduler: { NODE_NOT_READY_AFTER_MS: 2000, NODE_LOST_AFTER_MS: 6000, RESYNC_INTERVAL_MS: 3000 },
      // Every e2e worker polls with the one admin token; rate limiting has its own integration tests.
      gateway: { RATE_LIMIT_PER_SECOND: 200, RATE_LIMIT_BURST: 1000 },
    },
  });
  log(`e2e platform ready in ${Date.now() - started} ms (logs: ${logDir})`);
  process.env.GANTRY_E2E = JSON.stringify({
    api: `http://127.0.0.1:${ports.api}`,
    ingress: `http://127.0.0.1:${ports.ingress}`,
    ingressPort: ports.ingress,
    adminToken,
    images,
    namespace: ns.namespace,
    nodeId,
    logDir,
  });
  globalThis.__GANTRY_E2E__ = { platform, db, ns, docker, images };
}
