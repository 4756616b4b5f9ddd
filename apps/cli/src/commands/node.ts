import type { NodeRecord } from '@gantry/contracts';
import type { Command } from 'commander';

import { examples, handler, type Io, type Run } from '../context.js';
import { renderNode, renderNodes } from '../model/views.js';

const path = (id: string) => `/v1/node/${encodeURIComponent(id)}`;

/** A node list as the API may answer it: an array, `{items}` or `{nodes}`. */
export function nodesOf(body: unknown): NodeRecord[] {
  if (Array.isArray(body)) return body as NodeRecord[];
  const o = (body ?? {}) as { items?: NodeRecord[]; nodes?: NodeRecord[] };
  return o.items ?? o.nodes ?? [];
}

/** A node as the API may answer it: the record, or `{node}`. */
export function nodeOf(body: unknown): NodeRecord | undefined {
  if (body === undefined || body === null || typeof body !== 'object') return undefined;
  const o = body as { node?: NodeRecord | null } & Partial<NodeRecord>;
  if ('node' in o) return o.node ?? undefined;
  return typeof o.id === 'string' ? (o as NodeRecord) : undefined;
}

const ACTIONS = {
  cordon: {
    method: 'PUT',
    done: 'cordoned: no new replica will be placed on it',
    describe: 'stop placing new replicas on a node (its replicas keep running)',
  },
  uncordon: {
    method: 'PUT',
    done: 'uncordoned: it takes new replicas again',
    describe: 'let a cordoned or drained node take new replicas again',
  },
  drain: {
    method: 'PUT',
    done: 'draining: its replicas are being moved to other nodes',
    describe: 'cordon a node and move its replicas elsewhere',
  },
  delete: {
    method: 'DELETE',
    done: 'deleted',
    describe: 'forget a node (it must hold no replica, or be lost)',
  },
} as const;

/** `gantry node list|get|cordon|uncordon|drain|delete` (admin tokens). */
export function registerNode(program: Command, io: Io, passthrough: readonly string[]): void {
  const node = examples(
    program.command('node').description('GPU hosts running the node agent (admin tokens)'),
    ['gantry node list', 'gantry node drain <node-id>'],
  );

  examples(
    node
      .command('list')
      .alias('ls')
      .description('list the nodes: state, capacity and allocation, last heartbeat')
      .action(
        handler(io, passthrough, async (run) => {
          const nodes = nodesOf(await (await run.client()).get<unknown>('/v1/node'));
          run.emit(nodes, (now) => renderNodes(nodes, now));
        }),
      ),
    ['gantry node list', 'gantry node ls -o json'],
  );

  examples(
    node
      .command('get')
      .argument('<id>', 'node id')
      .description('show a node: capacity, GPUs and the replicas it runs')
      .action(
        handler(io, passthrough, async (run, id: string) => {
          const body = await (await run.client()).get<unknown>(path(id));
          const n = nodeOf(body);
          run.emit(n ?? body, (now) => (n ? renderNode(n, now) : `Node ${id}: no details.\n`));
        }),
      ),
    ['gantry node get <node-id>'],
  );

  for (const [name, a] of Object.entries(ACTIONS)) {
    examples(
      node
        .command(name)
        .argument('<id>', 'node id')
        .description(a.describe)
        .action(handler(io, passthrough, (run, id: string) => nodeAction(run, id, name, a.method, a.done))),
      [`gantry node ${name} <node-id>`],
    );
  }
}

async function nodeAction(run: Run, id: string, action: string, method: string, done: string): Promise<void> {
  const client = await run.client();
  const body =
    method === 'DELETE'
      ? await client.delete<unknown>(path(id))
      : await client.put<unknown>(`${path(id)}/${action}`);
  const n = nodeOf(body);
  run.emit(
    n ?? { id, action, accepted: true },
    () => `Node ${id} ${done}.${n ? ` State: ${n.state}.` : ''}\n`,
  );
}
