import type { RouteEntry } from '@gantry/contracts';
import { describe, expect, it } from '@jest/globals';

import { openPorts, parseHost, resolveTarget } from './host.js';

const DOMAIN = 'app.localhost';
const ID = '0b6f6a4e-8c1d-4d3b-9a1e-1c2d3e4f5a6b';

function route(appId: string, extra: Partial<RouteEntry> = {}): RouteEntry {
  return {
    appId,
    projectId: 'p1',
    version: 1,
    updatedAt: '2026-11-23T09:00:00Z',
    state: 'RUNNING',
    unsecureHttp: true,
    labels: {},
    httpPort: 8080,
    ports: [8080, 9000],
    endpoints: [],
    ...extra,
  };
}

describe('parseHost', () => {
  it.each([
    [`${ID}.app.localhost`, ID],
    [`${ID}.app.localhost:8080`, ID],
    [`${ID.toUpperCase()}.APP.LocalHost:80`, ID],
    [`${ID}-9000.app.localhost`, `${ID}-9000`],
    [`${ID}.app.localhost.`, ID],
    [`  ${ID}.app.localhost  `, ID],
  ])('reads %j as label %j', (host, label) => {
    expect(parseHost(host, DOMAIN)).toEqual({ ok: true, host: expect.any(String), label });
  });

  it.each([
    [undefined, 400],
    ['', 400],
    ['   ', 400],
    ['x'.repeat(300) + '.app.localhost', 400],
    ['a b.app.localhost', 400],
    ['evil.com/../x.app.localhost', 400],
    ['é.app.localhost', 400],
    ['[::1]:8080', 400],
    ['app.localhost', 404],
    ['.app.localhost', 404],
    ['example.com', 404],
    ['a.b.app.localhost', 404],
    ['-a.app.localhost', 404],
    ['xapp.localhost', 404],
    ['127.0.0.1:8080', 404],
  ])('refuses %j with %i', (host, status) => {
    expect(parseHost(host, DOMAIN)).toMatchObject({ ok: false, status });
  });
});

describe('resolveTarget', () => {
  const routes = new Map<string, RouteEntry>([
    [ID, route(ID, { grpcPort: 50051 })],
    ['svc-2', route('svc-2')],
    ['svc', route('svc', { httpPort: 3000, ports: [3000] })],
  ]);
  const lookup = (id: string): RouteEntry | undefined => routes.get(id);

  it.each([
    [ID, ID, 8080],
    [`${ID}-9000`, ID, 9000],
    [`${ID}-8080`, ID, 8080],
    [`${ID}-50051`, ID, 50051],
    ['svc-2', 'svc-2', 8080], // an app whose id ends in -<digits> wins over the port reading
    ['svc-3000', 'svc', 3000],
  ])('%j → app %j port %i', (label, appId, port) => {
    const t = resolveTarget(label, lookup);
    expect(t.ok && { appId: t.route.appId, port: t.containerPort }).toEqual({ appId, port });
  });

  it('names the open ports when the port is closed', () => {
    const t = resolveTarget(`${ID}-1234`, lookup);
    expect(t).toMatchObject({ ok: false, status: 404, details: { openPorts: [8080, 9000, 50051] } });
    expect(!t.ok && t.message).toBe(`app ${ID} has no port 1234; open ports: 8080, 9000, 50051`);
  });

  it.each(['nope', 'nope-8080', `${ID}x`, `${ID}-0`, `${ID}-08080`])('%j is no app', (label) => {
    expect(resolveTarget(label, lookup)).toMatchObject({
      ok: false,
      status: 404,
      message: expect.stringContaining('does not exist'),
    });
  });
});

describe('openPorts', () => {
  it('merges the HTTP, gRPC and listed ports, ascending and unique', () => {
    expect(openPorts({ httpPort: 8080, grpcPort: 50051, ports: [9000, 8080] })).toEqual([8080, 9000, 50051]);
  });
});
