import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { type IngressReply, jsonClient, viaIngress, waitFor } from '@gantry/testing';

/** What the shared platform (global-setup.mjs) tells the tests. */
export interface E2E {
  api: string;
  ingress: string;
  ingressPort: number;
  adminToken: string;
  images: { web: string; crash: string };
  namespace: string;
  nodeId: string;
  logDir: string;
}

// eslint-disable-next-line no-restricted-syntax -- jest's globalSetup hands the platform's addresses over in the environment
export const E: E2E = JSON.parse(process.env['GANTRY_E2E'] ?? 'null') as E2E;
if (!E)
  throw new Error(
    'GANTRY_E2E is not set: run the e2e project through jest (global-setup starts the platform)',
  );

/** Calls the REST API as a client would, with the admin token unless told otherwise. */
export const api = jsonClient(() => E.api, E.adminToken);

/** Calls an app of the shared platform through its ingress by Host header. */
export async function callApp(
  appId: string,
  path = '/',
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<IngressReply> {
  return viaIngress(E.ingress, `${appId}.app.localhost`, path, opts);
}

/** `curl http://<id>.app.localhost:<port>/` — curl resolves *.localhost to loopback itself. */
export async function curlApp(appId: string, path = '/'): Promise<string> {
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '--max-time',
    '10',
    `http://${appId}.app.localhost:${E.ingressPort}${path}`,
  ]);
  return stdout;
}

export interface AppObject {
  id: string;
  createdAt: string;
  updatedAt: string;
  spec: Record<string, unknown> & { name: string; image: string };
  status: {
    state: string;
    availableReplicas: number;
    desiredReplicas?: number;
    url: string;
    info: { code: string; message: string };
    history: Array<{ state: string; date: string }>;
    lastTransitionDate?: string;
  };
}

export async function getApp(id: string): Promise<AppObject> {
  const r = await api<AppObject>('GET', `/v1/app/${id}`);
  if (r.status !== 200) throw new Error(`GET /v1/app/${id} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Waits until the app is in `state` (fails fast if it ends up FAILED instead). */
export async function waitForState(id: string, state: string, timeoutMs = 60_000): Promise<AppObject> {
  return waitFor(
    `app ${id} to be ${state}`,
    async () => {
      const app = await getApp(id);
      if (app.status.state === state) return app;
      if (app.status.state === 'FAILED' && state !== 'FAILED')
        throw new Error(`app ${id} FAILED: ${app.status.info.message}`);
      return undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

export async function createApp(body: Record<string, unknown>): Promise<AppObject> {
  const r = await api<AppObject>('POST', '/v1/app', { body });
  if (r.status !== 200 && r.status !== 201)
    throw new Error(`POST /v1/app → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
