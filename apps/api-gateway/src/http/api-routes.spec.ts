import 'reflect-metadata';

import { HealthController } from '@gantry/runtime';
import { describe, expect, it } from '@jest/globals';
import { RequestMethod } from '@nestjs/common';

import { GATEWAY_CONTROLLERS } from '../app.module.js';
import type { Role } from '../domain/openapi.js';
import { API_ROUTES, openApiDocument } from './api-routes.js';
import { AdminOnly, AuthGuard } from './guards.js';

type Handler = (...args: unknown[]) => unknown;

/** Nest's own metadata keys (PATH_METADATA, METHOD_METADATA, GUARDS_METADATA of @nestjs/common). */
const PATH = 'path';
const METHOD = 'method';
const GUARDS = '__guards__';

const join = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`.replace(/:(\w+)/g, '{$1}');

/** Every route the controllers serve, as `METHOD /path` with the role their guards demand. */
function servedRoutes(): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const controller of [...GATEWAY_CONTROLLERS, HealthController]) {
    const base = String(Reflect.getMetadata(PATH, controller) ?? '');
    const guards = (Reflect.getMetadata(GUARDS, controller) ?? []) as unknown[];
    const authenticated = guards.includes(AuthGuard);
    const prototype = controller.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name] as Handler;
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const path = Reflect.getMetadata(PATH, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD, handler) as RequestMethod | undefined;
      if (path === undefined || method === undefined) continue;
      const verb = RequestMethod[method];
      const admin =
        Reflect.getMetadata(AdminOnly.KEY, handler) ?? Reflect.getMetadata(AdminOnly.KEY, controller);
      const role: Role = !authenticated
        ? 'public'
        : admin === true
          ? 'admin'
          : verb === 'GET'
            ? 'read'
            : 'operator';
      out.set(`${verb} ${join(base, path)}`, role);
    }
  }
  return out;
}

describe('the API route table', () => {
  it('documents exactly the routes the controllers serve, with the role their guards demand', () => {
    const documented = new Map(API_ROUTES.map((r) => [`${r.method} ${r.path}`, r.role]));
    expect(documented.size).toBe(API_ROUTES.length); // no route twice
    expect(Object.fromEntries([...documented].sort())).toEqual(
      Object.fromEntries([...servedRoutes()].sort()),
    );
  });

  it('builds an OpenAPI 3.1 document whose references all resolve', () => {
    const doc = openApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    const refs = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.add(x);
          else walk(x);
        }
    };
    walk(doc);
    expect(refs.size).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').pop() ?? '']).toBeDefined();
    }
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        expect({ at: `${method} ${path}`, responses: Object.keys(op.responses).length > 0 }).toEqual({
          at: `${method} ${path}`,
          responses: true,
        });
  });

  it('describes request bodies as the API reads them and answers as it writes them', () => {
    const { schemas } = openApiDocument().components;
    expect(schemas['SetScalingStrategyInput']).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        fixed: { properties: { replicas: { type: 'integer', minimum: 1, maximum: 10 } } },
        automatic: {
          required: ['replicasMin', 'replicasMax'],
          properties: { replicasMin: { minimum: 0, maximum: 10 }, resourceType: { enum: ['CPU', 'RAM'] } },
        },
      },
    });
    expect(schemas['SetLabelInput']).toMatchObject({ required: ['name'] });
    expect(schemas['App']).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['id', 'spec', 'status']),
    });
    expect(schemas['Error']).toMatchObject({ required: ['error', 'message'] });
    const put = openApiDocument().paths['/v1/app/{id}/scalingstrategy']?.['put'];
    expect(put).toMatchObject({
      'x-gantry-role': 'operator',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
      requestBody: {
        content: { 'application/json': { schema: { $ref: '#/components/schemas/SetScalingStrategyInput' } } },
      },
      responses: { '200': {}, '403': {}, '409': {}, '429': { headers: { 'Retry-After': {} } } },
    });
    expect(schemas['UpdateAppInput']).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        envVars: { type: 'array', maxItems: 256, items: { required: ['name', 'value'] } },
        command: { anyOf: [{ type: 'array', minItems: 1, maxItems: 64 }, { type: 'null' }] },
        resources: { properties: { flavor: {}, cpu: {}, gpu: {} } },
        deploymentStrategy: { properties: { autoRollback: { type: 'boolean' } } },
      },
    });
    const rollback = openApiDocument().paths['/v1/app/{id}/rollback']?.['put'];
    expect(rollback).toMatchObject({
      'x-gantry-role': 'operator',
      parameters: [{ name: 'id', in: 'path', required: true }],
      responses: { '204': {}, '403': {}, '404': {}, '409': {} },
    });
    expect(rollback?.['requestBody']).toBeUndefined();
    const list = openApiDocument().paths['/v1/app']?.['get'];
    expect((list?.['parameters'] as Array<{ name: string }>).map((p) => p.name)).toEqual([
      'page',
      'size',
      'sort',
      'order',
      'statusState',
      'labelSelector',
      'updatedAfter',
      'updatedBefore',
      'projectId',
    ]);
  });
});
