import { MessageBus } from '@gantry/messaging';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { uniqueName } from './names.js';
import { type NatsCluster, startNatsCluster } from './nats-cluster.js';
import { waitFor } from './wait.js';

/** What every service's /readyz and the outbox relay read: whether the bus is connected right now. */
describe('MessageBus.isConnected', () => {
  let nats: NatsCluster;
  let bus: MessageBus;

  beforeAll(async () => {
    nats = await startNatsCluster();
    bus = await MessageBus.connect({
      natsUrl: nats.urls.join(','),
      namespace: uniqueName('conn'),
      service: 'test',
    });
  });

  afterAll(async () => {
    await bus?.nc.close();
    await nats?.stop();
  });

  it('is false while every server is gone, and true again once the connection is back', async () => {
    expect(bus.isConnected()).toBe(true);
    await Promise.all(nats.urls.map((_, i) => nats.kill(i)));
    await waitFor('the bus to notice', () => (bus.isConnected() ? undefined : true), { timeoutMs: 10_000 });
    await Promise.all(nats.urls.map((_, i) => nats.restart(i)));
    await waitFor('the bus to reconnect', () => (bus.isConnected() ? true : undefined), {
      timeoutMs: 20_000,
    });
  });
});
