import { REPLICA_SCRAPE_MAX_BYTES } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { extractValue, parseSelector, pathSegments } from './extract.js';

const ok = (value: number) => ({ ok: true, value });
const error = (re: RegExp) => expect.objectContaining({ ok: false, error: expect.stringMatching(re) });

describe('dotted paths', () => {
  it.each([
    ['a', ['a']],
    ['a.b.0.c', ['a', 'b', '0', 'c']],
    ['a\\.b.c', ['a.b', 'c']],
    ['a\\\\.b', ['a\\', 'b']],
  ])('%s', (path, segments) => expect(pathSegments(path)).toEqual(segments));

  it.each(['', '.a', 'a.', 'a..b', 'a\\'])('refuses %j', (path) =>
    expect(pathSegments(path)).toBeUndefined(),
  );

  it('refuses a path with too many segments', () => {
    expect(pathSegments(Array.from({ length: 65 }, () => 'a').join('.'))).toBeUndefined();
    expect(pathSegments(Array.from({ length: 64 }, () => 'a').join('.'))).toHaveLength(64);
  });
});

describe('JSON', () => {
  const body = JSON.stringify({
    queue: { depth: 42, name: 'q', quoted: '12.5', flag: true, nothing: null, nan: 'NaN' },
    workers: [{ busy: 3 }, { busy: 5 }],
    'dotted.key': { v: 7 },
    list: [1, 2, 3],
  });

  it.each([
    ['queue.depth', 42],
    ['workers.1.busy', 5],
    ['dotted\\.key.v', 7],
    ['list.#', 3],
    ['queue.quoted', 12.5],
  ])('%s', (path, value) => expect(extractValue('JSON', body, path)).toEqual(ok(value)));

  it.each([
    ['queue.missing', /^no value at queue.missing$/],
    ['workers.7.busy', /^no value at workers.7.busy$/],
    ['workers.x', /^no value at workers.x$/],
    ['queue.depth.deeper', /^no value at queue.depth.deeper$/],
    ['queue.name', /not a number: "q"/],
    ['queue.flag', /not a number: true/],
    ['queue', /not a number: \{"depth"/],
    ['queue.nothing', /^no value at queue.nothing$/],
    ['queue.nan', /not a number: "NaN"/],
    ['list.#.x', /must end/],
    ['a..b', /invalid value location/],
  ])('%s is an error', (path, re) => expect(extractValue('JSON', body, path)).toEqual(error(re)));

  it('reads only own properties, never the prototype chain', () => {
    expect(extractValue('JSON', '{}', 'constructor.length')).toEqual(error(/no value/));
    expect(extractValue('JSON', '{"__proto__": {"x": 1}}', '__proto__.x')).toEqual(ok(1));
    expect(extractValue('JSON', '[]', 'length')).toEqual(error(/no value/));
  });

  it.each([
    ['not json at all', /^not JSON: /],
    ['', /^not JSON: /],
    ['{"a": 1', /^not JSON: /],
    ['1e999', /no value at a/],
  ])('garbage %j is an error', (body2, re) => expect(extractValue('JSON', body2, 'a')).toEqual(error(re)));

  it('refuses a number that is not finite', () => {
    expect(extractValue('JSON', '{"a": 1e999}', 'a')).toEqual(error(/Infinity, not a finite number/));
  });

  it('walks a deep document, and answers a too deep one with an error, never a crash', () => {
    const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const path = Array.from({ length: 50 }, () => 'a').join('.');
    expect(extractValue('JSON', nested(50), path)).toEqual(ok(1));
    expect(extractValue('JSON', nested(2_000), path)).toEqual(error(/not a number/));
    // Under the size cap, deeper than JSON.parse's stack allows.
    expect(extractValue('JSON', nested(40_000), path)).toEqual(error(/^not JSON: /));
  });

  it('refuses an answer over the size cap', () => {
    const huge = `{"a": 1, "pad": "${'x'.repeat(REPLICA_SCRAPE_MAX_BYTES)}"}`;
    expect(extractValue('JSON', huge, 'a')).toEqual(error(/^answer over 256 KiB$/));
  });
});

describe('YAML', () => {
  const body = 'queue:\n  depth: 17\n  rate: "2.5"\nworkers:\n  - busy: 1\n  - busy: 4\n';

  it.each([
    ['queue.depth', 17],
    ['queue.rate', 2.5],
    ['workers.1.busy', 4],
    ['workers.#', 2],
  ])('%s', (path, value) => expect(extractValue('YAML', body, path)).toEqual(ok(value)));

  it.each([
    ['queue: [1, 2', /^not YAML: /],
    ['a: 1\n---\nb: 2\n', /^not YAML: /],
    [': : :\n\t- bad', /^not YAML: /],
  ])('garbage %j is an error', (garbage, re) =>
    expect(extractValue('YAML', garbage, 'a')).toEqual(error(re)),
  );

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    expect(extractValue('YAML', lines.join('\n'), 'a0.#')).toEqual(error(/^not YAML: .*alias/i));
  });

  it('a plain scalar document has no path', () => {
    expect(extractValue('YAML', '42', 'a')).toEqual(error(/^no value at a$/));
  });
});

describe('XML', () => {
  const body =
    '<?xml version="1.0"?><metrics><queue id="main"><depth>23</depth></queue>' +
    '<worker><busy>1</busy></worker><worker><busy> 6 </busy></worker><name>x</name></metrics>';

  it.each([
    ['metrics.queue.depth', 23],
    ['metrics.worker.1.busy', 6],
    ['metrics.worker.#', 2],
  ])('%s', (path, value) => expect(extractValue('XML', body, path)).toEqual(ok(value)));

  it.each([
    ['metrics.name', /not a number: "x"/],
    ['metrics.queue.missing', /^no value at/],
    ['queue.depth', /^no value at/],
  ])('%s is an error', (path, re) => expect(extractValue('XML', body, path)).toEqual(error(re)));

  it.each([
    ['<metrics><depth>1</metrics>', /^not XML: /],
    ['plain text', /^no value at|^not XML: /],
    ['<a><b></a></b>', /^not XML: /],
  ])('garbage %j is an error', (garbage, re) =>
    expect(extractValue('XML', garbage, 'metrics.depth')).toEqual(error(re)),
  );

  it('does not expand entities', () => {
    const bomb =
      '<!DOCTYPE m [<!ENTITY a "1234567890"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><m><v>&b;</v></m>';
    expect(extractValue('XML', bomb, 'm.v')).toEqual(error(/not a number|^not XML/));
  });

  it('refuses a document nested too deep', () => {
    const deep = '<a>'.repeat(500) + '1' + '</a>'.repeat(500);
    expect(extractValue('XML', deep, 'a.a')).toEqual(error(/^not XML: /));
  });
});

describe('PROMETHEUS', () => {
  const body = [
    '# HELP queue_depth Jobs waiting.',
    '# TYPE queue_depth gauge',
    'queue_depth{queue="low",zone="a"} 4',
    'queue_depth{queue="high",zone="a"} 11 1700000000000',
    'queue_depth{queue="odd\\"one",zone="b"} 2.5e1',
    'busy_workers 3',
    'broken_value{a="b"} many',
    'nan_value NaN',
    'inf_value +Inf',
    '',
  ].join('\n');

  it.each([
    ['queue_depth', 4],
    ['queue_depth{queue="high"}', 11],
    ['queue_depth{zone="a", queue="high"}', 11],
    ['queue_depth{queue="odd\\"one"}', 25],
    ['busy_workers', 3],
    ['  busy_workers  ', 3],
  ])('%s', (selector, value) => expect(extractValue('PROMETHEUS', body, selector)).toEqual(ok(value)));

  it.each([
    ['queue_depth{queue="none"}', /^no series queue_depth\{queue="none"\}$/],
    ['missing', /^no series missing$/],
    ['broken_value', /line 7: the value of broken_value is not a number: "many"/],
    ['nan_value', /is NaN, not a finite number/],
    ['inf_value', /is Infinity, not a finite number/],
    ['queue_depth{queue=high}', /invalid series selector/],
    ['{queue="high"}', /invalid series selector/],
    ['queue_depth extra', /invalid series selector/],
  ])('%s is an error', (selector, re) =>
    expect(extractValue('PROMETHEUS', body, selector)).toEqual(error(re)),
  );

  it('names a series whose labels are malformed', () => {
    expect(extractValue('PROMETHEUS', 'm{a="x} 1\n', 'm')).toEqual(error(/line 1: malformed labels of m/));
  });

  it('garbage is a missing series, never a crash', () => {
    const garbage = '\u0000{{{}}}"\\\n'.repeat(1000) + '\n'.repeat(1000) + 'x{'.repeat(1000);
    expect(extractValue('PROMETHEUS', garbage, 'x')).toEqual(error(/malformed labels|no series/));
  });

  it('parses selectors', () => {
    expect(parseSelector('m{a="1",b="2",}')).toEqual({
      name: 'm',
      labels: [
        ['a', '1'],
        ['b', '2'],
      ],
    });
    expect(parseSelector('m{}')).toEqual({ name: 'm', labels: [] });
    expect(parseSelector('9m')).toBeUndefined();
  });
});
