import { describe, expect, it } from '@jest/globals';

import { formatLogLine, type LogEntry, LogFollower, ReplicaNaming } from './logs.js';

const line = (timestamp: string, content: string, replica = 'r1'): LogEntry => ({
  timestamp,
  replica,
  stream: 'stdout',
  content,
});

describe('LogFollower: polling with an inclusive, millisecond `since`', () => {
  it('returns everything the first time, then only new lines', () => {
    const f = new LogFollower();
    expect(f.since).toBeUndefined();
    const a = line('2026-11-23T10:00:00.100000001Z', 'a');
    const b = line('2026-11-23T10:00:00.200000001Z', 'b');
    expect(f.accept([a, b])).toEqual([a, b]);
    expect(f.since).toBe(b.timestamp);
    // The API repeats b (same millisecond as since) and adds c.
    const c = line('2026-11-23T10:00:01.000000000Z', 'c');
    expect(f.accept([b, c])).toEqual([c]);
    expect(f.since).toBe(c.timestamp);
    expect(f.accept([c])).toEqual([]);
    expect(f.accept([])).toEqual([]);
    expect(f.since).toBe(c.timestamp);
  });

  it('prints a new line sharing the millisecond of the last one seen', () => {
    const f = new LogFollower();
    const a = line('2026-11-23T10:00:00.100000001Z', 'a');
    expect(f.accept([a])).toEqual([a]);
    const a2 = line('2026-11-23T10:00:00.100000999Z', 'a2');
    expect(f.accept([a, a2])).toEqual([a2]);
    expect(f.accept([a, a2])).toEqual([]);
  });

  it('counts identical lines: a repeated line is printed as often as it was written', () => {
    const f = new LogFollower();
    const x = line('2026-11-23T10:00:00.100Z', 'same');
    expect(f.accept([x])).toEqual([x]);
    expect(f.accept([x, x])).toEqual([x]);
    expect(f.accept([x, x])).toEqual([]);
  });

  it('tells replicas apart', () => {
    const f = new LogFollower();
    const a = line('2026-11-23T10:00:00.100Z', 'hello', 'r1');
    const b = line('2026-11-23T10:00:00.100Z', 'hello', 'r2');
    expect(f.accept([a])).toEqual([a]);
    expect(f.accept([a, b])).toEqual([b]);
  });

  it('skips lines older than what was printed', () => {
    const f = new LogFollower('2026-11-23T10:00:00Z');
    expect(f.accept([line('2026-11-23T09:59:59Z', 'old'), line('2026-11-23T10:00:02Z', 'new')])).toEqual([
      line('2026-11-23T10:00:02Z', 'new'),
    ]);
  });
});

describe('formatLogLine', () => {
  const l = line('2026-11-23T10:00:00.1Z', 'GET / 200', 'rep-1');
  it('prints the content, optionally prefixed', () => {
    expect(formatLogLine(l)).toBe('GET / 200');
    expect(formatLogLine(l, { timestamps: true })).toBe('2026-11-23T10:00:00.1Z GET / 200');
    expect(formatLogLine(l, { timestamps: true, replica: true })).toBe(
      '2026-11-23T10:00:00.1Z [rep-1] GET / 200',
    );
  });
});

describe('ReplicaNaming: lines name their replica when the app has several', () => {
  const r1 = line('2026-11-23T10:00:00.1Z', 'a', 'r1');
  const r2 = line('2026-11-23T10:00:00.2Z', 'b', 'r2');

  it.each<[string, ConstructorParameters<typeof ReplicaNaming>[0], LogEntry[], boolean]>([
    ['an app of several replicas, even if its lines are all one replica', { desiredReplicas: 2 }, [r1], true],
    ['an app of one replica whose lines come from one', { desiredReplicas: 1 }, [r1, r1], false],
    ['lines from two replicas (a rolling update)', { desiredReplicas: 1 }, [r1, r2], true],
    ['lines from two replicas, the app unknown', {}, [r1, r2], true],
    ['the app unknown, one replica', {}, [r1], false],
    ['--replica: every line is that one', { replica: 'r1', desiredReplicas: 3 }, [r1, r2], false],
    ['--prefix', { asked: true, desiredReplicas: 1 }, [r1], true],
    ['--no-prefix', { asked: false, desiredReplicas: 3 }, [r1, r2], false],
  ])('%s', (_what, opts, batch, expected) => {
    expect(new ReplicaNaming(opts).accept(batch)).toBe(expected);
  });

  it('a followed log starts naming replicas when a second one shows up, and keeps doing so', () => {
    const n = new ReplicaNaming({ desiredReplicas: 1 });
    expect(n.accept([r1])).toBe(false);
    expect(n.accept([])).toBe(false);
    expect(n.accept([r2])).toBe(true);
    expect(n.accept([r2])).toBe(true);
  });
});
