import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';

import { ConfigError, loadConfig, platformEnv } from './config.js';

const schema = z.object(platformEnv);
const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('platformEnv: NATS servers and replicas', () => {
  it('defaults to one local server and one replica', () => {
    const config = loadConfig(schema, {});
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(config.GANTRY_NATS_REPLICAS).toBe(1);
  });

  it('takes a comma-separated list of servers, blanks trimmed', () => {
    const config = loadConfig(schema, {
      NATS_URL: ' nats://n1:4222, tls://n2:4222 ,n3:4222',
      GANTRY_NATS_REPLICAS: '3',
    });
    expect(config.NATS_URL).toBe('nats://n1:4222,tls://n2:4222,n3:4222');
    expect(config.GANTRY_NATS_REPLICAS).toBe(3);
  });

  it.each([
    ['nats://n1:4222,,nats://n2:4222', 'empty'],
    ['nats://n1:4222,', 'empty'],
    ['http://n1:4222', 'scheme'],
    ['nats://n1:99999', 'not a server address'],
    ['nats://n1:4222/path', 'no path'],
    ['nats://', 'names no host'],
  ])('refuses NATS_URL=%s, naming the variable', (url, why) => {
    const problems = problemsOf({ NATS_URL: url });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('NATS_URL=');
    expect(problems[0]).toContain(why);
  });

  it.each(['0', '6', '2.5', 'three'])('refuses GANTRY_NATS_REPLICAS=%s', (replicas) => {
    expect(problemsOf({ GANTRY_NATS_REPLICAS: replicas })[0]).toContain('GANTRY_NATS_REPLICAS=');
  });
});
