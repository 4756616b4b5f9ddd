import { describe, expect, it } from '@jest/globals';

import { cleanResponseHeaders, upstreamRequestHeaders } from './headers.js';

describe('upstreamRequestHeaders', () => {
  const incoming = {
    host: 'app1.app.localhost:8080',
    connection: 'keep-alive, X-Secret-Hop',
    'keep-alive': 'timeout=5',
    'x-secret-hop': '1',
    te: 'trailers',
    'proxy-authorization': 'Basic x',
    upgrade: 'websocket',
    authorization: 'Bearer gantry_x',
    cookie: 'a=1; gantry_token_app1=gantry_x; b=2',
    'x-forwarded-for': '6.6.6.6',
    'x-gantry-replica': 'spoofed',
    'content-length': '12',
    'transfer-encoding': 'chunked',
    accept: 'text/plain',
    expect: '100-continue',
  };

  it('drops hop-by-hop headers, spoofable forwarding headers, Gantry cookies and the token', () => {
    expect(upstreamRequestHeaders(incoming, { stripAuthorization: true, upgrade: false })).toEqual({
      host: 'app1.app.localhost:8080',
      cookie: 'a=1; b=2',
      'content-length': '12',
      'transfer-encoding': 'chunked',
      accept: 'text/plain',
    });
  });

  it('keeps Authorization when it is not Gantry’s, and Connection/Upgrade for WebSockets', () => {
    const out = upstreamRequestHeaders(
      { ...incoming, connection: 'Upgrade', cookie: 'gantry_token_app1=x' },
      { stripAuthorization: false, upgrade: true },
    );
    expect(out).toMatchObject({
      authorization: 'Bearer gantry_x',
      connection: 'Upgrade',
      upgrade: 'websocket',
    });
    expect(out.cookie).toBeUndefined();
  });

  it('does not change its input', () => {
    const copy = { ...incoming };
    upstreamRequestHeaders(incoming, { stripAuthorization: true, upgrade: false });
    expect(incoming).toEqual(copy);
  });
});

describe('cleanResponseHeaders', () => {
  it('drops spoofed replica names, hop-by-hop headers and Gantry cookies set by the app', () => {
    const headers = {
      'x-gantry-replica': 'evil',
      'keep-alive': 'timeout=5',
      'set-cookie': ['gantry_token_other=stolen; Domain=app.localhost', 'session=1'],
      'content-type': 'text/plain',
    };
    cleanResponseHeaders(headers);
    expect(headers).toEqual({ 'set-cookie': ['session=1'], 'content-type': 'text/plain' });
  });
});
