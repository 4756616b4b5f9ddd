import { loadConfig } from '@gantry/config';
import { describe, expect, it } from '@jest/globals';

import { ApiGatewayConfigSchema } from './config.js';

const load = (env: Record<string, string>) => loadConfig(ApiGatewayConfigSchema, env);

describe('the API edge settings', () => {
  it('binds to loopback unless told, like the ingress: a host serving others says HTTP_HOST', () => {
    expect(load({}).HTTP_HOST).toBe('127.0.0.1');
    expect(load({ HTTP_HOST: '0.0.0.0' }).HTTP_HOST).toBe('0.0.0.0');
  });

  it('tracks up to 100000 callers for its rate limits by default', () => {
    expect(load({}).RATE_LIMIT_MAX_BUCKETS).toBe(100_000);
  });
});
