import type { NodeRecord, UsageOutput } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import {
  APP_ID,
  cpuScaling,
  customScaling,
  sampleApp,
  sampleFlavor,
  sampleMe,
  sampleRegistry,
  sampleToken,
} from '../__fixtures__/api.js';
import {
  quoteArg,
  renderApp,
  renderAppList,
  renderFlavors,
  renderMe,
  renderNodes,
  renderRegistries,
  renderRegistry,
  renderToken,
  renderTokens,
  renderUsage,
  replicasAtMost,
} from './views.js';

const now = new Date('2026-11-23T12:00:00Z');

describe('renderAppList', () => {
  it('prints ID, NAME, IMAGE, STATE, REPLICAS, URL, AGE aligned', () => {
    const other = sampleApp({
      id: '11111111-2222-4333-8444-555555555555',
      name: 'api',
      state: 'STOPPED',
      available: 0,
    });
    const lines = renderAppList([sampleApp(), other], now).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+IMAGE\s+STATE\s+REPLICAS\s+URL\s+AGE$/);
    expect(lines[1]).toContain(APP_ID);
    expect(lines[1]).toMatch(/web\s+busybox:1\.37\s+RUNNING\s+2\/2\s+http:\/\/\S+\s+5m$/);
    expect(lines[2]).toMatch(/api\s+busybox:1\.37\s+STOPPED\s+0\/2/);
    // Columns line up: every row starts its NAME where the header does.
    const at = lines[0]?.indexOf('NAME');
    expect(lines[1]?.indexOf('web')).toBe(at);
    expect(lines[2]?.indexOf('api')).toBe(at);
  });

  it('says so when there is no app', () => {
    expect(renderAppList([], now)).toBe('No apps found.\n');
  });
});

describe('renderApp', () => {
  it('shows the spec, the status and the history', () => {
    const text = renderApp(sampleApp(), now);
    expect(text).toContain(`Id:      ${APP_ID}`);
    expect(text).toMatch(/Spec:\n {2}Image: +busybox:1\.37/);
    expect(text).toMatch(/Command: +httpd -f -p 8080/);
    expect(text).toMatch(
      /Resources: +1 × ai1-1-cpu \(cpu; per replica: 1 CPU, 4\.0 GiB RAM, 50\.0 GiB disk\)/,
    );
    expect(text).toMatch(/Labels: +gantry\/id=\S+, team=a/);
    expect(text).toMatch(/Env Vars: +GREETING=hello world/);
    expect(text).toMatch(/Status:\n {2}State: +RUNNING/);
    expect(text).toMatch(/Replicas: +2 available of 2/);
    expect(text).toMatch(/Info: +APP_RUNNING: the app is running/);
    expect(text).toMatch(/History:\n {4}DATE +STATE\n {4}2026-11-23T11:55:00.000Z +QUEUED/);
  });
});

describe('automatic scaling in the views', () => {
  const auto = sampleApp({ scaling: cpuScaling(0, 4) });
  const custom = sampleApp({
    id: '11111111-2222-4333-8444-555555555555',
    scaling: customScaling,
    available: 1,
  });

  it('app list shows the available replicas and the bounds instead of a desired count', () => {
    const lines = renderAppList([sampleApp(), auto, custom], now).trimEnd().split('\n');
    expect(lines[1]).toMatch(/RUNNING\s+2\/2\s+http/);
    expect(lines[2]).toMatch(/RUNNING\s+2 \(auto 0–4, CPU 50 %\)\s+http/);
    expect(lines[3]).toMatch(/RUNNING\s+1 \(auto 1–4, custom metric\)\s+http/);
    expect(lines[3]?.indexOf('http')).toBe(lines[0]?.indexOf('URL'));
  });

  it('app get shows the automatic strategy and its settings', () => {
    const text = renderApp(auto, now);
    expect(text).not.toMatch(/\(fixed\)/);
    expect(text).toContain(
      [
        '  Scaling:           automatic, 0 to 4 replicas',
        '                     CPU at 50 % of the allocation (average of ready replicas)',
        '                     scale up after 0 s, down after 300 s',
        '                     to zero after 300 s more without load',
      ].join('\n'),
    );
    expect(text).toMatch(/Replicas: +2 available \(auto 0–4, CPU 50 %\)\n/);
  });

  it('app get shows a custom metric, without a cooldown when the app never goes to zero', () => {
    const text = renderApp(custom, now);
    expect(text).toMatch(
      /Scaling: +automatic, 1 to 4 replicas\n +custom metric: AVERAGE of queue_depth \(PROMETHEUS\) from http:\/\/<SELF>:9100\/metrics, target 10\n +scale up after 30 s, down after 600 s\n {2}Default/,
    );
    expect(text).toMatch(/Replicas: +1 available \(auto 1–4, custom metric\)\n/);
  });

  it('says that a running app at zero replicas wakes on a request', () => {
    const asleep = sampleApp({ scaling: cpuScaling(0, 4), available: 0 });
    expect(renderApp(asleep, now)).toMatch(
      /Replicas: +0 available \(auto 0–4, CPU 50 %\); scaled to zero: the next request wakes it\n/,
    );
    const stopped = sampleApp({ scaling: cpuScaling(0, 4), available: 0, state: 'STOPPED' });
    expect(renderApp(stopped, now)).toMatch(/Replicas: +0 available \(auto 0–4, CPU 50 %\)\n/);
  });

  it('keeps a metric location from the API on one line', () => {
    const hostile = structuredClone(customScaling);
    if ('automatic' in hostile && hostile.automatic.customMetrics)
      hostile.automatic.customMetrics.valueLocation = 'a\nState: RUNNING\u001b[2J';
    const text = renderApp(sampleApp({ scaling: hostile }), now);
    expect(text).toContain('custom metric: AVERAGE of a State: RUNNING [2J (PROMETHEUS)');
    expect(text.match(/State:/g)).toHaveLength(2);
  });

  it('replicasAtMost is the fixed count or the automatic maximum', () => {
    expect(replicasAtMost(sampleApp())).toBe(2);
    expect(replicasAtMost(auto)).toBe(4);
  });
});

describe('quoteArg', () => {
  it('quotes what a shell would split', () => {
    expect(quoteArg('httpd')).toBe('httpd');
    expect(quoteArg('--port=8080')).toBe('--port=8080');
    expect(quoteArg('hello world')).toBe("'hello world'");
    expect(quoteArg("it's")).toBe("'it'\\''s'");
    expect(quoteArg('')).toBe("''");
  });
});

describe('renderFlavors, renderMe', () => {
  it('lists flavors with their size and price', () => {
    const lines = renderFlavors([sampleFlavor]).trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^ID\s+TYPE\s+DEFAULT\s+MAX\s+CPU\/UNIT\s+MEMORY\/UNIT\s+DISK\/UNIT\s+NETWORK\/UNIT\s+GPU\s+PRICE\s+DESCRIPTION$/,
    );
    expect(lines[1]).toMatch(
      /^ai1-1-cpu\s+cpu\s+yes\s+12\s+1\s+4\.0 GiB\s+50\.0 GiB\s+1\.5 Gbps\s+-\s+0\.03 EUR\/unit-hour\s+1 vCPU, 4 GiB$/,
    );
  });

  it('shows who the token is', () => {
    const text = renderMe(sampleMe);
    expect(text).toMatch(/Role: +admin/);
    expect(text).toMatch(/Label Selector: +- \(all apps of the project\)/);
    expect(text).toMatch(/GPU Quota: +1 in use of 4/);
    expect(text).toMatch(/CPU Quota: +0 in use of 32/);
    expect(text).toMatch(/Memory Quota: +0 B in use of 128(\.0)? GiB/);
    expect(text).toMatch(/Apps Quota: +1 of 50/);
  });
});

describe('renderTokens, renderToken', () => {
  it('lists tokens without secrets', () => {
    const text = renderTokens([sampleToken({ labelSelector: 'team=a' })], now);
    expect(text).toMatch(/^ID\s+NAME\s+ROLE\s+LABEL SELECTOR\s+PROJECT\s+VERSION\s+AGE\n/);
    expect(text).toMatch(/reader\s+read\s+team=a\s+default\s+1\s+1h\n$/);
  });

  it('prints the secret once, when the API returns it', () => {
    expect(renderToken(sampleToken())).not.toContain('Secret');
    const text = renderToken(sampleToken({ value: 'gantry_secret' }));
    expect(text).toMatch(/Secret \(shown only this once, store it now\):\ngantry_secret\n/);
  });
});

describe('renderRegistries, renderRegistry', () => {
  it('lists registries aligned, with their user name but no password', () => {
    const other = { ...sampleRegistry({ url: 'ghcr.io/my-org', username: 'bot' }), id: 'r2' };
    const lines = renderRegistries([sampleRegistry(), other], now).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+URL\s+USERNAME\s+PROJECT\s+USER\s+AGE$/);
    expect(lines[1]).toMatch(/^7a1e9c52-\S+\s+registry\.example\.com\s+ci\s+default\s+admin\s+2h$/);
    expect(lines[2]).toMatch(/^r2\s+ghcr\.io\/my-org\s+bot\s+default\s+admin\s+2h$/);
    expect(lines[2]?.indexOf('bot')).toBe(lines[0]?.indexOf('USERNAME'));
    expect(renderRegistries([], now)).toBe('No registries found.\n');
  });

  it('shows one registry, saying that the password is never shown', () => {
    expect(renderRegistry(sampleRegistry(), now)).toBe(
      [
        'Id:       7a1e9c52-2222-4b4b-8c8c-000000000002',
        'Url:      registry.example.com',
        'Username: ci',
        'Password: (stored encrypted, never shown)',
        'Region:   local',
        'Project:  default',
        'User:     admin',
        'Created:  2026-11-23T10:00:00.000Z (2h ago)',
        'Updated:  2026-11-23T11:00:00.000Z',
        '',
      ].join('\n'),
    );
  });
});

describe('renderNodes', () => {
  it('lists nodes with allocation over capacity', () => {
    const node: NodeRecord = {
      id: 'node-1',
      address: '127.0.0.1',
      state: 'READY',
      schedulable: true,
      draining: false,
      simulatedGpus: true,
      labels: { zone: 'e2e' },
      lastHeartbeatAt: '2026-11-23T11:59:58Z',
      capacity: { cpus: 8, memory: 32 * 1024 ** 3, gpus: 2 },
      allocated: { cpus: 1.5, memory: 4 * 1024 ** 3, gpus: 1 },
      gpus: [],
      replicas: [{ replicaId: 'r1', appId: APP_ID, phase: 'READY', units: 1 }],
    };
    const text = renderNodes([node], now);
    expect(text).toMatch(/^ID\s+STATE\s+ADDRESS\s+CPU\s+MEMORY\s+GPU\s+REPLICAS\s+LABELS\s+HEARTBEAT\n/);
    expect(text).toMatch(
      /node-1\s+READY\s+127\.0\.0\.1\s+1\.5\/8\s+4\.0 GiB\/32\.0 GiB\s+1\/2 \(sim\)\s+1\s+zone=e2e\s+2s ago\n$/,
    );
  });
});

describe('renderUsage', () => {
  it('prints runs and totals', () => {
    const usage: UsageOutput = {
      asOf: '2026-11-23T12:00:00Z',
      projectId: 'default',
      runs: [
        {
          runId: 'run-1',
          appId: APP_ID,
          projectId: 'default',
          flavor: 'ai1-1-gpu',
          unitPriceMicros: 1_930_000,
          unitPrice: '1.93',
          currency: 'EUR',
          start: '2026-11-23T06:00:00Z',
          minutes: 360,
          unitMinutes: 480,
          chargeMicros: 15_440_000,
          charge: '15.44',
          periods: [],
        },
      ],
      totals: [
        { currency: 'EUR', minutes: 360, unitMinutes: 480, chargeMicros: 15_440_000, charge: '15.44' },
      ],
    };
    const text = renderUsage(usage);
    expect(text).toMatch(/APP\s+RUN\s+FLAVOR\s+START\s+END\s+MINUTES\s+UNIT-MINUTES\s+PRICE\s+CHARGE/);
    expect(text).toMatch(
      /ai1-1-gpu\s+2026-11-23T06:00:00Z\s+\(running\)\s+360\s+480\s+1\.93\/unit-hour\s+15\.44 EUR/,
    );
    expect(text).toContain('Total: 15.44 EUR (360 min, 480 unit-min)');
  });
});
