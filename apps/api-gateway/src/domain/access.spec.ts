import { tokenKey } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';
import { describe, expect, it } from '@jest/globals';

import { assertMayCall, bearerSecret, canSee, newSecret, type Principal, projectScope } from './access.js';

const principal = (
  role: Principal['role'],
  labelSelector: string | null = null,
  projectId = 'p1',
): Principal => ({
  tokenId: 't1',
  tokenName: `${role}-token`,
  projectId,
  role,
  labelSelector,
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof GantryError ? `${error.status} ${error.message}` : String(error);
  }
};

describe('bearer tokens', () => {
  it('takes the secret of "Bearer <secret>" (any case, extra spaces)', () => {
    expect(bearerSecret('Bearer abc.DEF_123')).toBe('abc.DEF_123');
    expect(bearerSecret('bearer   xyz')).toBe('xyz');
    expect(bearerSecret(['Bearer one', 'Bearer two'])).toBe('one');
  });

  it.each<[string | undefined, string]>([
    [undefined, '401 missing bearer token: send Authorization: Bearer <token>'],
    ['', '401 missing bearer token: send Authorization: Bearer <token>'],
    ['Basic dXNlcjpwYXNz', '401 the Authorization header must be Bearer <token>'],
    ['Bearer', '401 the Authorization header must be Bearer <token>'],
    ['Bearer two words', '401 the Authorization header must be Bearer <token>'],
    ['Bearer \u00e9t\u00e9', '401 the Authorization header must be Bearer <token>'],
  ])('refuses %j', (header, message) => {
    expect(code(() => bearerSecret(header))).toBe(message);
  });

  it('keys secrets by SHA-256 (hex) and makes long random ones', () => {
    expect(tokenKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const s = newSecret();
    expect(s).toMatch(/^gantry_[A-Za-z0-9_-]{43}$/);
    expect(newSecret()).not.toBe(s);
  });
});

describe('role rules', () => {
  it('read tokens only read; operators and admins write; admin-only endpoints need admin', () => {
    expect(code(() => assertMayCall(principal('read'), 'GET', false))).toBeUndefined();
    expect(code(() => assertMayCall(principal('read'), 'HEAD', false))).toBeUndefined();
    expect(code(() => assertMayCall(principal('read'), 'POST', false))).toBe(
      '403 token read-token is a read token: it may only read, not change anything',
    );
    expect(code(() => assertMayCall(principal('read'), 'DELETE', false))).toMatch(/^403/);
    expect(code(() => assertMayCall(principal('operator'), 'PUT', false))).toBeUndefined();
    expect(code(() => assertMayCall(principal('operator'), 'GET', true))).toBe(
      '403 this endpoint needs an admin token; token operator-token is operator',
    );
    expect(code(() => assertMayCall(principal('admin'), 'POST', true))).toBeUndefined();
  });

  it('a token sees its project’s apps that match its selector; admins see all', () => {
    const app = { projectId: 'p1', labels: { team: 'vision', 'gantry/id': 'a1' } };
    expect(canSee(principal('read'), app)).toBe(true);
    expect(canSee(principal('read', 'team=vision'), app)).toBe(true);
    expect(canSee(principal('read', 'gantry/id=a1'), app)).toBe(true);
    expect(canSee(principal('read', 'team=nlp'), app)).toBe(false);
    expect(canSee(principal('operator', null, 'p2'), app)).toBe(false);
    expect(canSee(principal('admin', null, 'p2'), app)).toBe(true);
  });

  it('only admins act on another project', () => {
    expect(projectScope(principal('read'), undefined)).toBe('p1');
    expect(projectScope(principal('read'), 'p1')).toBe('p1');
    expect(code(() => projectScope(principal('operator'), 'p2'))).toBe(
      '403 only admin tokens may act on another project (projectId)',
    );
    expect(projectScope(principal('admin'), 'p2')).toBe('p2');
  });
});
