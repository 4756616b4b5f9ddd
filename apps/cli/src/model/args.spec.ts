import { describe, expect, it } from '@jest/globals';

import {
  ArgumentError,
  collectKeyValue,
  pairsToRecord,
  parseApiUrl,
  parseChoice,
  parseDecimal,
  parseIsoDate,
  parseKeyValue,
  parseLabelEdit,
  parsePort,
  parseSelector,
  parseWholeNumber,
  secretFromStdin,
  tokenProblem,
} from './args.js';

describe('parseKeyValue', () => {
  it.each<[string, [string, string]]>([
    ['team=a', ['team', 'a']],
    ['URL=http://x/?a=b', ['URL', 'http://x/?a=b']],
    ['EMPTY=', ['EMPTY', '']],
    ['k==v', ['k', '=v']],
  ])('%s', (text, pair) => {
    expect(parseKeyValue(text)).toEqual(pair);
  });

  it.each(['novalue', '=v', ''])('refuses %j', (text) => {
    expect(() => parseKeyValue(text)).toThrow(ArgumentError);
    expect(() => parseKeyValue(text)).toThrow(/expected KEY=VALUE/);
  });
});

describe('collectKeyValue and pairsToRecord', () => {
  it('collects repeated options in order; the last value of a key wins', () => {
    const pairs = ['a=1', 'b=2', 'a=3'].reduce<Array<[string, string]>>(
      (acc, v) => collectKeyValue(v, acc),
      [],
    );
    expect(pairs).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['a', '3'],
    ]);
    expect(pairsToRecord(pairs)).toEqual({ a: '3', b: '2' });
  });

  it('keeps __proto__ as a plain key (the API refuses it with a message)', () => {
    const r = pairsToRecord([['__proto__', 'x']]);
    expect(Object.keys(r)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
  });
});

describe('parseWholeNumber and parsePort', () => {
  it('reads whole numbers within bounds', () => {
    expect(parseWholeNumber('3', 1, 10)).toBe(3);
    expect(parseWholeNumber(' 10 ', 1, 10)).toBe(10);
    expect(parsePort('8080')).toBe(8080);
  });

  it.each([
    ['x', /whole number/],
    ['1.5', /whole number/],
    ['-1', /whole number/],
    ['0', /at least 1/],
    ['11', /at most 10/],
  ])('refuses %j', (text, message) => {
    expect(() => parseWholeNumber(text, 1, 10)).toThrow(message);
  });

  it('refuses ports outside 1-65535', () => {
    expect(() => parsePort('0')).toThrow(/at least 1/);
    expect(() => parsePort('65536')).toThrow(/at most 65535/);
  });
});

describe('parseDecimal and parseChoice', () => {
  it('reads decimal numbers, leaving ranges to the API', () => {
    expect(parseDecimal('10')).toBe(10);
    expect(parseDecimal(' 0.5 ')).toBe(0.5);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('1e3')).toBe(1000);
    expect(parseDecimal('-2')).toBe(-2);
  });

  it.each(['', 'x', '1,5', '0x10', 'Infinity', 'NaN', '1e999', '1 2', '5%'])('refuses %j', (text) => {
    expect(() => parseDecimal(text)).toThrow(/must be a number/);
  });

  it('reads a choice in any case and names the choices otherwise', () => {
    expect(parseChoice('cpu', ['CPU', 'RAM'])).toBe('CPU');
    expect(parseChoice('RAM', ['CPU', 'RAM'])).toBe('RAM');
    expect(() => parseChoice('GPU', ['CPU', 'RAM'])).toThrow('must be one of CPU, RAM');
  });
});

describe('parseIsoDate', () => {
  it('keeps date-times with an offset, as UTC ISO strings', () => {
    expect(parseIsoDate('2026-11-23T09:00:00Z')).toBe('2026-11-23T09:00:00.000Z');
    expect(parseIsoDate('2026-11-23T10:00:00+01:00')).toBe('2026-11-23T09:00:00.000Z');
  });

  it('reads a bare date, or a time without offset, as UTC', () => {
    expect(parseIsoDate('2026-11-23')).toBe('2026-11-23T00:00:00.000Z');
    expect(parseIsoDate('2026-11-23T09:30')).toBe('2026-11-23T09:30:00.000Z');
  });

  it.each(['yesterday', '2026-13-45', '23/11/2026'])('refuses %j', (text) => {
    expect(() => parseIsoDate(text)).toThrow(/ISO 8601/);
  });
});

describe('parseApiUrl', () => {
  it('normalises the URL without a trailing slash', () => {
    expect(parseApiUrl('http://127.0.0.1:8000/')).toBe('http://127.0.0.1:8000');
    expect(parseApiUrl('https://api.example.com/gantry/')).toBe('https://api.example.com/gantry');
  });

  it.each(['127.0.0.1:8000', 'ftp://x', 'not a url', 'http://x/?a=1'])('refuses %j', (text) => {
    expect(() => parseApiUrl(text)).toThrow(ArgumentError);
  });
});

describe('parseLabelEdit', () => {
  it('KEY=VALUE sets, KEY- removes', () => {
    expect(parseLabelEdit('team=vision')).toEqual({ name: 'team', value: 'vision' });
    expect(parseLabelEdit('team=')).toEqual({ name: 'team', value: '' });
    expect(parseLabelEdit('team-')).toEqual({ name: 'team' });
    expect(parseLabelEdit('a-b=c-')).toEqual({ name: 'a-b', value: 'c-' });
  });

  it('refuses anything else', () => {
    expect(() => parseLabelEdit('team')).toThrow(/KEY- to remove/);
    expect(() => parseLabelEdit('-')).toThrow(ArgumentError);
  });
});

describe('parseSelector', () => {
  it('accepts key=value', () => {
    expect(parseSelector('gantry/id=abc')).toBe('gantry/id=abc');
    expect(() => parseSelector('team')).toThrow(/key=value/);
  });
});

describe('secretFromStdin', () => {
  it.each<[string, string]>([
    ['pw\n', 'pw'],
    ['pw\r\n', 'pw'],
    ['pw', 'pw'],
    [' p w \n', ' p w '],
    ['pw\n\n', 'pw\n'],
    ['\n', ''],
  ])('%j → %j (only the final line break goes)', (text, secret) => {
    expect(secretFromStdin(text)).toBe(secret);
  });
});

describe('tokenProblem', () => {
  it('accepts printable ASCII', () => {
    expect(tokenProblem('gantry_AbC-123.x~')).toBeUndefined();
  });
  it.each([
    ['gantry_abc def', 'a token holds no spaces or newlines'],
    ['gantry_abc\n', 'a token holds no spaces or newlines'],
    ['gantry_abc\u2019', 'a token holds only printable ASCII characters'],
    ['gantry_\u00e9t\u00e9', 'a token holds only printable ASCII characters'],
    ['gantry_\u0001', 'a token holds only printable ASCII characters'],
  ])('refuses %j without repeating it', (token, expected) => {
    const problem = tokenProblem(token) ?? '';
    expect(problem).toContain(expected);
    expect(problem).not.toContain('gantry_');
  });
});
