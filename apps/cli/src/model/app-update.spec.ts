import { describe, expect, it } from '@jest/globals';

import { buildUpdateBody, checkUpdateOptions, parseEnvName, splitCommand } from './app-update.js';
import { ArgumentError } from './args.js';

const CURRENT = [
  { name: 'A', value: '1' },
  { name: 'B', value: '2' },
  { name: 'C', value: '3' },
];

describe('buildUpdateBody: gantry app update → PUT /v1/app/{id}', () => {
  it('sends the whole environment: set in place, new last, unset removed', () => {
    expect(
      buildUpdateBody(
        {
          env: [
            ['D', 'new'],
            ['B', 'two'],
            ['D', 'newer'],
          ],
          unsetEnv: ['A'],
        },
        [],
        CURRENT,
      ),
    ).toEqual({
      envVars: [
        { name: 'B', value: 'two' },
        { name: 'C', value: '3' },
        { name: 'D', value: 'newer' },
      ],
    });
  });

  it('can empty the environment', () => {
    expect(buildUpdateBody({ unsetEnv: ['A', 'B', 'C'] }, [], CURRENT)).toEqual({ envVars: [] });
  });

  it('maps every option to its field, and sends nothing else', () => {
    expect(
      buildUpdateBody(
        {
          command: ['python', 'serve.py'],
          gpu: 1,
          flavor: 'h100-1-gpu',
          defaultHttpPort: 8501,
          grpcPort: 9000,
          probePath: '/health',
          probePort: 8502,
          autoRollback: true,
        },
        [],
        CURRENT,
      ),
    ).toEqual({
      command: ['python', 'serve.py'],
      resources: { flavor: 'h100-1-gpu', gpu: 1 },
      defaultHttpPort: 8501,
      grpcPort: 9000,
      probe: { path: '/health', port: 8502 },
      deploymentStrategy: { autoRollback: true },
    });
    expect(buildUpdateBody({ cpu: 2 }, [], CURRENT)).toEqual({ resources: { cpu: 2 } });
  });

  it('--no-command, --no-grpc-port and --no-auto-rollback send null, null and false', () => {
    expect(buildUpdateBody({ command: false, grpcPort: false, autoRollback: false }, [], [])).toEqual({
      command: null,
      grpcPort: null,
      deploymentStrategy: { autoRollback: false },
    });
  });

  it('takes the command from after --', () => {
    expect(buildUpdateBody({}, ['httpd', '-f', '-p', '8080'], [])).toEqual({
      command: ['httpd', '-f', '-p', '8080'],
    });
  });

  it('refuses removing a variable the app does not have, naming those it has', () => {
    expect(() => buildUpdateBody({ unsetEnv: ['Z'] }, [], CURRENT)).toThrow(
      /no environment variable Z \(it has A, B, C\)/,
    );
    expect(() => buildUpdateBody({ unsetEnv: ['Z'] }, [], [])).toThrow(/\(it has none\)/);
  });
});

describe('checkUpdateOptions', () => {
  const refused = (opts: Parameters<typeof checkUpdateOptions>[0], passthrough: string[] = []) => {
    try {
      checkUpdateOptions(opts, passthrough);
    } catch (e) {
      expect(e).toBeInstanceOf(ArgumentError);
      return (e as Error).message;
    }
    throw new Error('not refused');
  };

  it('refuses what cannot go together, and a command line that changes nothing', () => {
    expect(refused({ cpu: 1, gpu: 1 })).toMatch(/--cpu and --gpu/);
    expect(refused({ command: ['a'] }, ['b'])).toMatch(/with --command or after --/);
    expect(refused({ command: false }, ['b'])).toMatch(/with --no-command or after --/);
    expect(refused({ env: [['A', '1']], unsetEnv: ['A'] })).toMatch(/both name A/);
    expect(refused({})).toMatch(/^nothing to change/);
  });

  it('accepts any one change', () => {
    for (const opts of [{ autoRollback: false }, { grpcPort: false as const }, { unsetEnv: ['A'] }])
      expect(() => checkUpdateOptions(opts, [])).not.toThrow();
    expect(() => checkUpdateOptions({}, ['cmd'])).not.toThrow();
  });
});

describe('splitCommand', () => {
  it('splits as a shell would, without expanding anything', () => {
    expect(splitCommand('python serve.py --port 8080')).toEqual(['python', 'serve.py', '--port', '8080']);
    expect(splitCommand(`  sh -c 'echo "$HOME" && sleep 1'  `)).toEqual([
      'sh',
      '-c',
      'echo "$HOME" && sleep 1',
    ]);
    expect(splitCommand(`echo "a \\"b\\" \\$x \\n" ''`)).toEqual(['echo', 'a "b" $x \\n', '']);
    expect(splitCommand('a\\ b c')).toEqual(['a b', 'c']);
    expect(splitCommand('x"y z"')).toEqual(['xy z']);
  });

  it('refuses an empty command, an unclosed quote and a trailing backslash', () => {
    expect(() => splitCommand('   ')).toThrow(/--no-command/);
    expect(() => splitCommand("echo 'a")).toThrow(/unclosed '/);
    expect(() => splitCommand('echo "a')).toThrow(/unclosed "/);
    expect(() => splitCommand('echo \\')).toThrow(/lone \\/);
  });
});

describe('parseEnvName', () => {
  it('takes a name, not KEY=VALUE', () => {
    expect(parseEnvName('GREETING')).toBe('GREETING');
    expect(() => parseEnvName('A=1')).toThrow(ArgumentError);
    expect(() => parseEnvName('')).toThrow(ArgumentError);
  });
});
