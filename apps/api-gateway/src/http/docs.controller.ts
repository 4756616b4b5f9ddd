import { Controller, Get, Header, Query, UseGuards } from '@nestjs/common';

import type { OpenApiDocument } from '../domain/openapi.js';
import { NoQuerySchema, parseInput } from '../domain/validation.js';
import { openApiDocument } from './api-routes.js';
import { AddressRateGuard } from './guards.js';

const escape = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** A self-contained page listing every operation, linking to the document (no scripts, no network). */
export function docsPage(doc: OpenApiDocument): string {
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const body = (
        op['requestBody'] as { content: Record<string, { schema: { $ref: string } }> } | undefined
      )?.content['application/json']?.schema.$ref
        .split('/')
        .pop();
      const statuses = Object.keys(op.responses).join(' ');
      return `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(String(op['summary'] ?? ''))}</td><td>${escape(String(op['x-gantry-role'] ?? ''))}</td><td>${body ? `<code>${escape(body)}</code>` : ''}</td><td>${statuses}</td></tr>`;
    }),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(doc.info.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
code { font-size: 13px; }
</style>
</head>
<body>
<h1>${escape(doc.info.title)} <small>v${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description)}</p>
<p>The whole API as OpenAPI ${escape(doc.openapi)}: <a href="/docs/openapi.json">/docs/openapi.json</a>
(request and response schemas under <code>components.schemas</code>).
Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Needs</th><th>Body</th><th>Answers</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`;
}

/** `/docs`: the API's OpenAPI document and a page that lists it. No token; limited per client address. */
@Controller('docs')
@UseGuards(AddressRateGuard)
export class DocsController {
  private page?: string;

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
  html(@Query() query: unknown): string {
    parseInput(NoQuerySchema, query);
    this.page ??= docsPage(openApiDocument());
    return this.page;
  }

  @Get('openapi.json')
  openApi(@Query() query: unknown): OpenApiDocument {
    parseInput(NoQuerySchema, query);
    return openApiDocument();
  }
}
