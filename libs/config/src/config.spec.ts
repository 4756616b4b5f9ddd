import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';

import { ConfigError, describeConfig, env, loadConfig, secret } from './config.js';

const schema = z.object({
  API_PORT: env.port(8000),
  DEBUG: env.bool(false),
  TOKEN: secret(z.string().min(8)),
});

describe('loadConfig', () => {
  it('applies defaults and coerces', () => {
    expect(loadConfig(schema, { TOKEN: 'abcdefgh', DEBUG: 'yes' })).toEqual({
      API_PORT: 8000,
      DEBUG: true,
      TOKEN: 'abcdefgh',
    });
  });

  it('names every bad variable and never prints a secret', () => {
    let error: unknown;
    try {
      loadConfig(schema, { API_PORT: '99999', TOKEN: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('API_PORT="99999"');
    expect(message).toContain('TOKEN=(secret)');
    expect(message).not.toContain('short');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig(schema, { API_PORT: '', TOKEN: '12345678' }).API_PORT).toBe(8000);
  });

  it('masks secrets when described', () => {
    const config = loadConfig(schema, { TOKEN: 'abcdefgh' });
    expect(describeConfig(schema, config)).toEqual({ API_PORT: 8000, DEBUG: false, TOKEN: '***' });
  });
});
