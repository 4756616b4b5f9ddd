import type { UsageResult } from '@gantry/contracts';
import { UsageOutputSchema } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { appUrl, toUsageOutput } from './presenters.js';

describe('presenters', () => {
  it('fills the app URL template', () => {
    expect(appUrl('http://{id}.app.localhost:8080', 'abc')).toBe('http://abc.app.localhost:8080');
  });

  it('renders every amount of a usage answer also as a decimal string (reference example: 15.44 €)', () => {
    const result: UsageResult = {
      asOf: '2026-11-23T16:00:00.000Z',
      runs: [
        {
          runId: 'r1',
          appId: 'a1',
          projectId: 'p1',
          flavor: 'ai1-1-gpu',
          unitPriceMicros: 1_930_000,
          currency: 'EUR',
          start: '2026-11-23T10:00:00.000Z',
          end: '2026-11-23T16:00:00.000Z',
          minutes: 360,
          unitMinutes: 480,
          chargeMicros: 15_440_000,
          periods: [
            {
              index: 0,
              start: '2026-11-23T10:00:00.000Z',
              end: '2026-11-23T10:01:00.000Z',
              quantity: 1,
              chargeMicros: 32_167,
              open: false,
            },
          ],
        },
      ],
      totals: [{ currency: 'EUR', minutes: 360, unitMinutes: 480, chargeMicros: 15_440_000 }],
    };
    const out = toUsageOutput(result, { projectId: 'p1', appId: 'a1' });
    expect(UsageOutputSchema.parse(out)).toEqual(out);
    expect(out.runs[0]).toMatchObject({ unitPrice: '1.93', chargeMicros: 15_440_000, charge: '15.44' });
    expect(out.runs[0]?.periods[0]).toMatchObject({ chargeMicros: 32_167, charge: '0.032167' });
    expect(out.totals).toEqual([
      { currency: 'EUR', minutes: 360, unitMinutes: 480, chargeMicros: 15_440_000, charge: '15.44' },
    ]);
    expect(out).toMatchObject({ projectId: 'p1', appId: 'a1' });
  });
});
