import { randomBytes } from 'node:crypto';

import { matchesSelector, type TokenRole } from '@gantry/contracts';
import { GantryError } from '@gantry/errors';

/** Who is calling: the bearer token the request carried, as stored. */
export interface Principal {
  tokenId: string;
  tokenName: string;
  projectId: string;
  role: TokenRole;
  /** `key=value`: the token reaches only apps carrying that label. */
  labelSelector: string | null;
}

/** What of an app decides who may see it. */
export interface Scoped {
  projectId: string;
  labels: Record<string, string>;
}

/** A new token secret: 32 random bytes, base64url, with a recognisable prefix. */
export const newSecret = (): string => `gantry_${randomBytes(32).toString('base64url')}`;

/** A bearer secret as clients may send it: printable ASCII, no spaces. */
const BEARER = /^Bearer +([\x21-\x7e]{1,512})$/i;

/** The secret of an `Authorization: Bearer <secret>` header, or a 401 saying what is wrong. */
export function bearerSecret(header: string | string[] | undefined): string {
  if (header === undefined || header === '')
    throw new GantryError('UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <token>');
  const value = Array.isArray(header) ? header[0] : header;
  const match = BEARER.exec(value?.trim() ?? '');
  if (!match?.[1]) throw new GantryError('UNAUTHORIZED', 'the Authorization header must be Bearer <token>');
  return match[1];
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Role rules: `read` may only read; `operator` may also change its project's apps; `admin` may do
 * everything, in every project. Throws 403 FORBIDDEN.
 */
export function assertMayCall(p: Principal, method: string, adminOnly: boolean): void {
  if (adminOnly && p.role !== 'admin')
    throw new GantryError(
      'FORBIDDEN',
      `this endpoint needs an admin token; token ${p.tokenName} is ${p.role}`,
    );
  if (!READ_METHODS.has(method.toUpperCase()) && p.role === 'read')
    throw new GantryError(
      'FORBIDDEN',
      `token ${p.tokenName} is a read token: it may only read, not change anything`,
    );
}

/**
 * Whether a principal reaches an app: admins reach every app; other tokens only their project's apps
 * that match their label selector. Callers answer 404 when not, so that other projects' apps stay
 * invisible.
 */
export function canSee(p: Principal, app: Scoped): boolean {
  if (p.role === 'admin') return true;
  return app.projectId === p.projectId && matchesSelector(app.labels, p.labelSelector);
}

/**
 * The project a request acts on: the caller's own, or (admins only) the one it names. A non-admin
 * naming another project gets 403.
 */
export function projectScope(p: Principal, requested: string | undefined): string {
  if (requested === undefined || requested === p.projectId) return p.projectId;
  if (p.role !== 'admin')
    throw new GantryError('FORBIDDEN', 'only admin tokens may act on another project (projectId)');
  return requested;
}
