import { z } from 'zod';

/** Who may call a route: anyone, any token, a token that may change things (not `read`), admins. */
export type Role = 'public' | 'read' | 'operator' | 'admin';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One answer of a route: JSON of a named schema, or a free-form body of `contentType`, or nothing. */
export interface ResponseDoc<O extends string> {
  status: number;
  description: string;
  schema?: O;
  contentType?: string;
}

/**
 * One route of the API as documented: what it takes (path parameters, query, body by schema name),
 * what it answers, and which error statuses it may answer besides.
 */
export interface RouteDoc<I extends string, O extends string> {
  method: HttpMethod;
  /** OpenAPI form: `/v1/app/{id}`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  role: Role;
  params?: Record<string, { description: string; schema?: z.ZodType }>;
  query?: z.ZodType;
  body?: I;
  responses: ReadonlyArray<ResponseDoc<O>>;
  errors: readonly number[];
}

/** The API: named request and response schemas (contracts' zod schemas) and the route table. */
export interface ApiCatalog<I extends string, O extends string> {
  title: string;
  version: string;
  description: string;
  inputs: Record<I, z.ZodType>;
  outputs: Record<O, z.ZodType>;
  /** The schema of every error answer. */
  errorSchema: O;
  routes: ReadonlyArray<RouteDoc<I, O>>;
}

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Json & { responses: Record<string, Json> }>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is invalid: VALIDATION_FAILED names the field (details list them all), or INVALID_JSON.',
  401: 'No bearer token, or not a valid one (UNAUTHORIZED).',
  403: 'The token may not do this (FORBIDDEN: a read token changing something, a non-admin on an admin route), or the project’s GPU quota would be exceeded (QUOTA_EXCEEDED).',
  404: 'No such resource, or not one this token can see (NOT_FOUND).',
  409: 'The resource’s state forbids it (CONFLICT, naming the state).',
  413: 'The request body is too large (PAYLOAD_TOO_LARGE).',
  415: 'The request body is not JSON (UNSUPPORTED_MEDIA_TYPE).',
  429: 'Too many requests for this token or client address (RATE_LIMITED); retry after Retry-After seconds.',
  503: 'The service that owns the answer is not available (UNAVAILABLE).',
  504: 'The service that owns the answer did not answer in time (TIMEOUT).',
};

const ROLE_TEXT: Record<Role, string> = {
  public: 'No token needed.',
  read: 'Any token (read, operator or admin).',
  operator: 'An operator or admin token (read tokens get 403).',
  admin: 'An admin token (others get 403).',
};

const REF = (name: string) => `#/components/schemas/${name}`;

/**
 * Builds the OpenAPI 3.1 document of a catalog. Request and response bodies are the contracts' zod
 * schemas through zod's own JSON Schema conversion (request bodies as the API reads them, responses
 * as it writes them), each a component referenced by name; query parameters come from the query
 * schemas' properties. Pure.
 */
export function buildOpenApi<I extends string, O extends string>(catalog: ApiCatalog<I, O>): OpenApiDocument {
  const schemas = {
    ...components(catalog.inputs, 'input'),
    ...components(catalog.outputs, 'output'),
  };
  const paths: OpenApiDocument['paths'] = {};
  for (const route of catalog.routes) {
    const operation: Json & { responses: Record<string, Json> } = {
      operationId: operationId(route.method, route.path),
      tags: [route.tag],
      summary: route.summary,
      description: [route.description, `Needs: ${ROLE_TEXT[route.role]}`].filter(Boolean).join('\n\n'),
      'x-gantry-role': route.role,
      ...(route.role === 'public' ? { security: [] } : {}),
      responses: {},
    };
    const parameters = [...pathParameters(route), ...queryParameters(route.query)];
    if (parameters.length > 0) operation['parameters'] = parameters;
    if (route.body !== undefined)
      operation['requestBody'] = {
        required: true,
        content: { 'application/json': { schema: { $ref: REF(route.body) } } },
      };
    for (const r of route.responses) operation.responses[String(r.status)] = response(r);
    for (const status of route.errors) {
      operation.responses[String(status)] = {
        description: ERROR_DESCRIPTIONS[status] ?? 'An error.',
        ...(status === 429
          ? {
              headers: {
                'Retry-After': {
                  description: 'Seconds until the next request may succeed.',
                  schema: { type: 'integer', minimum: 1 },
                },
              },
            }
          : {}),
        content: { 'application/json': { schema: { $ref: REF(catalog.errorSchema) } } },
      };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: catalog.title, version: catalog.version, description: catalog.description },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...new Set(catalog.routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <token secret>' },
      },
    },
  };
}

/** The catalog's schemas as JSON Schema components; one schema referring to another uses `$ref`. */
function components(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: REF });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _schema, $id: _id, ...rest } = schema as Json;
      return [id, rest];
    }),
  );
}

function response<O extends string>(r: ResponseDoc<O>): Json {
  if (r.schema !== undefined)
    return {
      description: r.description,
      content: { 'application/json': { schema: { $ref: REF(r.schema) } } },
    };
  if (r.contentType !== undefined)
    return {
      description: r.description,
      content: {
        [r.contentType]: {
          schema: r.contentType === 'application/json' ? { type: 'object' } : { type: 'string' },
        },
      },
    };
  return { description: r.description };
}

function pathParameters<I extends string, O extends string>(route: RouteDoc<I, O>): Json[] {
  return [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name = '']) => {
    const doc = route.params?.[name];
    return {
      name,
      in: 'path',
      required: true,
      description: doc?.description ?? name,
      schema: doc?.schema ? inline(doc.schema) : { type: 'string' },
    };
  });
}

function queryParameters(query: z.ZodType | undefined): Json[] {
  if (!query) return [];
  const json = inline(query) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema,
  }));
}

/** A schema used in one place (path and query parameters), inlined. */
function inline(schema: z.ZodType): Json {
  const { $schema: _schema, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Json;
  return rest;
}

/** `PUT /v1/app/{id}/label` → `putV1AppIdLabel`. */
export function operationId(method: HttpMethod, path: string): string {
  const words = path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1));
  return method.toLowerCase() + words.join('');
}
