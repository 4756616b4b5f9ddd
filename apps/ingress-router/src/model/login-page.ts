/** Paths the ingress answers itself on a protected app's host. */
export const LOGIN_PATH = '/__gantry/login';
export const LOGOUT_PATH = '/__gantry/logout';

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** A small self-contained page (no script, no external resource) asking for an app's token. */
export function loginPage(appId: string, problem?: string): string {
  const app = escapeHtml(appId);
  const note = problem ? `<p class="problem">${escapeHtml(problem)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in to ${app}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}
input{width:100%;box-sizing:border-box;padding:.5rem;margin:.5rem 0;font-family:monospace}
button{padding:.5rem 1rem}.problem{color:#a00}
</style>
</head>
<body>
<h1>Gantry app ${app}</h1>
<p>This app is protected. Paste a Gantry token that may reach it.</p>
${note}
<form method="post" action="${LOGIN_PATH}">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}

/** The token of a login form body (`application/x-www-form-urlencoded` or JSON `{"token": …}`). */
export function tokenFromForm(body: string, contentType: string | undefined): string | undefined {
  let token: unknown;
  if ((contentType ?? '').toLowerCase().includes('application/json')) {
    try {
      token = (JSON.parse(body) as { token?: unknown } | null)?.token;
    } catch {
      return undefined;
    }
  } else {
    token = new URLSearchParams(body).get('token');
  }
  if (typeof token !== 'string') return undefined;
  const t = token.trim();
  return /^[\x21-\x7e]{1,512}$/.test(t) ? t : undefined;
}
