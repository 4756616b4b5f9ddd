/** The body of an API error (DESIGN.md "API and CLI"): `{error, message, details?}`. */
export interface ApiErrorBody {
  error: string;
  message: string;
  details?: unknown;
}

/** Whether a parsed response body is an API error body. */
export function isApiErrorBody(body: unknown): body is ApiErrorBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as ApiErrorBody).error === 'string' &&
    typeof (body as ApiErrorBody).message === 'string'
  );
}

/**
 * The lines printed on stderr for an API error: `error: <message>`, then one line per field problem
 * (`  - resources.cpu: must be at least 1`), or the details as JSON when they are something else.
 */
export function formatApiError(body: ApiErrorBody, hint?: string): string {
  const lines = [`error: ${body.message}`];
  const details = body.details;
  if (Array.isArray(details)) {
    for (const d of details) {
      if (isFieldError(d)) lines.push(`  - ${d.field ? `${d.field}: ` : ''}${d.message}`);
      else lines.push(`  - ${typeof d === 'string' ? d : JSON.stringify(d)}`);
    }
  } else if (details !== undefined && details !== null) {
    lines.push(`  details: ${typeof details === 'string' ? details : JSON.stringify(details)}`);
  }
  if (hint) lines.push(`hint: ${hint}`);
  return lines.join('\n') + '\n';
}

function isFieldError(d: unknown): d is { field: string; message: string } {
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof (d as { field?: unknown }).field === 'string' &&
    typeof (d as { message?: unknown }).message === 'string'
  );
}

/** What to suggest for an error code, if anything. */
export function hintFor(code: string, status: number): string | undefined {
  if (code === 'UNAUTHORIZED' || status === 401)
    return 'log in again with `gantry login --url URL` (or set GANTRY_TOKEN)';
  return undefined;
}
