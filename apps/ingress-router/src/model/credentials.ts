import type { Credential } from './access.js';

/** Name of the cookie holding an app's token in a browser (set for that app's host only). */
export const cookieName = (appId: string): string => `gantry_token_${appId}`;

const COOKIE_PREFIX = 'gantry_token_';
/** A secret as clients may send it: printable ASCII without spaces, bounded. */
const SECRET = /^[\x21-\x7e]{1,512}$/;
const BEARER = /^Bearer +(\S+)\s*$/i;

/** The secret of `Authorization: Bearer <secret>`, or undefined (absent, another scheme, malformed). */
export function bearerSecret(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = BEARER.exec(header.trim());
  return m?.[1] !== undefined && SECRET.test(m[1]) ? m[1] : undefined;
}

/** Cookies of a Cookie header, in order (`name=value`; malformed pairs skipped). */
export function parseCookies(header: string | undefined): Array<{ name: string; value: string }> {
  if (!header || header.length > 16_384) return [];
  const out: Array<{ name: string; value: string }> = [];
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    let value = part.slice(at + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name) out.push({ name, value });
  }
  return out;
}

function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * The credential of a request to `appId`: the bearer token when the Authorization header carries one,
 * else the app's login cookie. Undefined when neither is there.
 */
export function credentialOf(
  headers: { authorization?: string | undefined; cookie?: string | undefined },
  appId: string,
): Credential | undefined {
  const bearer = bearerSecret(headers.authorization);
  if (bearer !== undefined) return { source: 'bearer', secret: bearer };
  const name = cookieName(appId);
  for (const c of parseCookies(headers.cookie)) {
    if (c.name !== name) continue;
    const secret = decode(c.value);
    if (secret !== undefined && SECRET.test(secret)) return { source: 'cookie', secret };
  }
  return undefined;
}

/** The Cookie header without Gantry's token cookies (undefined when nothing is left). */
export function withoutGantryCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith(COOKIE_PREFIX));
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** Set-Cookie storing an app's token for its host only (no Domain attribute), out of scripts' reach. */
export function loginCookie(appId: string, secret: string): string {
  return `${cookieName(appId)}=${encodeURIComponent(secret)}; HttpOnly; SameSite=Lax; Path=/`;
}

/** Set-Cookie removing an app's token cookie. */
export function logoutCookie(appId: string): string {
  return `${cookieName(appId)}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** Whether a client is a browser that would rather see a login page than a JSON 401. */
export function wantsHtml(method: string, accept: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && (accept ?? '').toLowerCase().includes('text/html');
}
