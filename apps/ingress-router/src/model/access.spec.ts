import type { RouteEntry, TokenEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { type Credential, decideAccess, matchesSelector } from './access.js';

describe('matchesSelector', () => {
  const labels = { team: 'vision', 'gantry/id': 'abc', env: 'prod' };
  it.each<[string | undefined, boolean]>([
    [undefined, true],
    ['', true],
    ['team=vision', true],
    ['team=nlp', false],
    ['missing=x', false],
    ['team=vision,env=prod', true],
    ['team=vision, env=prod', true],
    ['team=vision,env=dev', false],
    ['gantry/id=abc', true],
    ['team', false],
    ['=vision', false],
    ['team=vision,', false],
    ['toString=function', false],
  ])('%j → %s', (selector, expected) => {
    expect(matchesSelector(labels, selector)).toBe(expected);
  });

  it('matches an empty value only to a label with an empty value', () => {
    expect(matchesSelector({ tier: '' }, 'tier=')).toBe(true);
    expect(matchesSelector({}, 'tier=')).toBe(false);
  });
});

describe('decideAccess', () => {
  type Scoped = Pick<RouteEntry, 'appId' | 'projectId' | 'unsecureHttp' | 'labels'>;
  const app: Scoped = { appId: 'app1', projectId: 'p1', unsecureHttp: false, labels: { team: 'vision' } };
  const bearer: Credential = { source: 'bearer', secret: 's' };
  const cookie: Credential = { source: 'cookie', secret: 's' };
  const token = (t: Partial<TokenEntry>): TokenEntry => ({
    tokenId: 't1',
    projectId: 'p1',
    role: 'read',
    version: 1,
    ...t,
  });

  it.each<[string, Partial<Scoped>, Credential | undefined, TokenEntry | undefined, number | 'allow']>([
    ['open app, no token', { unsecureHttp: true }, undefined, undefined, 'allow'],
    ['open app, unknown token', { unsecureHttp: true }, bearer, undefined, 'allow'],
    ['no credential', {}, undefined, undefined, 401],
    ['unknown or revoked bearer', {}, bearer, undefined, 401],
    ['unknown or revoked cookie', {}, cookie, undefined, 401],
    ['read token of the project', {}, bearer, token({}), 'allow'],
    ['operator token via cookie', {}, cookie, token({ role: 'operator' }), 'allow'],
    ['token of another project', {}, bearer, token({ projectId: 'p2' }), 403],
    ['admin token of another project', {}, bearer, token({ projectId: 'p2', role: 'admin' }), 'allow'],
    ['matching selector', {}, bearer, token({ labelSelector: 'team=vision' }), 'allow'],
    ['selector not matching', {}, bearer, token({ labelSelector: 'team=nlp' }), 403],
    ['malformed selector', {}, bearer, token({ labelSelector: 'nonsense' }), 403],
    ['admin ignores its selector', {}, bearer, token({ role: 'admin', labelSelector: 'team=nlp' }), 'allow'],
  ])('%s', (_, appPatch, credential, entry, expected) => {
    const decision = decideAccess({ ...app, ...appPatch }, credential, entry);
    if (expected === 'allow') expect(decision.allow).toBe(true);
    else
      expect(decision).toMatchObject({
        allow: false,
        status: expected,
        code: expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN',
      });
  });

  it('says why a token is refused', () => {
    expect(decideAccess(app, bearer, token({ labelSelector: 'team=nlp' }))).toMatchObject({
      message: 'token t1 reaches only apps labelled team=nlp',
    });
    expect(decideAccess(app, undefined, undefined)).toMatchObject({
      message: 'app app1 requires a token: send Authorization: Bearer <token>',
    });
  });
});
