import { IngressTrafficSchema } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { MAX_APPS_PER_REPORT, trafficReport } from './traffic.js';

describe('trafficReport', () => {
  it('lists each app with requests or held requests, by app id, and nothing when there is nothing', () => {
    const requests = new Map([
      ['b', 3],
      ['a', 1],
      ['idle', 0],
    ]);
    const held = new Map([
      ['z', 2],
      ['a', 4],
    ]);
    expect(trafficReport(requests, held)).toEqual([
      [
        { appId: 'a', requests: 1, held: 4 },
        { appId: 'b', requests: 3, held: 0 },
        { appId: 'z', requests: 0, held: 2 },
      ],
    ]);
    expect(trafficReport(new Map(), new Map())).toEqual([]);
    expect(trafficReport(new Map([['a', 0]]), new Map([['b', 0]]))).toEqual([]);
  });

  it('cuts a long report into messages of a bounded size, each within the contract', () => {
    const requests = new Map(Array.from({ length: 2_500 }, (_, i) => [`app-${i}`, i + 1] as const));
    const messages = trafficReport(requests, new Map());
    expect(messages.map((m) => m.length)).toEqual([MAX_APPS_PER_REPORT, MAX_APPS_PER_REPORT, 500]);
    expect(new Set(messages.flat().map((a) => a.appId)).size).toBe(2_500);
    for (const apps of messages) {
      const message = { ingressId: 'host:1', at: '2026-11-23T09:00:00Z', intervalMs: 1000, apps };
      expect(IngressTrafficSchema.safeParse(message).success).toBe(true);
      expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(1024 * 1024);
    }
    expect(trafficReport(requests, new Map(), 1000).length).toBe(3);
  });
});
