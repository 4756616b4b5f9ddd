import { describe, expect, it } from '@jest/globals';

import { isRegistryAuthFailure } from './errors.js';

describe('isRegistryAuthFailure', () => {
  // The engine's words (Docker 20.10 against the CNCF distribution registry 2.8, and Docker Hub).
  it.each([
    [
      500,
      '(HTTP code 500) server error - Head "http://127.0.0.1:5000/v2/private/web/manifests/1": no basic auth credentials',
    ],
    [500, '(HTTP code 500) server error - unauthorized: authentication required'],
    [
      404,
      "(HTTP code 404) unexpected - pull access denied for team/model, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    ],
    [undefined, 'Get "https://ghcr.io/v2/": denied: requested access to the resource is denied'],
    [
      undefined,
      'Error response from daemon: Get "https://r.example.com/v2/": unauthorized: incorrect username or password',
    ],
    [500, "error parsing HTTP 403 response body: invalid character '<' looking for beginning of value"],
    [401, 'anything'],
    [403, 'anything'],
  ])('recognizes %s %s', (status, message) => {
    expect(isRegistryAuthFailure(status, message)).toBe(true);
  });

  it.each([
    [
      404,
      '(HTTP code 404) unexpected - manifest for 127.0.0.1:5000/private/web:2 not found: manifest unknown: manifest unknown',
    ],
    [500, 'Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused'],
    [500, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'],
    [500, 'toomanyrequests: You have reached your pull rate limit'],
  ])('leaves alone %s %s', (status, message) => {
    expect(isRegistryAuthFailure(status, message)).toBe(false);
  });
});
