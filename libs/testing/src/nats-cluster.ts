import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { sleep } from './wait.js';

/** Debian's nats-server (package `nats-server`). */
export const NATS_SERVER_PATH = '/usr/sbin/nats-server';

/**
 * A JetStream cluster of the test's own: `size` nats-server processes on free ports of 127.0.0.1,
 * routed to each other, each with its store in a temporary directory.
 */
export interface NatsCluster {
  /** Each server's client URL, in server order (`n1`, `n2`, …); index `i` is server `n${i + 1}`. */
  readonly urls: string[];
  /** The servers' names, as JetStream reports them (a stream's `cluster.leader`, `replicas[].name`). */
  readonly names: string[];
  /** Kills server `i` with SIGKILL (no goodbye to its routes or clients); resolves once it has exited. */
  kill(i: number): Promise<void>;
  /** Starts server `i` again on its ports and store; resolves once it is back in the JetStream cluster. */
  restart(i: number): Promise<void>;
  /** Kills every server and removes their stores. Safe to call twice. */
  stop(): Promise<void>;
}

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  monitorPort: number;
  dir: string;
  child?: ChildProcess;
}

const ANY_HOST = '127.0.0.1';

/** `count` distinct TCP ports free right now on 127.0.0.1, all held until every one is picked. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, ANY_HOST, resolve);
      });
    }
    return servers.map((s) => {
      const address = s.address();
      if (!address || typeof address === 'string') throw new Error('no TCP port to listen on');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function json(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return res.json();
}

/**
 * Whether server `node` serves JetStream in the cluster: healthy (`/healthz`: current with the meta
 * leader) and seeing a meta leader (`/jsz`).
 */
async function jetStreamReady(node: Node): Promise<boolean> {
  try {
    const base = `http://${ANY_HOST}:${node.monitorPort}`;
    const health = (await json(`${base}/healthz`)) as { status?: string };
    const jsz = (await json(`${base}/jsz`)) as { meta_cluster?: { leader?: string } };
    return health.status === 'ok' && Boolean(jsz.meta_cluster?.leader);
  } catch {
    return false;
  }
}

function logTail(node: Node): string {
  try {
    return readFileSync(join(node.dir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a JetStream cluster of `size` (default 3) servers, all on 127.0.0.1, and resolves once each
 * serves JetStream (a meta leader is elected and every server is current with it). Rejects, with
 * what the servers logged, if one exits or the cluster is not ready within `timeoutMs`; whatever
 * started is stopped then. The servers are also killed if the test process exits without `stop()`.
 */
export async function startNatsCluster(
  opts: { size?: number; binary?: string; timeoutMs?: number } = {},
): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const binary = opts.binary ?? (existsSync(NATS_SERVER_PATH) ? NATS_SERVER_PATH : 'nats-server');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ports = await freePorts(3 * size);
  const nodes: Node[] = [];
  for (let i = 0; i < size; i++) {
    const [port = 0, clusterPort = 0, monitorPort = 0] = ports.slice(3 * i, 3 * i + 3);
    const name = `n${i + 1}`;
    nodes.push({
      name,
      port,
      clusterPort,
      monitorPort,
      dir: await mkdtemp(join(tmpdir(), `gantry-nats-${name}-`)),
    });
  }
  const killAll = (): void => {
    for (const node of nodes) node.child?.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const launch = (node: Node): void => {
    const routes = nodes
      .filter((other) => other !== node)
      .map((other) => `nats://${ANY_HOST}:${other.clusterPort}`)
      .join(',');
    const log = createWriteStream(join(node.dir, 'server.log'), { flags: 'a' });
    const child = spawn(
      binary,
      [
        '-js',
        '-sd',
        join(node.dir, 'store'),
        '--server_name',
        node.name,
        '-a',
        ANY_HOST,
        '-p',
        String(node.port),
        '-m',
        String(node.monitorPort),
        '--cluster_name',
        'c',
        '--cluster',
        `nats://${ANY_HOST}:${node.clusterPort}`,
        '--routes',
        routes,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('exit', () => log.end());
    child.once('error', () => undefined); // surfaces as an exit below
    node.child = child;
  };

  const untilReady = async (which: Node[]): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const gone = which.find((n) => !n.child || n.child.exitCode !== null || n.child.signalCode !== null);
      if (gone) throw new Error(`nats-server ${gone.name} exited while starting:\n${logTail(gone)}`);
      const ready = await Promise.all(which.map(jetStreamReady));
      if (ready.every(Boolean)) return;
      if (Date.now() > deadline)
        throw new Error(
          `the NATS cluster was not ready within ${timeoutMs} ms:\n` +
            which.map((n) => `--- ${n.name}\n${logTail(n)}`).join('\n'),
        );
      await sleep(200);
    }
  };

  const kill = async (node: Node): Promise<void> => {
    const child = node.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map(kill));
    process.removeListener('exit', killAll);
    await Promise.all(nodes.map((n) => rm(n.dir, { recursive: true, force: true })));
  };

  const nodeAt = (i: number): Node => {
    const node = nodes[i];
    if (!node) throw new Error(`the cluster has servers 0 to ${size - 1}, not ${i}`);
    return node;
  };

  try {
    for (const node of nodes) launch(node);
    await untilReady(nodes);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    urls: nodes.map((n) => `nats://${ANY_HOST}:${n.port}`),
    names: nodes.map((n) => n.name),
    kill: (i) => kill(nodeAt(i)),
    restart: async (i) => {
      const node = nodeAt(i);
      if (stopped) throw new Error('the NATS cluster is stopped');
      await kill(node);
      launch(node);
      await untilReady([node]);
    },
    stop,
  };
}
