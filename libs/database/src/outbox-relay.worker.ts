/**
 * The outbox relay as a worker thread (see WorkerRelay): its own PostgreSQL pool and NATS
 * connection, one OutboxRelay, driven by `flush` and `close` messages from the service's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { connectNats, MessageBus } from '@gantry/messaging';
import pg from 'pg';

import { OutboxRelay, poolRelayDb, type RelayWorkerData } from './outbox-relay.js';

const data = workerData as RelayWorkerData;
const port = parentPort;

async function main(): Promise<void> {
  if (!port) throw new Error('outbox-relay.worker must run as a worker thread');
  const pool = new pg.Pool({ connectionString: data.databaseUrl, max: 3, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined); // an idle client that breaks is dropped; the next query reconnects
  const nc = await connectNats(data.messaging, ':outbox');
  const bus = new MessageBus(nc, data.messaging);
  const relay = new OutboxRelay(poolRelayDb(pool), bus, data.table);
  port.on('message', (m: { type: 'flush'; id: number } | { type: 'close' }) => {
    if (m.type === 'flush') {
      relay.flush().then(
        () => port.postMessage({ id: m.id }),
        (error: unknown) => port.postMessage({ id: m.id, error: (error as Error).message ?? String(error) }),
      );
      return;
    }
    void (async () => {
      await relay.close();
      await bus.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      port.close();
    })();
  });
}

main().catch((error: unknown) => {
  port?.postMessage({ fatal: (error as Error).message ?? String(error) });
  process.exit(1);
});
