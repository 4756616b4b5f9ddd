import { describe, expect, it } from '@jest/globals';

import { ProbeTracker } from './probe-tracker.js';

describe('ProbeTracker', () => {
  it('is ready at the first success, not ready after 3 failures in a row, ready again at one success', () => {
    const t = new ProbeTracker(3);
    const seen = [false, false, true, true, false, false, true, false, false, false, false, true].map((ok) =>
      t.observe(ok),
    );
    expect(seen).toEqual([
      undefined,
      undefined,
      'ready',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'not-ready',
      undefined,
      'ready',
    ]);
  });
});
