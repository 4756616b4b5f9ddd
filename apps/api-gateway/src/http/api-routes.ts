import {
  AppEventsQuerySchema,
  AppEventsSchema,
  AppIdSchema,
  AppLogsQuerySchema,
  AppPageSchema,
  AppSchema,
  CreateAppInputSchema,
  CreateProjectInputSchema,
  CreateRegistryInputSchema,
  CreateTokenInputSchema,
  DeadLetterListQuerySchema,
  DeadLetterPageSchema,
  DeleteAppQuerySchema,
  ErrorBodySchema,
  FlavorIdSchema,
  FlavorListSchema,
  FlavorOutputSchema,
  ListAppsQuerySchema,
  LogsSchema,
  MeSchema,
  NodeIdSchema,
  NodeListSchema,
  NodeRecordSchema,
  ProjectIdSchema,
  ProjectListSchema,
  ProjectSchema,
  ProjectScopeQuerySchema,
  QuotaSchema,
  RegistryIdSchema,
  RegistryListSchema,
  RegistrySchema,
  ReplayDeadLettersInputSchema,
  ReplayDeadLettersResultSchema,
  SetImageInputSchema,
  SetLabelInputSchema,
  SetScalingStrategyInputSchema,
  TokenIdSchema,
  TokenListSchema,
  TokenSchema,
  UpdateAppBodySchema,
  UpdateAppInputSchema,
  UpdateProjectQuotaInputSchema,
  UpdateRegistryInputSchema,
  UsageOutputSchema,
  UsageQueryInputSchema,
} from '@gantry/contracts';
import { z } from 'zod';

import { type ApiCatalog, buildOpenApi, type OpenApiDocument, type RouteDoc } from '../domain/openapi.js';

/** Request bodies, by component name. */
const INPUTS = {
  CreateAppInput: CreateAppInputSchema,
  UpdateAppInput: UpdateAppInputSchema,
  UpdateAppBody: UpdateAppBodySchema,
  SetImageInput: SetImageInputSchema,
  SetLabelInput: SetLabelInputSchema,
  SetScalingStrategyInput: SetScalingStrategyInputSchema,
  CreateTokenInput: CreateTokenInputSchema,
  CreateRegistryInput: CreateRegistryInputSchema,
  UpdateRegistryInput: UpdateRegistryInputSchema,
  CreateProjectInput: CreateProjectInputSchema,
  UpdateProjectQuotaInput: UpdateProjectQuotaInputSchema,
  ReplayDeadLettersInput: ReplayDeadLettersInputSchema,
};

/** `GET /healthz`. */
const HealthSchema = z.strictObject({ status: z.literal('ok') });
/** `GET /readyz`: every named check and its verdict ("ok" or why not). */
const ReadinessSchema = z.strictObject({
  status: z.enum(['ready', 'not ready']),
  checks: z.record(z.string(), z.string()),
});

/** Response bodies, by component name. */
const OUTPUTS = {
  App: AppSchema,
  AppPage: AppPageSchema,
  Logs: LogsSchema,
  AppEvents: AppEventsSchema,
  FlavorList: FlavorListSchema,
  Flavor: FlavorOutputSchema,
  Quota: QuotaSchema,
  Me: MeSchema,
  Usage: UsageOutputSchema,
  Token: TokenSchema,
  TokenList: TokenListSchema,
  Registry: RegistrySchema,
  RegistryList: RegistryListSchema,
  Project: ProjectSchema,
  ProjectList: ProjectListSchema,
  Node: NodeRecordSchema,
  NodeList: NodeListSchema,
  DeadLetterPage: DeadLetterPageSchema,
  ReplayDeadLettersResult: ReplayDeadLettersResultSchema,
  Health: HealthSchema,
  Readiness: ReadinessSchema,
  Error: ErrorBodySchema,
};

type In = keyof typeof INPUTS;
type Out = keyof typeof OUTPUTS;
type Route = RouteDoc<In, Out>;

const APP_ID = { id: { description: 'The app id (a UUID).', schema: AppIdSchema } };
const NODE_ID = { id: { description: 'The node id.', schema: NodeIdSchema } };
const TOKEN_ID = { id: { description: 'The token id (a UUID).', schema: TokenIdSchema } };
const REGISTRY_ID = { id: { description: 'The registry id (a UUID).', schema: RegistryIdSchema } };
const PROJECT_ID = { id: { description: 'The project id.', schema: ProjectIdSchema } };

const ok = (schema: Out, description: string) => [{ status: 200, description, schema }] as const;
const noContent = (description: string) => [{ status: 204, description }] as const;

/** Errors every authenticated route may answer: bad query, no token, rate limited. */
const AUTH = [400, 401, 429] as const;
/** ... and those of a route that changes something (read tokens get 403; bodies must be JSON). */
const WRITE = [...AUTH, 403, 413, 415] as const;

const appChange = (
  path: string,
  body: In,
  summary: string,
  description: string,
  extra: number[] = [],
): Route => ({
  method: 'PUT',
  path,
  tag: 'apps',
  summary,
  description,
  role: 'operator',
  params: APP_ID,
  body,
  responses: ok('App', 'The app with its new spec; the status follows as the scheduler applies it.'),
  errors: [...WRITE, 404, 409, ...extra],
});

/**
 * Every route of the gateway, in one place: the OpenAPI document at `/docs/openapi.json` is built from
 * it, a unit test checks it against the controllers' routes and roles, and an integration test calls
 * each one.
 */
export const API_ROUTES: readonly Route[] = [
  // Apps (reference §2.1)
  {
    method: 'POST',
    path: '/v1/app',
    tag: 'apps',
    summary: 'Create an app',
    description:
      'Resolves the spec (flavor × units, defaults), checks the project’s quotas (apps; CPUs and memory, or GPUs, of every replica) and queues the app.',
    role: 'operator',
    body: 'CreateAppInput',
    responses: ok('App', 'The app, QUEUED.'),
    errors: WRITE,
  },
  {
    method: 'GET',
    path: '/v1/app',
    tag: 'apps',
    summary: 'List apps',
    role: 'read',
    query: ListAppsQuerySchema,
    responses: ok('AppPage', 'A page of the apps this token can see.'),
    errors: [...AUTH, 403],
  },
  {
    method: 'GET',
    path: '/v1/app/{id}',
    tag: 'apps',
    summary: 'Get an app',
    role: 'read',
    params: APP_ID,
    responses: ok('App', 'The app.'),
    errors: [...AUTH, 404],
  },
  appChange(
    '/v1/app/{id}',
    'UpdateAppBody',
    'Update an app’s environment, command, resources, ports, probe or rolling-update parameters',
    'Takes `UpdateInput` (`envVars` — the whole list —, `command` — null gives the image’s own back —, `resources` — resolved through the flavor catalog as on create —, `defaultHttpPort`, `grpcPort` — null removes it —, `probe`, `deploymentStrategy` with `autoRollback`), or the same wrapped as `{"appUpdate": …}`, each validated as on create. Omitted fields keep their value; a probe port that followed the HTTP port follows it. A RUNNING app rolls its replicas for a runtime change (anything but `deploymentStrategy`), as for a new image; the runtime spec it ran before is kept for `PUT /v1/app/{id}/rollback`. More CPUs, memory or GPUs are checked against the project’s quotas. The image has its own endpoint.',
  ),
  appChange(
    '/v1/app/{id}/image',
    'SetImageInput',
    'Set an app’s image',
    'Stores `url` as the app’s image (a new desired version for the scheduler; a RUNNING app rolls its replicas). The runtime spec it ran before is kept for `PUT /v1/app/{id}/rollback`.',
  ),
  {
    method: 'PUT',
    path: '/v1/app/{id}/rollback',
    tag: 'apps',
    summary: 'Roll an app back to its previous runtime spec',
    description:
      'Makes the runtime spec the app ran before its last runtime change (image, command, environment, resources, ports, probe) current again — a RUNNING app rolls its replicas — and keeps the current one as the one to return to, so that a second rollback undoes the first. Labels, scaling and the deployment strategy stay. No body. 409 when the app has nothing to roll back to, or cannot change (FAILED, ERROR, being deleted); more CPUs, memory or GPUs are checked against the project’s quotas.',
    role: 'operator',
    params: APP_ID,
    responses: noContent('Rolling back (asynchronous: the status follows as the scheduler rolls it out).'),
    errors: [...WRITE, 404, 409],
  },
  appChange(
    '/v1/app/{id}/label',
    'SetLabelInput',
    'Set or remove a label',
    'Sets label `name` to `value`; without a value the label is removed. `gantry/` keys belong to the platform. A label-scoped token cannot change its own selector’s label.',
  ),
  appChange(
    '/v1/app/{id}/scalingstrategy',
    'SetScalingStrategyInput',
    'Change how the app scales',
    'Exactly one of `fixed` (1 to 10 replicas) and `automatic` (`replicasMin` 0–10, `replicasMax` 1–10, CPU or RAM against `averageUsageTarget` % of a replica’s allocation, or `customMetrics`; stabilization windows; `cooldownPeriodSeconds` with `replicasMin` 0). Switching keeps the replicas that serve. More CPUs, memory or GPUs (an automatic app’s at `replicasMax`) are checked against the project’s quotas; a RUNNING app goes through SCALING while its replica count changes.',
  ),
  {
    method: 'PUT',
    path: '/v1/app/{id}/stop',
    tag: 'apps',
    summary: 'Stop an app',
    role: 'operator',
    params: APP_ID,
    responses: noContent('Stopping (asynchronous).'),
    errors: [...WRITE, 404, 409],
  },
  {
    method: 'PUT',
    path: '/v1/app/{id}/start',
    tag: 'apps',
    summary: 'Start a stopped app',
    description:
      'Its CPUs and memory, or GPUs, are checked against the project’s quotas again (403 QUOTA_EXCEEDED).',
    role: 'operator',
    params: APP_ID,
    responses: noContent('Starting (asynchronous).'),
    errors: [...WRITE, 404, 409],
  },
  {
    method: 'DELETE',
    path: '/v1/app/{id}',
    tag: 'apps',
    summary: 'Delete an app',
    description: 'A running app needs `force=true` (it is stopped first).',
    role: 'operator',
    params: APP_ID,
    query: DeleteAppQuerySchema,
    responses: noContent('Deleting (asynchronous).'),
    errors: [...WRITE, 404, 409],
  },
  {
    method: 'GET',
    path: '/v1/app/{id}/log',
    tag: 'apps',
    summary: 'An app’s logs (from log-collector)',
    role: 'read',
    params: APP_ID,
    query: AppLogsQuerySchema,
    responses: ok('Logs', 'The log lines, oldest first.'),
    errors: [...AUTH, 404, 503, 504],
  },
  {
    method: 'GET',
    path: '/v1/app/{id}/event',
    tag: 'apps',
    summary: 'An app’s event log (from log-collector)',
    role: 'read',
    params: APP_ID,
    query: AppEventsQuerySchema,
    responses: ok('AppEvents', 'The events, oldest first.'),
    errors: [...AUTH, 404, 503, 504],
  },
  // Capabilities and who I am
  {
    method: 'GET',
    path: '/v1/capabilities/flavor',
    tag: 'capabilities',
    summary: 'The flavor catalog, with prices',
    role: 'read',
    responses: ok('FlavorList', 'Every flavor.'),
    errors: AUTH,
  },
  {
    method: 'GET',
    path: '/v1/capabilities/flavor/{id}',
    tag: 'capabilities',
    summary: 'One flavor',
    role: 'read',
    params: { id: { description: 'The flavor id, e.g. ai1-1-gpu.', schema: FlavorIdSchema } },
    responses: ok('Flavor', 'The flavor.'),
    errors: [...AUTH, 404],
  },
  {
    method: 'GET',
    path: '/v1/capabilities/quota',
    tag: 'capabilities',
    summary: 'The project’s quota and what is in use',
    role: 'read',
    query: ProjectScopeQuerySchema,
    responses: ok('Quota', 'The quota (admins may name another project).'),
    errors: [...AUTH, 403, 404],
  },
  {
    method: 'GET',
    path: '/v1/me',
    tag: 'capabilities',
    summary: 'Who this token is',
    role: 'read',
    responses: ok('Me', 'The token, its project and quotas.'),
    errors: [...AUTH, 404],
  },
  {
    method: 'GET',
    path: '/v1/billing/usage',
    tag: 'billing',
    summary: 'Usage and charges (from billing-meter)',
    role: 'read',
    query: UsageQueryInputSchema,
    responses: ok('Usage', 'Runs, 60-second periods and totals.'),
    errors: [...AUTH, 403, 503, 504],
  },
  // Tokens (admin)
  {
    method: 'GET',
    path: '/v1/token',
    tag: 'tokens',
    summary: 'List tokens',
    role: 'admin',
    query: ProjectScopeQuerySchema,
    responses: ok('TokenList', 'The project’s tokens (no secrets).'),
    errors: [...AUTH, 403],
  },
  {
    method: 'POST',
    path: '/v1/token',
    tag: 'tokens',
    summary: 'Create a token',
    description: 'Within the project’s tokens quota (403 QUOTA_EXCEEDED past it).',
    role: 'admin',
    body: 'CreateTokenInput',
    responses: ok('Token', 'The token, with its secret (shown once).'),
    errors: [...WRITE, 404, 409],
  },
  {
    method: 'GET',
    path: '/v1/token/{id}',
    tag: 'tokens',
    summary: 'Get a token',
    role: 'admin',
    params: TOKEN_ID,
    responses: ok('Token', 'The token (no secret).'),
    errors: [...AUTH, 403, 404],
  },
  {
    method: 'POST',
    path: '/v1/token/{id}/renew',
    tag: 'tokens',
    summary: 'Renew a token’s secret',
    role: 'admin',
    params: TOKEN_ID,
    responses: ok('Token', 'The token, with its new secret (the old one stops working).'),
    errors: [...WRITE, 404],
  },
  {
    method: 'DELETE',
    path: '/v1/token/{id}',
    tag: 'tokens',
    summary: 'Revoke a token',
    role: 'admin',
    params: TOKEN_ID,
    responses: noContent('Revoked.'),
    errors: [...WRITE, 404, 409],
  },
  // Private registries
  {
    method: 'GET',
    path: '/v1/registry',
    tag: 'registries',
    summary: 'List private registries',
    role: 'read',
    query: ProjectScopeQuerySchema,
    responses: ok('RegistryList', 'The project’s registries (no passwords).'),
    errors: [...AUTH, 403],
  },
  {
    method: 'POST',
    path: '/v1/registry',
    tag: 'registries',
    summary: 'Add a private registry',
    description:
      'Node agents pull the project’s images from it with these credentials. The password is sealed with the gateway’s GANTRY_SECRET_KEY and never shown again (503 without a key).',
    role: 'operator',
    body: 'CreateRegistryInput',
    responses: ok('Registry', 'The registry (no password).'),
    errors: [...WRITE, 404, 409, 503],
  },
  {
    method: 'GET',
    path: '/v1/registry/{id}',
    tag: 'registries',
    summary: 'Get a private registry',
    role: 'read',
    params: REGISTRY_ID,
    responses: ok('Registry', 'The registry (no password).'),
    errors: [...AUTH, 404],
  },
  {
    method: 'PUT',
    path: '/v1/registry/{id}',
    tag: 'registries',
    summary: 'Change a private registry',
    description: 'Its address, username or password; images already pulled stay.',
    role: 'operator',
    params: REGISTRY_ID,
    body: 'UpdateRegistryInput',
    responses: ok('Registry', 'The registry (no password).'),
    errors: [...WRITE, 404, 409, 503],
  },
  {
    method: 'DELETE',
    path: '/v1/registry/{id}',
    tag: 'registries',
    summary: 'Remove a private registry',
    role: 'operator',
    params: REGISTRY_ID,
    responses: noContent('Removed.'),
    errors: [...WRITE, 404],
  },
  // Projects (admin)
  {
    method: 'GET',
    path: '/v1/project',
    tag: 'projects',
    summary: 'List projects',
    role: 'admin',
    responses: ok('ProjectList', 'Every project.'),
    errors: [...AUTH, 403],
  },
  {
    method: 'POST',
    path: '/v1/project',
    tag: 'projects',
    summary: 'Create a project',
    role: 'admin',
    body: 'CreateProjectInput',
    responses: ok('Project', 'The project.'),
    errors: [...WRITE, 409],
  },
  {
    method: 'PUT',
    path: '/v1/project/{id}/quota',
    tag: 'projects',
    summary: 'Set a project’s quotas',
    description:
      'Any of `cpuQuota`, `gpuQuota`, `memoryQuota` (bytes), `appQuota` and `tokenQuota`; the others keep their value. Lowering one below what is in use stops nothing; it refuses what would hold more of it (new apps, starts, scale-ups, new tokens) until usage is under it.',
    role: 'admin',
    params: PROJECT_ID,
    body: 'UpdateProjectQuotaInput',
    responses: ok('Quota', 'The quota as GET /v1/capabilities/quota now shows it.'),
    errors: [...WRITE, 404],
  },
  // Nodes (admin; answered by the scheduler)
  {
    method: 'GET',
    path: '/v1/node',
    tag: 'nodes',
    summary: 'List nodes',
    role: 'admin',
    responses: ok('NodeList', 'Every node: health, capacity, allocations.'),
    errors: [...AUTH, 403, 503, 504],
  },
  {
    method: 'GET',
    path: '/v1/node/{id}',
    tag: 'nodes',
    summary: 'Get a node',
    role: 'admin',
    params: NODE_ID,
    responses: ok('Node', 'The node.'),
    errors: [...AUTH, 403, 404, 503, 504],
  },
  ...(['cordon', 'uncordon', 'drain'] as const).map((action): Route => ({
    method: 'PUT',
    path: `/v1/node/{id}/${action}`,
    tag: 'nodes',
    summary: {
      cordon: 'Cordon a node (no new replicas)',
      uncordon: 'Uncordon a node (schedulable again)',
      drain: 'Drain a node (move its replicas elsewhere)',
    }[action],
    role: 'admin',
    params: NODE_ID,
    responses: ok('Node', 'The node once the scheduler has committed the change.'),
    errors: [...WRITE, 404, 503, 504],
  })),
  {
    method: 'DELETE',
    path: '/v1/node/{id}',
    tag: 'nodes',
    summary: 'Forget a node',
    description: 'Only a node that holds no replica (drain it first) or is lost.',
    role: 'admin',
    params: NODE_ID,
    responses: noContent('Forgotten.'),
    errors: [...WRITE, 404, 409, 503, 504],
  },
  // Administration (admin; the dead-letter stream, through NATS)
  {
    method: 'GET',
    path: '/v1/admin/dlq',
    tag: 'admin',
    summary: 'List dead letters',
    description:
      'Messages a consumer could never handle (a permanent failure, or one that kept failing), oldest first, a page at a time: pass `next` as `after` for the next page. Transient failures (database or NATS down) are retried, never dead-lettered.',
    role: 'admin',
    query: DeadLetterListQuerySchema,
    responses: ok(
      'DeadLetterPage',
      'A page of dead letters, each with its id, subject, consumer, reason and payload.',
    ),
    errors: [...AUTH, 403, 503],
  },
  {
    method: 'POST',
    path: '/v1/admin/dlq/replay',
    tag: 'admin',
    summary: 'Replay dead letters',
    description:
      'Republishes each chosen letter’s message (these `ids`, every letter of a `subject`, or `all`) to its original subject, where every consumer of that subject gets it again, and removes the letter once the message is stored. A letter that cannot be replayed (one part of a batch message, a payload no longer kept) stays and is listed under `failed`.',
    role: 'admin',
    body: 'ReplayDeadLettersInput',
    responses: ok('ReplayDeadLettersResult', 'The letters replayed, and those left with the reason.'),
    errors: [...WRITE, 503],
  },
  // Operations
  {
    method: 'GET',
    path: '/healthz',
    tag: 'operations',
    summary: 'Liveness',
    role: 'public',
    responses: ok('Health', 'The process answers.'),
    errors: [],
  },
  {
    method: 'GET',
    path: '/readyz',
    tag: 'operations',
    summary: 'Readiness (database, NATS)',
    role: 'public',
    responses: [
      { status: 200, description: 'Ready.', schema: 'Readiness' },
      { status: 503, description: 'Not ready: the checks say why.', schema: 'Readiness' },
    ],
    errors: [],
  },
  {
    method: 'GET',
    path: '/metrics',
    tag: 'operations',
    summary: 'Prometheus metrics',
    description:
      'Admin tokens only, as this port is the public API’s (Prometheus: `authorization: {credentials: <token>}`). The other services serve theirs on their own HTTP port, bound to 127.0.0.1 by default.',
    role: 'admin',
    responses: [{ status: 200, description: 'Prometheus text format.', contentType: 'text/plain' }],
    errors: [401, 403, 429],
  },
  {
    method: 'GET',
    path: '/docs',
    tag: 'operations',
    summary: 'This documentation, as a page',
    role: 'public',
    responses: [{ status: 200, description: 'An HTML page.', contentType: 'text/html' }],
    errors: [429],
  },
  {
    method: 'GET',
    path: '/docs/openapi.json',
    tag: 'operations',
    summary: 'This documentation, as OpenAPI 3.1',
    role: 'public',
    responses: [{ status: 200, description: 'The OpenAPI document.', contentType: 'application/json' }],
    errors: [429],
  },
];

export const API_CATALOG: ApiCatalog<In, Out> = {
  title: 'Gantry API',
  version: '1',
  description:
    'Deploy a Docker image as a load-balanced, billed HTTPS endpoint (the shapes of OVHcloud AI Deploy’s regional API). Errors are JSON `{error, message, details?}`.',
  inputs: INPUTS,
  outputs: OUTPUTS,
  errorSchema: 'Error',
  routes: API_ROUTES,
};

let built: OpenApiDocument | undefined;

/** The gateway's OpenAPI document (built once). */
export function openApiDocument(): OpenApiDocument {
  built ??= buildOpenApi(API_CATALOG);
  return built;
}
