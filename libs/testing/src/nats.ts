import { connectNats, destroyTopology, ensureTopology, MessageBus } from '@gantry/messaging';

import { uniqueName } from './names.js';

export const TEST_NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A test's NATS namespace: its name, the server, a bus on it, and how to remove it all. */
export interface TestNamespace {
  namespace: string;
  natsUrl: string;
  bus: MessageBus;
  destroy: () => Promise<void>;
}

/** A namespace of its own on the machine's NATS server, with the catalog's streams and buckets. */
export async function createTestNamespace(prefix = 't'): Promise<TestNamespace> {
  const namespace = uniqueName(prefix).toLowerCase();
  const opts = { service: 'test', natsUrl: TEST_NATS_URL, namespace };
  const bus = await MessageBus.connect(opts);
  await ensureTopology(bus.nc, namespace);
  return {
    namespace,
    natsUrl: TEST_NATS_URL,
    bus,
    destroy: async () => {
      const nc = await connectNats(opts, ':cleanup');
      await destroyTopology(nc, namespace);
      await nc.close();
      await bus.close();
    },
  };
}
