import { sleep, waitFor } from '@gantry/testing';
import { describe, expect, it } from '@jest/globals';

import { api, createApp, E, getApp, waitForState } from './platform.js';

interface Usage {
  runs: Array<{
    appId: string;
    minutes: number;
    unitMinutes: number;
    chargeMicros: number;
    periods: Array<{ quantity: number }>;
  }>;
}

describe('billing per commenced minute', () => {
  it('bills an app that ran 61 seconds for 2 minutes, and a stopped app accrues nothing', async () => {
    const app = await createApp({
      image: E.images.web,
      resources: { cpu: 1 },
      unsecureHttp: true,
      name: 'billed-61s',
    });
    await waitForState(app.id, 'RUNNING');
    const history = (await getApp(app.id)).status.history;
    const runStart = Date.parse(history.find((h) => h.state === 'SCALING')?.date ?? '');
    // Stop once the run has lasted just over 61 seconds (and well under 120).
    await sleep(Math.max(0, runStart + 61_500 - Date.now()));
    expect((await api('PUT', `/v1/app/${app.id}/stop`)).status).toBeLessThan(300);
    const stopped = await waitForState(app.id, 'STOPPED');
    const runEnd = Date.parse(stopped.status.history.find((h) => h.state === 'STOPPING')?.date ?? '');
    expect(runEnd - runStart).toBeGreaterThan(60_000);
    expect(runEnd - runStart).toBeLessThan(120_000);

    const usage = async () => (await api<Usage>('GET', `/v1/billing/usage?appId=${app.id}`)).body;
    const billed = await waitFor('the closed run', async () => {
      const u = await usage();
      return u.runs?.length === 1 ? u : undefined;
    });
    expect(billed.runs[0]).toMatchObject({ appId: app.id, minutes: 2, unitMinutes: 2, chargeMicros: 1000 });
    expect(billed.runs[0]?.periods.map((p) => p.quantity)).toEqual([1, 1]);
    await sleep(3000);
    expect(await usage()).toMatchObject({ runs: [{ minutes: 2, chargeMicros: 1000 }] });
  });
});
