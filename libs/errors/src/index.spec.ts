import { describe, expect, it } from '@jest/globals';

import { errorMessage, GantryError } from './index.js';

describe('errorMessage', () => {
  it('gives an error’s message, and a thrown value as JSON or text', () => {
    expect(errorMessage(new GantryError('CONFLICT', 'drain it first'))).toBe('drain it first');
    expect(errorMessage({ code: 503 })).toBe('{"code":503}');
    expect(errorMessage('plain')).toBe('"plain"');
    expect(errorMessage(undefined)).toBe('undefined');
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(errorMessage(cyclic)).toBe('[object Object]');
  });
});
