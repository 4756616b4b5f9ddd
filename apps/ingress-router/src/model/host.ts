import type { RouteEntry } from '@gantry/contracts';

/** Longest Host header considered (a DNS name is at most 253 characters, plus `:port`). */
export const MAX_HOST_LENGTH = 260;

/** One DNS label as app hosts use it: an app id, optionally followed by `-<port>`. */
const LABEL = /^[a-z0-9][a-z0-9_-]{0,110}$/;
const WITH_PORT = /^(.+)-([1-9][0-9]{0,4})$/;

export type HostParse =
  { ok: true; host: string; label: string } | { ok: false; status: 400 | 404; message: string };

/**
 * Reads a Host header as `<label>.<domain>[:port]`, case-insensitively. A missing or malformed header
 * is 400; a well-formed one outside the apps domain (or with more than one label before it) is 404.
 */
export function parseHost(header: string | undefined, domain: string): HostParse {
  if (header === undefined || header.trim() === '')
    return { ok: false, status: 400, message: 'the request has no Host header' };
  if (header.length > MAX_HOST_LENGTH)
    return { ok: false, status: 400, message: 'the Host header is too long' };
  let host = header.trim().toLowerCase();
  const port = /:([0-9]{1,5})$/.exec(host);
  if (port) host = host.slice(0, port.index);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (!/^[a-z0-9._-]+$/.test(host))
    return { ok: false, status: 400, message: 'the Host header is not a valid host name' };
  const suffix = `.${domain.toLowerCase()}`;
  if (!host.endsWith(suffix) || host.length === suffix.length)
    return { ok: false, status: 404, message: `no app answers at ${host}: apps are at <appId>${suffix}` };
  const label = host.slice(0, -suffix.length);
  if (!LABEL.test(label))
    return { ok: false, status: 404, message: `no app answers at ${host}: apps are at <appId>${suffix}` };
  return { ok: true, host, label };
}

export type Target =
  | { ok: true; route: RouteEntry; containerPort: number }
  | { ok: false; status: 404; message: string; details?: Record<string, unknown> };

/**
 * Which app and container port a host label names: `<appId>` is the app's HTTP port; `<appId>-<port>`
 * is that container port, when the app exposes it (one of `ports`, or its gRPC port). An app whose id
 * itself ends in `-<digits>` wins over the port reading.
 */
export function resolveTarget(label: string, lookup: (appId: string) => RouteEntry | undefined): Target {
  const whole = lookup(label);
  if (whole) return { ok: true, route: whole, containerPort: whole.httpPort };
  const m = WITH_PORT.exec(label);
  const route = m?.[1] ? lookup(m[1]) : undefined;
  if (!m || !route) return { ok: false, status: 404, message: `app ${label} does not exist` };
  const port = Number(m[2]);
  const open = openPorts(route);
  if (!open.includes(port))
    return {
      ok: false,
      status: 404,
      message: `app ${route.appId} has no port ${port}; open ports: ${open.join(', ')}`,
      details: { appId: route.appId, port, openPorts: open },
    };
  return { ok: true, route, containerPort: port };
}

/** The container ports reachable through the ingress, ascending. */
export function openPorts(route: Pick<RouteEntry, 'httpPort' | 'grpcPort' | 'ports'>): number[] {
  const all = new Set<number>([route.httpPort, ...route.ports]);
  if (route.grpcPort !== undefined) all.add(route.grpcPort);
  return [...all].sort((a, b) => a - b);
}
