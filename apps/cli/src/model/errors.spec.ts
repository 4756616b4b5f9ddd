import { describe, expect, it } from '@jest/globals';

import { formatApiError, hintFor, isApiErrorBody } from './errors.js';

describe('formatApiError', () => {
  it('prints the message, then one line per field problem', () => {
    expect(
      formatApiError({
        error: 'VALIDATION_FAILED',
        message: 'resources.cpu must be at least 1',
        details: [
          { field: 'resources.cpu', message: 'must be at least 1' },
          { field: 'labels.gantry/x', message: 'the gantry/ prefix is reserved' },
        ],
      }),
    ).toBe(
      'error: resources.cpu must be at least 1\n' +
        '  - resources.cpu: must be at least 1\n' +
        '  - labels.gantry/x: the gantry/ prefix is reserved\n',
    );
  });

  it('prints other details as JSON, and a hint', () => {
    expect(
      formatApiError(
        { error: 'CONFLICT', message: 'app is running', details: { state: 'RUNNING' } },
        'stop it',
      ),
    ).toBe('error: app is running\n  details: {"state":"RUNNING"}\nhint: stop it\n');
  });

  it('prints just the message without details', () => {
    expect(formatApiError({ error: 'NOT_FOUND', message: 'app x not found' })).toBe(
      'error: app x not found\n',
    );
  });
});

describe('isApiErrorBody and hintFor', () => {
  it('recognises error bodies', () => {
    expect(isApiErrorBody({ error: 'NOT_FOUND', message: 'x' })).toBe(true);
    expect(isApiErrorBody({ message: 'x' })).toBe(false);
    expect(isApiErrorBody('text')).toBe(false);
    expect(isApiErrorBody(null)).toBe(false);
  });

  it('suggests logging in again on 401 only', () => {
    expect(hintFor('UNAUTHORIZED', 401)).toMatch(/gantry login/);
    expect(hintFor('FORBIDDEN', 403)).toBeUndefined();
  });
});
