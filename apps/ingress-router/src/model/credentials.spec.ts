import { describe, expect, it } from '@jest/globals';

import {
  bearerSecret,
  credentialOf,
  loginCookie,
  logoutCookie,
  parseCookies,
  wantsHtml,
  withoutGantryCookies,
} from './credentials.js';

describe('bearerSecret', () => {
  it.each<[string | undefined, string | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['Bearer abc', 'abc'],
    ['bearer   abc  ', 'abc'],
    ['BEARER gantry_x-y_Z', 'gantry_x-y_Z'],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Bearer é', undefined],
    [`Bearer ${'x'.repeat(513)}`, undefined],
  ])('%j → %j', (header, secret) => {
    expect(bearerSecret(header)).toBe(secret);
  });
});

describe('cookies', () => {
  it('parses pairs, skipping malformed ones and unquoting values', () => {
    expect(parseCookies('a=1; b="two"; junk; =x; c=')).toEqual([
      { name: 'a', value: '1' },
      { name: 'b', value: 'two' },
      { name: 'c', value: '' },
    ]);
  });

  it.each<[string | undefined, string | undefined]>([
    [undefined, undefined],
    ['gantry_token_a=1', undefined],
    ['x=1; gantry_token_a=1; y=2', 'x=1; y=2'],
    ['gantry_token_a=1;gantry_token_b=2', undefined],
    ['session=abc', 'session=abc'],
  ])('withoutGantryCookies(%j) → %j', (header, expected) => {
    expect(withoutGantryCookies(header)).toBe(expected);
  });

  it('sets a host-only, HttpOnly, SameSite=Lax cookie and clears it', () => {
    const set = loginCookie('app1', 'gantry_a+b/c=');
    expect(set).toBe('gantry_token_app1=gantry_a%2Bb%2Fc%3D; HttpOnly; SameSite=Lax; Path=/');
    expect(set).not.toMatch(/Domain=/i);
    expect(logoutCookie('app1')).toMatch(/^gantry_token_app1=; .*Max-Age=0/);
  });
});

describe('credentialOf', () => {
  it.each<[Record<string, string>, unknown]>([
    [{}, undefined],
    [{ authorization: 'Bearer s1' }, { source: 'bearer', secret: 's1' }],
    [
      { authorization: 'Bearer s1', cookie: 'gantry_token_app1=s2' },
      { source: 'bearer', secret: 's1' },
    ],
    [
      { authorization: 'Basic xyz', cookie: 'gantry_token_app1=s2' },
      { source: 'cookie', secret: 's2' },
    ],
    [{ cookie: 'gantry_token_other=s2' }, undefined],
    [{ cookie: 'gantry_token_app1=a%2Bb' }, { source: 'cookie', secret: 'a+b' }],
    [{ cookie: 'gantry_token_app1=%E0%A4%A' }, undefined],
    [{ cookie: 'gantry_token_app1=' }, undefined],
  ])('%j → %j', (headers, expected) => {
    expect(credentialOf(headers, 'app1')).toEqual(expected);
  });
});

describe('wantsHtml', () => {
  it.each<[string, string | undefined, boolean]>([
    ['GET', 'text/html,application/xhtml+xml,*/*;q=0.8', true],
    ['HEAD', 'text/html', true],
    ['GET', 'application/json', false],
    ['GET', undefined, false],
    ['POST', 'text/html', false],
  ])('%s %j → %s', (method, accept, expected) => {
    expect(wantsHtml(method, accept)).toBe(expected);
  });
});
