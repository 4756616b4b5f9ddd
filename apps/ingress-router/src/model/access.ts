import { parseLabelSelector, type RouteEntry, type TokenEntry } from '@gantry/contracts';

/**
 * Whether `labels` satisfy a selector `key=value[,key=value…]` (every pair must match; no selector:
 * everything matches). A selector that does not parse matches nothing: access fails closed.
 */
export function matchesSelector(
  labels: Readonly<Record<string, string>>,
  selector: string | undefined,
): boolean {
  if (selector === undefined || selector.trim() === '') return true;
  for (const part of selector.split(',')) {
    const pair = parseLabelSelector(part.trim());
    if (!pair) return false;
    if (!Object.prototype.hasOwnProperty.call(labels, pair.key) || labels[pair.key] !== pair.value)
      return false;
  }
  return true;
}

/** A credential the request carried, and where. */
export interface Credential {
  source: 'bearer' | 'cookie';
  secret: string;
}

export type AccessDecision =
  | { allow: true; tokenId?: string }
  | { allow: false; status: 401; code: 'UNAUTHORIZED'; message: string }
  | { allow: false; status: 403; code: 'FORBIDDEN'; message: string };

/**
 * Who may call an app through the ingress: anyone when the app is `unsecureHttp`; otherwise the
 * holder of a known token of the app's project whose label selector matches the app, or of an admin
 * token. `token` is the stored entry of the credential's secret (undefined: unknown or revoked).
 */
export function decideAccess(
  route: Pick<RouteEntry, 'appId' | 'projectId' | 'unsecureHttp' | 'labels'>,
  credential: Credential | undefined,
  token: TokenEntry | undefined,
): AccessDecision {
  if (route.unsecureHttp) return { allow: true };
  if (!credential)
    return {
      allow: false,
      status: 401,
      code: 'UNAUTHORIZED',
      message: `app ${route.appId} requires a token: send Authorization: Bearer <token>`,
    };
  if (!token)
    return {
      allow: false,
      status: 401,
      code: 'UNAUTHORIZED',
      message: `the ${credential.source === 'cookie' ? 'token of your session' : 'bearer token'} is not valid (unknown or revoked)`,
    };
  if (token.role === 'admin') return { allow: true, tokenId: token.tokenId };
  if (token.projectId !== route.projectId)
    return {
      allow: false,
      status: 403,
      code: 'FORBIDDEN',
      message: `token ${token.tokenId} belongs to another project than app ${route.appId}`,
    };
  if (!matchesSelector(route.labels, token.labelSelector))
    return {
      allow: false,
      status: 403,
      code: 'FORBIDDEN',
      message: `token ${token.tokenId} reaches only apps labelled ${token.labelSelector ?? ''}`,
    };
  return { allow: true, tokenId: token.tokenId };
}
