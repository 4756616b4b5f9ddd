import { describe, expect, it } from '@jest/globals';

import { LOGIN_PATH, loginPage, tokenFromForm } from './login-page.js';

describe('loginPage', () => {
  it('posts the token to the login path and escapes what it shows', () => {
    const page = loginPage('app1', '<script>alert(1)</script>');
    expect(page).toContain(`action="${LOGIN_PATH}"`);
    expect(page).toContain('name="token"');
    expect(page).toContain('&lt;script&gt;');
    expect(page).not.toContain('<script>');
  });
});

describe('tokenFromForm', () => {
  it.each<[string, string | undefined, string | undefined]>([
    ['token=gantry_abc', 'application/x-www-form-urlencoded', 'gantry_abc'],
    ['token=a%2Bb&x=1', undefined, 'a+b'],
    ['token=+gantry_abc+', 'application/x-www-form-urlencoded', 'gantry_abc'],
    ['other=1', 'application/x-www-form-urlencoded', undefined],
    ['token=', 'application/x-www-form-urlencoded', undefined],
    ['token=a b c', 'application/x-www-form-urlencoded', undefined],
    ['{"token":"gantry_abc"}', 'application/json', 'gantry_abc'],
    ['{"token":42}', 'application/json', undefined],
    ['null', 'application/json', undefined],
    ['{not json', 'application/json', undefined],
  ])('%j (%s) → %j', (body, type, expected) => {
    expect(tokenFromForm(body, type)).toBe(expected);
  });
});
