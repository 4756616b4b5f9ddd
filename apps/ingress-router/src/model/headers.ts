import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

import { withoutGantryCookies } from './credentials.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they concern one connection and are never forwarded. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
];
/** Set by the ingress itself (the client's values cannot be trusted at the edge). */
const OURS = [
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-gantry-replica',
];

/**
 * The headers to send to a replica: without hop-by-hop headers (those the Connection header names
 * too), client-supplied X-Forwarded-*, Gantry's token cookies, and — when it carried a Gantry token —
 * the Authorization header, and `Expect` (answered by the ingress itself). A WebSocket upgrade keeps
 * `Connection`/`Upgrade`, which it needs.
 * `transfer-encoding` stays: Node frames the body with it.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  opts: { stripAuthorization: boolean; upgrade: boolean },
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers };
  const named = (headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '' && h !== 'upgrade' && h !== 'close' && h !== 'keep-alive');
  for (const h of [...HOP_BY_HOP, ...named, ...OURS]) {
    if (opts.upgrade && (h === 'connection' || h === 'upgrade')) continue;
    if (h === 'transfer-encoding' || h === 'host' || h === 'content-length') continue;
    delete out[h];
  }
  // The ingress's HTTP server already answered `100 Continue` to the client; the replica gets the body.
  if (!opts.upgrade) delete out.expect;
  if (opts.stripAuthorization) delete out.authorization;
  const cookie = withoutGantryCookies(headers.cookie);
  if (cookie === undefined) delete out.cookie;
  else out.cookie = cookie;
  return out;
}

/**
 * Cleans a replica's response headers in place: hop-by-hop headers other than those Node manages,
 * a spoofed X-Gantry-Replica, and any attempt to set Gantry's token cookies.
 */
export function cleanResponseHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): void {
  for (const h of ['keep-alive', 'proxy-authenticate', 'proxy-connection', 'x-gantry-replica'])
    delete headers[h];
  const setCookie = headers['set-cookie'];
  if (Array.isArray(setCookie)) {
    const kept = setCookie.filter((c) => !/^\s*gantry_token_/i.test(c));
    if (kept.length > 0) headers['set-cookie'] = kept;
    else delete headers['set-cookie'];
  }
}
