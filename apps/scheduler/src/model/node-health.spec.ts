import { describe, expect, it } from '@jest/globals';

import { nodeHealth } from './node-health.js';

describe('nodeHealth', () => {
  const policy = { notReadyAfterMs: 3000, lostAfterMs: 10_000 };
  it.each([
    [0, 'READY'],
    [3000, 'READY'],
    [3001, 'NOT_READY'],
    [10_000, 'NOT_READY'],
    [10_001, 'LOST'],
    [-500, 'READY'],
  ])('a heartbeat %i ms old → %s', (age, health) => {
    expect(nodeHealth(1_000_000 - age, 1_000_000, policy)).toBe(health);
  });
});
