import { describe, expect, it } from '@jest/globals';

import { hasBody, isJson } from './guards.js';

describe('request body checks', () => {
  it('sees a body in a non-zero Content-Length or a chunked transfer', () => {
    expect(hasBody({})).toBe(false);
    expect(hasBody({ 'content-length': '0' })).toBe(false);
    expect(hasBody({ 'content-length': '12' })).toBe(true);
    expect(hasBody({ 'transfer-encoding': 'chunked' })).toBe(true);
  });

  it('takes application/json with any parameters, nothing else', () => {
    expect(isJson('application/json')).toBe(true);
    expect(isJson('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJson('text/plain')).toBe(false);
    expect(isJson('application/x-www-form-urlencoded')).toBe(false);
    expect(isJson(undefined)).toBe(false);
  });
});
