import { ConfigError, loadConfig } from '@gantry/config';
import { describe, expect, it } from '@jest/globals';

import { NodeAgentConfigSchema } from './config.js';

const load = (env: Record<string, string>) => loadConfig(NodeAgentConfigSchema, { NODE_ID: 'n1', ...env });

describe('USAGE_INTERVAL_MS', () => {
  it('samples every 2 s by default; 0 turns sampling off', () => {
    expect(load({}).USAGE_INTERVAL_MS).toBe(2000);
    expect(load({ USAGE_INTERVAL_MS: '0' }).USAGE_INTERVAL_MS).toBe(0);
    expect(load({ USAGE_INTERVAL_MS: '100' }).USAGE_INTERVAL_MS).toBe(100);
  });

  it.each(['50', '-1', '1.5', '600001', 'often'])('refuses %p, naming the variable', (value) => {
    expect(() => load({ USAGE_INTERVAL_MS: value })).toThrow(ConfigError);
    expect(() => load({ USAGE_INTERVAL_MS: value })).toThrow(`USAGE_INTERVAL_MS=${JSON.stringify(value)}`);
  });
});
