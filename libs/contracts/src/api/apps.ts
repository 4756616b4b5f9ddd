import { z } from 'zod';

import {
  AppSpecSchema,
  AppStateSchema,
  type AutomaticScaling,
  ENV_NAME,
  HistoryEntrySchema,
  InfoSchema,
  LABEL_KEY,
  LABEL_VALUE,
  METRIC_AGGREGATIONS,
  METRIC_FORMATS,
  PortSchema,
  RESERVED_LABEL_PREFIX,
  SCALING_RESOURCES,
  SELF_PLACEHOLDER,
} from '../domain/app-spec.js';
import { APP_STATES } from '../domain/app-state.js';
import { AppEventSchema } from '../wire/app.js';
import { LogQueryResultSchema } from '../wire/logs.js';
import {
  LABEL_SELECTOR,
  pageOf,
  queryBool,
  queryDate,
  queryEnum,
  queryInt,
  queryList,
  queryString,
  requiredOr,
  text,
} from './common.js';

/**
 * A Docker image reference, as Docker's distribution/reference grammar defines it:
 * `[registry[:port]/]name[/name…][:tag][@digest]`, name components in lowercase.
 */
export const IMAGE_REFERENCE =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

export const ImageReferenceSchema = z
  .string({ error: requiredOr('must be a string') })
  .min(1, 'is required')
  .max(512, 'must be at most 512 characters')
  .regex(
    IMAGE_REFERENCE,
    'must be an image reference like registry.example.com/team/model:1.2 (lowercase name, optional tag and digest)',
  );

/** An app's informative name. */
export const AppNameSchema = text(128)
  .min(1, 'must not be empty')
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

/** Environment variables whose names start with this belong to the platform. */
export const RESERVED_ENV_PREFIX = 'GANTRY_';

const EnvVarInputSchema = z.strictObject({
  name: z
    .string({ error: requiredOr('must be a string') })
    .min(1, 'is required')
    .max(256, 'must be at most 256 characters')
    .regex(ENV_NAME, 'must start with a letter or _ and hold only letters, digits, _ . -')
    .refine(
      (n) => !n.toUpperCase().startsWith(RESERVED_ENV_PREFIX),
      `names starting with ${RESERVED_ENV_PREFIX} are reserved for the platform`,
    ),
  value: text(32_768),
});

const MAX_LABELS = 64;

/**
 * What one app's create body may hold, so that a spec stays small wherever it is stored and sent
 * (the database, every `app.desired.v1`, each node's assignment list). Sizes are UTF-8 bytes.
 */
export const APP_INPUT_LIMITS = {
  /** Environment variables per app. */
  envVars: 256,
  /** Names and values of all the environment variables together. */
  envBytes: 64 * 1024,
  /** Arguments of `command`. */
  commandArgs: 64,
  /** All the arguments of `command` together. */
  commandBytes: 16 * 1024,
  /** Labels per app. */
  labels: MAX_LABELS,
} as const;

const utf8 = new TextEncoder();
/** The size of `s` in UTF-8 bytes. */
const bytes = (s: string): number => utf8.encode(s).length;
const kib = (n: number): string => `${n / 1024} KiB`;

const LABEL_KEY_MESSAGE = 'label keys are 1-63 letters, digits, _ . / -, starting and ending alphanumeric';

/**
 * A `__proto__` key survives JSON.parse as an own property but not a copy into a new object: refuse
 * it here rather than drop it silently.
 */
function refuseProtoKey(value: unknown, ctx: z.RefinementCtx): unknown {
  if (value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, '__proto__'))
    ctx.addIssue({ code: 'custom', path: ['__proto__'], message: LABEL_KEY_MESSAGE });
  return value;
}

const LabelsInputSchema = z.preprocess(
  refuseProtoKey,
  z.record(z.string(), z.string({ error: 'label values must be strings' })).superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > MAX_LABELS)
      ctx.addIssue({ code: 'custom', message: `must hold at most ${MAX_LABELS} labels, not ${keys.length}` });
    for (const key of keys) {
      if (key.startsWith(RESERVED_LABEL_PREFIX))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `the ${RESERVED_LABEL_PREFIX} prefix is reserved for the platform`,
        });
      else if (!LABEL_KEY.test(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: LABEL_KEY_MESSAGE,
        });
      else if (!LABEL_VALUE.test(labels[key] ?? ''))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'label values are up to 63 letters, digits, _ . -, starting and ending alphanumeric',
        });
    }
  }),
);

const UnitsSchema = (what: string) =>
  z
    .int({ error: `must be a whole number of ${what}` })
    .min(1, `must be at least 1 ${what.replace(/s$/, '')}`);

const SURGE_MESSAGE = 'must be a whole number of replicas (0-100) or a percentage like "25%"';

/** `maxSurge` / `maxUnavailable`: a number of replicas or a percentage (`"25%"`). */
const SurgeSchema = z
  .union([z.int().min(0).max(100), z.string().regex(/^(\d{1,2}|100)%$|^\d{1,2}$|^100$/, SURGE_MESSAGE)], {
    error: SURGE_MESSAGE,
  })
  .transform((v) => String(v));

const REPLICAS_MESSAGE = 'must be a whole number of replicas (1-10)';

/** `{"replicas": n}`: a fixed number of replicas, 1 to 10 (reference §11). */
const FixedScalingInputSchema = z.strictObject(
  {
    replicas: z
      .int({ error: requiredOr(REPLICAS_MESSAGE) })
      .min(1, 'must be at least 1')
      .max(10, 'must be at most 10'),
  },
  { error: requiredOr('must be an object like {"replicas": 2}') },
);

const WINDOW_MESSAGE = 'must be a whole number of seconds (0-3600)';
const windowSeconds = z.int({ error: WINDOW_MESSAGE }).min(0, WINDOW_MESSAGE).max(3600, WINDOW_MESSAGE);

/** `customMetrics` of a request (reference §4.5): the metric, where to read it, and its target. */
const CustomMetricsInputSchema = z.strictObject(
  {
    apiUrl: z
      .string({ error: requiredOr('must be a URL like http://<SELF>:6000/metrics') })
      .max(2048, 'must be at most 2048 characters')
      .regex(
        /^https?:\/\/[^\s]+$/,
        'must be an http:// or https:// URL (http://<SELF>:6000/metrics polls each replica)',
      )
      .refine((u) => {
        try {
          new URL(u.replace(SELF_PLACEHOLDER, 'self.invalid'));
          return true;
        } catch {
          return false;
        }
      }, 'must be a valid URL')
      .refine(
        (u) => !u.includes(SELF_PLACEHOLDER) || /^https?:\/\/<SELF>(:\d{1,5})?(\/|$)/.test(u),
        '<SELF> may only stand for the host: http://<SELF>:PORT/path',
      ),
    format: z.enum(METRIC_FORMATS, { error: `must be one of ${METRIC_FORMATS.join(', ')}` }).default('JSON'),
    valueLocation: z
      .string({ error: requiredOr('must be where the value is, like components.worker.tasks') })
      .min(1, 'must not be empty')
      .max(1024, 'must be at most 1024 characters'),
    targetValue: z
      .number({ error: requiredOr('must be a number above 0') })
      .positive('must be above 0')
      .max(1e15, 'must be at most 1e15'),
    aggregationType: z
      .enum(METRIC_AGGREGATIONS, { error: `must be one of ${METRIC_AGGREGATIONS.join(', ')}` })
      .default('AVERAGE'),
  },
  {
    error: requiredOr(
      'must be an object like {"apiUrl": "http://<SELF>:6000/metrics", "valueLocation": "queue", "targetValue": 10}',
    ),
  },
);

/**
 * `automatic` of a request (reference §2.2 `AutomaticScaling`, §4): bounds, one metric — CPU or RAM
 * against a percentage of the replica's allocation, or a custom metric — and the delays.
 */
export const AutomaticScalingInputSchema = z
  .strictObject(
    {
      replicasMin: z
        .int({ error: requiredOr('must be a whole number of replicas (0-10)') })
        .min(0, 'must be at least 0')
        .max(10, 'must be at most 10'),
      replicasMax: z
        .int({ error: requiredOr('must be a whole number of replicas (1-10)') })
        .min(1, 'must be at least 1')
        .max(10, 'must be at most 10'),
      resourceType: z
        .enum(SCALING_RESOURCES, { error: `must be one of ${SCALING_RESOURCES.join(', ')}` })
        .optional(),
      averageUsageTarget: z
        .int({ error: 'must be a whole percentage (1-100)' })
        .min(1, 'must be at least 1')
        .max(100, 'must be at most 100')
        .optional(),
      scaleUpStabilizationWindowSeconds: windowSeconds.default(0),
      scaleDownStabilizationWindowSeconds: windowSeconds.default(300),
      cooldownPeriodSeconds: z
        .int({ error: 'must be a whole number of seconds (0-86400)' })
        .min(0, 'must be at least 0')
        .max(86_400, 'must be at most 86400')
        .optional(),
      customMetrics: CustomMetricsInputSchema.optional(),
    },
    {
      error: requiredOr('must be an object like {"replicasMin": 1, "replicasMax": 4, "resourceType": "CPU"}'),
    },
  )
  .superRefine((a, ctx) => {
    if (a.replicasMax < a.replicasMin)
      ctx.addIssue({
        code: 'custom',
        path: ['replicasMax'],
        message: `must be at least replicasMin (${a.replicasMin})`,
      });
    if (a.cooldownPeriodSeconds !== undefined && a.replicasMin !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['cooldownPeriodSeconds'],
        message: 'applies only to an app that scales to zero (replicasMin 0)',
      });
    if (a.customMetrics)
      for (const field of ['resourceType', 'averageUsageTarget'] as const)
        if (a[field] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'cannot be set with customMetrics: an app scales on one metric',
          });
  })
  .transform((a): AutomaticScaling => ({
    replicasMin: a.replicasMin,
    replicasMax: a.replicasMax,
    ...(a.customMetrics
      ? { customMetrics: a.customMetrics }
      : {
          resourceType: a.resourceType ?? AUTOSCALING_DEFAULTS.resourceType,
          averageUsageTarget: a.averageUsageTarget ?? AUTOSCALING_DEFAULTS.averageUsageTarget,
        }),
    scaleUpStabilizationWindowSeconds: a.scaleUpStabilizationWindowSeconds,
    scaleDownStabilizationWindowSeconds: a.scaleDownStabilizationWindowSeconds,
    ...(a.replicasMin === 0
      ? { cooldownPeriodSeconds: a.cooldownPeriodSeconds ?? AUTOSCALING_DEFAULTS.cooldownPeriodSeconds }
      : {}),
  }));

/** Defaults of automatic scaling (reference §4.2–4.3). */
export const AUTOSCALING_DEFAULTS = {
  resourceType: 'CPU',
  averageUsageTarget: 75,
  cooldownPeriodSeconds: 300,
} as const;

const ONE_STRATEGY = 'set exactly one of fixed and automatic';

/** `scalingStrategy` of a create request (reference `ScalingStrategyInput`): fixed or automatic. */
export const ScalingStrategyInputSchema = z
  .strictObject(
    {
      fixed: FixedScalingInputSchema.optional(),
      automatic: AutomaticScalingInputSchema.optional(),
    },
    {
      error:
        'must be an object like {"fixed": {"replicas": 2}} or {"automatic": {"replicasMin": 1, "replicasMax": 4}}',
    },
  )
  .superRefine((s, ctx) => {
    if (s.fixed && s.automatic) ctx.addIssue({ code: 'custom', message: ONE_STRATEGY });
  });

const probePath = () =>
  text(2048)
    .startsWith('/', 'must start with /')
    .regex(/^[^\s\p{Cc}]*$/u, 'must not contain spaces or control characters');

/** A whole number within [min, max], saying so in `unit`s when it is not. */
const wholeWithin = (unit: string, min: number, max: number) => {
  const message = `must be a whole number of ${unit} (${min}-${max})`;
  return z.int({ error: message }).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
};

/**
 * Liveness probe of a request: `{path?, port?, periodSeconds?, failureThreshold?, timeoutSeconds?}`;
 * path and port default to the readiness probe's.
 */
export const LivenessInputSchema = z.strictObject(
  {
    path: probePath().optional(),
    port: PortSchema.optional(),
    periodSeconds: wholeWithin('seconds', 1, 300).optional(),
    failureThreshold: wholeWithin('failures', 1, 30).optional(),
    timeoutSeconds: wholeWithin('seconds', 1, 60).optional(),
  },
  { error: 'must be an object like {"path": "/healthz", "periodSeconds": 10, "failureThreshold": 3}' },
);

/**
 * Probes of a request: readiness `{path?, port?}` (defaults: `/` on `defaultHttpPort`), a
 * `startupGraceSeconds` (default 0) during which liveness failures do not count, and `liveness`
 * (absent: none; `null` on an update removes it).
 */
export const ProbeInputSchema = z.strictObject(
  {
    path: probePath().optional(),
    port: PortSchema.optional(),
    startupGraceSeconds: wholeWithin('seconds', 0, 3600)
      .meta({
        description:
          'Seconds after each start of a container during which liveness failures do not count (readiness is probed from the start). Default 0.',
      })
      .optional(),
    liveness: LivenessInputSchema.nullable()
      .meta({
        description:
          "GET path on port (default: the readiness probe's) every periodSeconds (default 10, 1-300), each try within timeoutSeconds (default 2, 1-60); 200-399 is alive. failureThreshold (default 3, 1-30) failures in a row restart the container. Absent: none; null on an update removes it.",
      })
      .optional(),
  },
  { error: 'must be an object like {"path": "/health", "port": 8080}' },
);

/** Rolling-update parameters of a request (reference `DeploymentStrategy`). */
export const DeploymentStrategyInputSchema = z
  .strictObject(
    {
      maxSurge: SurgeSchema.optional(),
      maxUnavailable: SurgeSchema.optional(),
      progressDeadlineSeconds: z
        .int({ error: 'must be a whole number of seconds' })
        .min(1, 'must be at least 1')
        .max(86_400, 'must be at most 86400')
        .optional(),
      autoRollback: z
        .boolean({ error: 'must be true or false' })
        .meta({
          description:
            'When the new replicas of a rolling update fail, or are not ready within progressDeadlineSeconds, go back to the previous runtime spec by itself (once per update). Default false.',
        })
        .optional(),
    },
    { error: 'must be an object like {"maxSurge": "25%", "maxUnavailable": "25%"}' },
  )
  .superRefine((d, ctx) => {
    if (isZero(d.maxSurge) && isZero(d.maxUnavailable))
      ctx.addIssue({ code: 'custom', message: 'maxSurge and maxUnavailable cannot both be 0' });
  });

/** The body of `POST /v1/app` (reference §2.2 `AppSpecInput`, the subset Gantry supports). */
export const CreateAppInputSchema = z.strictObject(
  {
    image: ImageReferenceSchema,
    name: AppNameSchema.optional(),
    command: z
      .array(text(8192), { error: 'must be an array of strings' })
      .min(1, "must hold at least one argument (omit it to keep the image's command)")
      .max(APP_INPUT_LIMITS.commandArgs, `must hold at most ${APP_INPUT_LIMITS.commandArgs} arguments`)
      .superRefine((args, ctx) => {
        const total = args.reduce((sum, a) => sum + bytes(a), 0);
        if (total > APP_INPUT_LIMITS.commandBytes)
          ctx.addIssue({
            code: 'custom',
            message: `must total at most ${kib(APP_INPUT_LIMITS.commandBytes)} (${APP_INPUT_LIMITS.commandBytes} bytes), not ${total} bytes`,
          });
      })
      .meta({
        description: `Replaces the image's command: at most ${APP_INPUT_LIMITS.commandArgs} arguments, together at most ${kib(APP_INPUT_LIMITS.commandBytes)} (UTF-8).`,
      })
      .optional(),
    envVars: z
      .array(EnvVarInputSchema, { error: 'must be an array of {name, value}' })
      .max(APP_INPUT_LIMITS.envVars, `must hold at most ${APP_INPUT_LIMITS.envVars} variables`)
      .superRefine((vars, ctx) => {
        const seen = new Set<string>();
        vars.forEach((v, i) => {
          if (seen.has(v.name))
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${v.name} is set twice` });
          seen.add(v.name);
        });
        const total = vars.reduce((sum, v) => sum + bytes(v.name) + bytes(v.value), 0);
        if (total > APP_INPUT_LIMITS.envBytes)
          ctx.addIssue({
            code: 'custom',
            message: `names and values must total at most ${kib(APP_INPUT_LIMITS.envBytes)} (${APP_INPUT_LIMITS.envBytes} bytes), not ${total} bytes`,
          });
      })
      .meta({
        description: `At most ${APP_INPUT_LIMITS.envVars} variables, names and values together at most ${kib(APP_INPUT_LIMITS.envBytes)} (UTF-8).`,
      })
      .optional(),
    labels: LabelsInputSchema.meta({
      description: `At most ${MAX_LABELS} labels.`,
      maxProperties: MAX_LABELS,
    }).optional(),
    resources: z
      .strictObject(
        {
          flavor: z
            .string({ error: 'must be a flavor id' })
            .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a flavor id like ai1-1-cpu')
            .optional(),
          cpu: UnitsSchema('CPUs').optional(),
          gpu: UnitsSchema('GPUs').optional(),
        },
        { error: 'must be an object like {"cpu": 2} or {"gpu": 1, "flavor": "h100-1-gpu"}' },
      )
      .superRefine((r, ctx) => {
        if (r.cpu !== undefined && r.gpu !== undefined)
          ctx.addIssue({
            code: 'custom',
            message: 'cpu and gpu cannot both be set: pick one (an app runs on CPUs or on GPUs, never both)',
          });
      })
      .optional(),
    scalingStrategy: ScalingStrategyInputSchema.optional(),
    defaultHttpPort: PortSchema.optional(),
    grpcPort: PortSchema.optional(),
    probe: ProbeInputSchema.optional(),
    unsecureHttp: z.boolean({ error: 'must be true or false' }).optional(),
    deploymentStrategy: DeploymentStrategyInputSchema.optional(),
  },
  { error: requiredOr('the body must be a JSON object') },
);
export type CreateAppInput = z.infer<typeof CreateAppInputSchema>;

/**
 * The body of `PUT /v1/app/{id}/label` (reference §2.3 `Label`): sets label `name` to `value`; without
 * a value (or with null) the label is removed. Keys under `gantry/` belong to the platform.
 */
export const SetLabelInputSchema = z.strictObject(
  {
    key: z.never({ error: 'the label body is {"name": key, "value": value}: use name' }).optional(),
    name: z.string({ error: requiredOr('must be a label key (a string)') }).superRefine((key, ctx) => {
      if (key.startsWith(RESERVED_LABEL_PREFIX))
        ctx.addIssue({
          code: 'custom',
          message: `"${key.slice(0, 64)}" is reserved: the ${RESERVED_LABEL_PREFIX} prefix belongs to the platform`,
        });
      else if (!LABEL_KEY.test(key)) ctx.addIssue({ code: 'custom', message: LABEL_KEY_MESSAGE });
    }),
    value: z
      .string({ error: 'must be a string (omit it, or send null, to remove the label)' })
      .regex(
        LABEL_VALUE,
        'label values are up to 63 letters, digits, _ . -, starting and ending alphanumeric',
      )
      .nullable()
      .optional(),
  },
  { error: requiredOr('the body must be a JSON object like {"name": "team", "value": "vision"}') },
);
export type SetLabelInput = z.infer<typeof SetLabelInputSchema>;

/**
 * The body of `PUT /v1/app/{id}/scalingstrategy` (reference `ScalingStrategyInput`): a fixed number of
 * replicas (1 to 10) or automatic scaling. A running app switches without a rolling update.
 */
export const SetScalingStrategyInputSchema = z
  .strictObject(
    {
      automatic: AutomaticScalingInputSchema.optional(),
      fixed: FixedScalingInputSchema.optional(),
    },
    { error: requiredOr('the body must be a JSON object like {"fixed": {"replicas": 2}}') },
  )
  .superRefine((s, ctx) => {
    if ((s.fixed === undefined) === (s.automatic === undefined))
      ctx.addIssue({ code: 'custom', message: ONE_STRATEGY });
  });
export type SetScalingStrategyInput = z.infer<typeof SetScalingStrategyInputSchema>;

const UPDATABLE = [
  'envVars',
  'command',
  'resources',
  'defaultHttpPort',
  'grpcPort',
  'probe',
  'deploymentStrategy',
] as const;

const create = CreateAppInputSchema.shape;

/**
 * The body of `PUT /v1/app/{id}` (reference `UpdateInput`, minus the image): environment, command,
 * resources, ports, readiness probe and rolling-update parameters, each validated as on create.
 * Omitted fields keep their value; `envVars` replaces the whole list; `command: null` gives the
 * image's own command back; `grpcPort: null` removes the gRPC port; `resources` is resolved as on
 * create. The image has its own endpoint (`PUT /v1/app/{id}/image`).
 */
export const UpdateAppInputSchema = z
  .strictObject(
    {
      envVars: create.envVars,
      command: create.command.unwrap().nullable().optional(),
      resources: create.resources,
      defaultHttpPort: PortSchema.optional(),
      grpcPort: PortSchema.nullable().optional(),
      probe: ProbeInputSchema.optional(),
      deploymentStrategy: DeploymentStrategyInputSchema.optional(),
      url: z.never({ error: 'change the image with PUT /v1/app/{id}/image {"url": image}' }).optional(),
      image: z.never({ error: 'change the image with PUT /v1/app/{id}/image {"url": image}' }).optional(),
    },
    { error: requiredOr('the body must be a JSON object like {"defaultHttpPort": 8501}') },
  )
  .superRefine((u, ctx) => {
    if (UPDATABLE.every((k) => u[k] === undefined))
      ctx.addIssue({ code: 'custom', message: `must change at least one of ${UPDATABLE.join(', ')}` });
  });
export type UpdateAppInput = z.infer<typeof UpdateAppInputSchema>;

/** The regional API's form of the same body: `{"appUpdate": {...}, "id"?: app id}`. */
export const UpdateAppEnvelopeSchema = z.strictObject(
  {
    appUpdate: UpdateAppInputSchema,
    id: z.uuid({ error: 'must be the app id (a UUID)' }).optional(),
  },
  { error: requiredOr('the body must be a JSON object') },
);

/** What `PUT /v1/app/{id}` accepts: the update itself, or wrapped as the regional API sends it. */
export const UpdateAppBodySchema = z.union([UpdateAppInputSchema, UpdateAppEnvelopeSchema]);

/** The body of `PUT /v1/app/{id}/image` (reference `AppImageInput`): the new image. */
export const SetImageInputSchema = z.strictObject(
  {
    image: z.never({ error: 'the body is {"url": image}: use url' }).optional(),
    url: ImageReferenceSchema,
  },
  { error: requiredOr('the body must be a JSON object like {"url": "registry.example.com/team/model:1.3"}') },
);
export type SetImageInput = z.infer<typeof SetImageInputSchema>;

/** Whether a `maxSurge`/`maxUnavailable` value means no replica at all. */
function isZero(v: string | undefined): boolean {
  return v !== undefined && /^0+%?$/.test(v);
}

/** The observed status of an app (reference §2.3 `AppStatus`). */
export const AppStatusSchema = z.strictObject({
  state: AppStateSchema,
  availableReplicas: z.int().min(0),
  /**
   * The replica count the app works towards: its fixed count, or — scaling automatically — the
   * autoscaler's current decision (0 while scaled to zero). Absent until the scheduler has said.
   */
  desiredReplicas: z.int().min(0).optional(),
  /** Where the app answers; the same across stop/start. */
  url: z.string(),
  info: InfoSchema,
  history: z.array(HistoryEntrySchema),
  lastTransitionDate: z.string(),
});
export type AppStatus = z.infer<typeof AppStatusSchema>;

/** An app as the API returns it (reference §2.3 `App`, plus its project). */
export const AppSchema = z.strictObject({
  id: z.uuid(),
  projectId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Name of the token that created it. */
  user: z.string(),
  spec: AppSpecSchema,
  status: AppStatusSchema,
});
export type App = z.infer<typeof AppSchema>;

export const AppPageSchema = pageOf(AppSchema);
export type AppPage = z.infer<typeof AppPageSchema>;

/** Path parameter of every `/v1/app/{id}` route. */
export const AppIdSchema = z.uuid({ error: 'must be an app id (a UUID)' });

export const APP_SORT_FIELDS = ['createdAt', 'updatedAt', 'name', 'status.state'] as const;
export type AppSortField = (typeof APP_SORT_FIELDS)[number];

/** Query of `GET /v1/app`. */
export const ListAppsQuerySchema = z.strictObject({
  page: queryInt(1, 1_000_000).default(1),
  size: queryInt(1, 100).default(20),
  sort: queryEnum(APP_SORT_FIELDS).default('createdAt'),
  order: queryEnum(['asc', 'desc']).default('desc'),
  statusState: queryList(
    z.enum(APP_STATES, { error: `must be app states (${APP_STATES.join(', ')})` }),
  ).optional(),
  labelSelector: queryString().regex(LABEL_SELECTOR, 'must be key=value').optional(),
  updatedAfter: queryDate().optional(),
  updatedBefore: queryDate().optional(),
  /** Admin tokens only: list another project's apps. */
  projectId: queryString()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'must be a project id')
    .optional(),
});
export type ListAppsQuery = z.infer<typeof ListAppsQuerySchema>;

/** Query of `DELETE /v1/app/{id}`. */
export const DeleteAppQuerySchema = z.strictObject({ force: queryBool().default(false) });

/** Query of `GET /v1/app/{id}/log`. */
export const AppLogsQuerySchema = z.strictObject({
  tail: queryInt(1, 10_000).optional(),
  replica: queryString()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'must be a replica id')
    .optional(),
  since: queryDate().optional(),
  follow: z.never({ error: 'following logs live is not supported yet: poll with since' }).optional(),
});

/** Answer of `GET /v1/app/{id}/log` (reference §2.3 `Logs`, with replica and stream per line). */
export const LogsSchema = LogQueryResultSchema;
export type Logs = z.infer<typeof LogsSchema>;

/** Query of `GET /v1/app/{id}/event`. */
export const AppEventsQuerySchema = z.strictObject({ limit: queryInt(1, 10_000).optional() });

/** Answer of `GET /v1/app/{id}/event`: the app's event log, oldest first. */
export const AppEventsSchema = z.strictObject({ events: z.array(AppEventSchema) });
export type AppEvents = z.infer<typeof AppEventsSchema>;
