import type {
  App,
  AppEvent,
  AutomaticScaling,
  FlavorOutput,
  Me,
  NodeRecord,
  Quota,
  Registry,
  Token,
  UsageOutput,
} from '@gantry/contracts';

import { formatAge, formatBitRate, formatBytes, formatCpus, formatPairs } from './format.js';
import { type Column, renderFields, renderTable } from './table.js';

/**
 * Human renderings of the API's objects: tables for lists, `label: value` blocks for single
 * objects. Pure functions of the object and the current time.
 */

/** The replica count of a fixed app; undefined for an automatic one (the autoscaler decides it). */
export function fixedReplicas(app: App): number | undefined {
  const s = app.spec.scalingStrategy as App['spec']['scalingStrategy'] | undefined;
  return s && 'fixed' in s ? s.fixed.replicas : undefined;
}

function automaticOf(app: App): AutomaticScaling | undefined {
  const s = app.spec.scalingStrategy as App['spec']['scalingStrategy'] | undefined;
  return s && 'automatic' in s ? s.automatic : undefined;
}

/** The most replicas an app may run: its fixed count, or its automatic maximum. */
export const replicasAtMost = (app: App): number | undefined =>
  fixedReplicas(app) ?? automaticOf(app)?.replicasMax;

/** An automatic strategy in a few words: `auto 0–4, CPU 50 %`, `auto 1–4, custom metric`. */
export function autoSummary(
  a: Pick<AutomaticScaling, 'replicasMin' | 'replicasMax' | 'resourceType' | 'averageUsageTarget'> & {
    customMetrics?: object;
  },
): string {
  const metric = a.customMetrics
    ? 'custom metric'
    : a.resourceType
      ? `${a.resourceType} ${a.averageUsageTarget ?? '-'} %`
      : undefined;
  return `auto ${a.replicasMin}–${a.replicasMax}${metric ? `, ${metric}` : ''}`;
}

/** `app list`'s REPLICAS: `2/3` (available/desired) when fixed, `2 (auto 0–4, CPU 50 %)` when automatic. */
export function replicasCell(app: App): string {
  const auto = automaticOf(app);
  const available = app.status.availableReplicas;
  return auto ? `${available} (${autoSummary(auto)})` : `${available}/${fixedReplicas(app) ?? '-'}`;
}

/**
 * `app get`'s status line: `2 available of 3`, or `2 available (auto 0–4, CPU 50 %)` — an automatic
 * app has no fixed desired count. A running app at zero replicas waits for a request to wake it.
 */
function replicasStatus(app: App): string {
  const auto = automaticOf(app);
  const available = app.status.availableReplicas;
  if (!auto) return `${available} available of ${fixedReplicas(app) ?? '-'}`;
  const asleep = available === 0 && app.status.state === 'RUNNING' && auto.replicasMin === 0;
  return `${available} available (${autoSummary(auto)})${asleep ? '; scaled to zero: the next request wakes it' : ''}`;
}

/** `app get`'s automatic strategy, one setting per line. */
function automaticSpec(a: AutomaticScaling): string {
  const m = a.customMetrics;
  const metric = m
    ? `custom metric: ${m.aggregationType} of ${oneLine(m.valueLocation)} (${m.format}) ` +
      `from ${oneLine(m.apiUrl)}, target ${m.targetValue}`
    : a.resourceType
      ? `${a.resourceType} at ${a.averageUsageTarget ?? '-'} % of the allocation (average of ready replicas)`
      : undefined;
  return [
    `automatic, ${a.replicasMin} to ${a.replicasMax} replicas`,
    ...(metric ? [metric] : []),
    `scale up after ${a.scaleUpStabilizationWindowSeconds} s, down after ${a.scaleDownStabilizationWindowSeconds} s`,
    ...(a.cooldownPeriodSeconds !== undefined
      ? [`to zero after ${a.cooldownPeriodSeconds} s more without load`]
      : []),
  ].join('\n');
}

/** A value from the API on one line: line breaks and other control characters become spaces. */
const oneLine = (v: string): string => v.replace(/[\p{Cc}]/gu, ' ');

export const appColumns = (now: Date): Array<Column<App>> => [
  { header: 'ID', value: (a) => a.id },
  { header: 'NAME', value: (a) => a.spec.name },
  { header: 'IMAGE', value: (a) => a.spec.image },
  { header: 'STATE', value: (a) => a.status.state },
  { header: 'REPLICAS', value: replicasCell },
  { header: 'URL', value: (a) => a.status.url || '-' },
  { header: 'AGE', value: (a) => formatAge(a.createdAt, now) },
];

/** `gantry app list`: ID, NAME, IMAGE, STATE, REPLICAS (see `replicasCell`), URL, AGE. */
export function renderAppList(apps: readonly App[], now: Date): string {
  if (apps.length === 0) return 'No apps found.\n';
  return renderTable(appColumns(now), apps);
}

/** `gantry app get`: the spec and status, then the state history. */
export function renderApp(app: App, now: Date): string {
  const s = app.spec;
  const r = s.resources;
  const resources = r
    ? `${r.units} × ${r.flavor} (${r.type}; per replica: ${formatCpus(r.cpu)} CPU, ${formatBytes(r.memory)} RAM` +
      `${r.gpu ? `, ${r.gpu} GPU${r.gpuModel ? ` ${r.gpuModel}` : ''}` : ''}` +
      `${r.ephemeralStorage ? `, ${formatBytes(r.ephemeralStorage)} disk` : ''})`
    : undefined;
  const d = s.deploymentStrategy;
  const auto = automaticOf(app);
  const head = renderFields([
    ['Id', app.id],
    ['Name', s.name],
    ['Project', app.projectId],
    ['User', app.user],
    ['Created', `${app.createdAt} (${formatAge(app.createdAt, now)} ago)`],
    ['Updated', app.updatedAt],
  ]);
  const spec = renderFields(
    [
      ['Image', s.image],
      ['Command', s.command?.length ? s.command.map(quoteArg).join(' ') : '(image default)'],
      ['Resources', resources],
      ['Replicas', fixedReplicas(app) !== undefined ? `${fixedReplicas(app)} (fixed)` : undefined],
      ['Scaling', auto ? automaticSpec(auto) : undefined],
      ['Default Http Port', String(s.defaultHttpPort)],
      ['Grpc Port', s.grpcPort !== undefined ? String(s.grpcPort) : undefined],
      ['Probe', s.probe ? `GET ${s.probe.path} on port ${s.probe.port}` : undefined],
      ['Unsecure Http', String(s.unsecureHttp)],
      ['Labels', formatPairs(s.labels)],
      ['Env Vars', s.envVars.length ? s.envVars.map((e) => `${e.name}=${e.value}`).join('\n') : '-'],
      [
        'Rolling Update',
        d
          ? `maxSurge ${d.maxSurge}, maxUnavailable ${d.maxUnavailable}, deadline ${d.progressDeadlineSeconds}s`
          : undefined,
      ],
    ],
    '  ',
  );
  const st = app.status;
  const status = renderFields(
    [
      ['State', st.state],
      ['Replicas', replicasStatus(app)],
      ['Url', st.url || '-'],
      ['Info', st.info ? `${st.info.code}: ${st.info.message}` : undefined],
      ['Last Transition', st.lastTransitionDate],
    ],
    '  ',
  );
  const history = st.history?.length
    ? renderTable<{ date: string; state: string }>(
        [
          { header: 'Date', value: (h) => h.date },
          { header: 'State', value: (h) => h.state },
        ],
        st.history,
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => `    ${l}`)
        .join('\n') + '\n'
    : '    -\n';
  return `${head}Spec:\n${spec}Status:\n${status}  History:\n${history}`;
}

/** Quotes a command argument the way a POSIX shell would need it. */
export function quoteArg(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `gantry capabilities flavor list`. */
export function renderFlavors(flavors: readonly FlavorOutput[]): string {
  if (flavors.length === 0) return 'No flavors.\n';
  return renderTable<FlavorOutput>(
    [
      { header: 'ID', value: (f) => f.id },
      { header: 'TYPE', value: (f) => f.type },
      { header: 'DEFAULT', value: (f) => (f.default ? 'yes' : '') },
      { header: 'MAX', value: (f) => String(f.max), right: true },
      { header: 'CPU/UNIT', value: (f) => formatCpus(f.resourcesPerUnit.cpu), right: true },
      { header: 'MEMORY/UNIT', value: (f) => formatBytes(f.resourcesPerUnit.memory), right: true },
      { header: 'DISK/UNIT', value: (f) => formatBytes(f.resourcesPerUnit.ephemeralStorage), right: true },
      { header: 'NETWORK/UNIT', value: (f) => formatBitRate(f.resourcesPerUnit.publicNetwork), right: true },
      {
        header: 'GPU',
        value: (f) =>
          f.gpuInformation
            ? `${f.gpuInformation.gpuBrand} ${f.gpuInformation.gpuModel} ${formatBytes(f.gpuInformation.gpuMemory)}`
            : '-',
      },
      { header: 'PRICE', value: (f) => `${f.price.unitPrice} ${f.price.currency}/unit-hour` },
      { header: 'DESCRIPTION', value: (f) => f.description },
    ],
    flavors,
  );
}

/** `gantry capabilities flavor get ID`. */
export function renderFlavor(f: FlavorOutput): string {
  return renderFields([
    ['Id', f.id],
    ['Type', f.type],
    ['Default', String(f.default)],
    ['Description', f.description],
    ['Max Units', String(f.max)],
    ['CPU per Unit', formatCpus(f.resourcesPerUnit.cpu)],
    ['Memory per Unit', formatBytes(f.resourcesPerUnit.memory)],
    ['Disk per Unit', formatBytes(f.resourcesPerUnit.ephemeralStorage)],
    ['Network per Unit', formatBitRate(f.resourcesPerUnit.publicNetwork)],
    [
      'GPU',
      f.gpuInformation
        ? `${f.gpuInformation.gpuBrand} ${f.gpuInformation.gpuModel} (${formatBytes(f.gpuInformation.gpuMemory)})`
        : undefined,
    ],
    ['Price', `${f.price.unitPrice} ${f.price.currency} per unit-hour`],
  ]);
}

/** `gantry me`. */
export function renderMe(me: Me): string {
  const q = me.quotas;
  return renderFields([
    ['Name', me.name],
    ['Token Id', me.tokenId],
    ['Role', me.role],
    ['Label Selector', me.labelSelector ?? '- (all apps of the project)'],
    ['Project', `${me.project.name} (${me.project.id})`],
    ...(q ? quotaFields(q, ' Quota') : []),
  ]);
}

/** One line per quota of a project: what is in use of each limit. */
export function quotaFields(q: Quota, suffix = ''): Array<[string, string]> {
  return [
    [`CPU${suffix}`, `${q.inUse.CPU} in use of ${q.resources.CPU}`],
    [`GPU${suffix}`, `${q.inUse.GPU} in use of ${q.resources.GPU}`],
    [`Memory${suffix}`, `${formatBytes(q.inUse.memory)} in use of ${formatBytes(q.resources.memory)}`],
    [`Apps${suffix}`, `${q.inUse.apps} of ${q.resources.apps}`],
    [`Tokens${suffix}`, `${q.inUse.tokens} of ${q.resources.tokens}`],
  ];
}

export const tokenColumns = (now: Date): Array<Column<Token>> => [
  { header: 'ID', value: (t) => t.id },
  { header: 'NAME', value: (t) => t.spec.name },
  { header: 'ROLE', value: (t) => t.spec.role },
  { header: 'LABEL SELECTOR', value: (t) => t.spec.labelSelector ?? '-' },
  { header: 'PROJECT', value: (t) => t.spec.projectId },
  { header: 'VERSION', value: (t) => String(t.status.version), right: true },
  { header: 'AGE', value: (t) => formatAge(t.createdAt, now) },
];

/** `gantry token list`. */
export function renderTokens(tokens: readonly Token[], now: Date): string {
  if (tokens.length === 0) return 'No tokens found.\n';
  return renderTable(tokenColumns(now), tokens);
}

/** `gantry token get|create|renew`: the token, and its secret when the API just issued one. */
export function renderToken(t: Token): string {
  const fields = renderFields([
    ['Id', t.id],
    ['Name', t.spec.name],
    ['Role', t.spec.role],
    ['Label Selector', t.spec.labelSelector ?? '- (all apps of the project)'],
    ['Project', t.spec.projectId],
    ['Version', String(t.status.version)],
    ['Created', t.createdAt],
  ]);
  if (!t.status.value) return fields;
  return (
    fields +
    `\nSecret (shown only this once, store it now):\n${t.status.value}\n` +
    `\nUse it with: gantry login --token <secret>   or   GANTRY_TOKEN=<secret> gantry …\n`
  );
}

export const registryColumns = (now: Date): Array<Column<Registry>> => [
  { header: 'ID', value: (r) => r.id },
  { header: 'URL', value: (r) => r.url },
  { header: 'USERNAME', value: (r) => r.username },
  { header: 'PROJECT', value: (r) => r.projectId },
  { header: 'USER', value: (r) => r.user },
  { header: 'AGE', value: (r) => formatAge(r.createdAt, now) },
];

/** `gantry registry list`: never a password (the API never returns one). */
export function renderRegistries(registries: readonly Registry[], now: Date): string {
  if (registries.length === 0) return 'No registries found.\n';
  return renderTable(registryColumns(now), registries);
}

/** `gantry registry get|add|update`. */
export function renderRegistry(r: Registry, now: Date): string {
  return renderFields([
    ['Id', r.id],
    ['Url', r.url],
    ['Username', r.username],
    ['Password', '(stored encrypted, never shown)'],
    ['Region', r.region],
    ['Project', r.projectId],
    ['User', r.user],
    ['Created', `${r.createdAt} (${formatAge(r.createdAt, now)} ago)`],
    ['Updated', r.updatedAt],
  ]);
}

/** `gantry app events ID`. */
export function renderEvents(events: readonly AppEvent[]): string {
  if (events.length === 0) return 'No events.\n';
  return renderTable<AppEvent>(
    [
      { header: 'TIME', value: (e) => e.at },
      { header: 'SOURCE', value: (e) => e.source },
      { header: 'TYPE', value: (e) => e.type },
      { header: 'REASON', value: (e) => e.reason },
      { header: 'REPLICA', value: (e) => e.replicaId ?? '-' },
      { header: 'NODE', value: (e) => e.nodeId ?? '-' },
      { header: 'MESSAGE', value: (e) => e.message },
    ],
    events,
  );
}

const ratio = (used: number, total: number, fmt: (n: number) => string = String) =>
  `${fmt(used)}/${fmt(total)}`;

/** `gantry node list`. */
export function renderNodes(nodes: readonly NodeRecord[], now: Date): string {
  if (nodes.length === 0) return 'No nodes.\n';
  return renderTable<NodeRecord>(
    [
      { header: 'ID', value: (n) => n.id },
      { header: 'STATE', value: (n) => n.state },
      { header: 'ADDRESS', value: (n) => n.address },
      { header: 'CPU', value: (n) => ratio(n.allocated.cpus, n.capacity.cpus, formatCpus) },
      {
        header: 'MEMORY',
        value: (n) => `${formatBytes(n.allocated.memory)}/${formatBytes(n.capacity.memory)}`,
      },
      {
        header: 'GPU',
        value: (n) => `${ratio(n.allocated.gpus, n.capacity.gpus)}${n.simulatedGpus ? ' (sim)' : ''}`,
      },
      { header: 'REPLICAS', value: (n) => String(n.replicas.length), right: true },
      { header: 'LABELS', value: (n) => formatPairs(n.labels, ',') },
      { header: 'HEARTBEAT', value: (n) => `${formatAge(n.lastHeartbeatAt, now)} ago` },
    ],
    nodes,
  );
}

/** `gantry node get ID`. */
export function renderNode(n: NodeRecord, now: Date): string {
  const head = renderFields([
    ['Id', n.id],
    ['State', n.state],
    ['Schedulable', String(n.schedulable)],
    ['Draining', String(n.draining)],
    ['Address', n.address],
    ['Labels', formatPairs(n.labels)],
    ['Last Heartbeat', `${n.lastHeartbeatAt} (${formatAge(n.lastHeartbeatAt, now)} ago)`],
    ['CPU', `${formatCpus(n.allocated.cpus)} allocated of ${formatCpus(n.capacity.cpus)}`],
    ['Memory', `${formatBytes(n.allocated.memory)} allocated of ${formatBytes(n.capacity.memory)}`],
    ['GPU', `${n.allocated.gpus} allocated of ${n.capacity.gpus}${n.simulatedGpus ? ' (simulated)' : ''}`],
  ]);
  const gpus = n.gpus.length
    ? renderTable(
        [
          { header: 'INDEX', value: (g: NodeRecord['gpus'][number]) => String(g.index) },
          { header: 'MODEL', value: (g) => g.model },
          { header: 'MEMORY', value: (g) => formatBytes(g.memory) },
          { header: 'APP', value: (g) => g.appId ?? '-' },
          { header: 'REPLICA', value: (g) => g.replicaId ?? '-' },
        ],
        n.gpus,
      )
    : '-\n';
  const replicas = n.replicas.length
    ? renderTable(
        [
          { header: 'REPLICA', value: (r: NodeRecord['replicas'][number]) => r.replicaId },
          { header: 'APP', value: (r) => r.appId },
          { header: 'PHASE', value: (r) => r.phase },
          { header: 'UNITS', value: (r) => String(r.units), right: true },
        ],
        n.replicas,
      )
    : '-\n';
  return `${head}GPUs:\n${indent(gpus)}Replicas:\n${indent(replicas)}`;
}

function indent(block: string, by = '  '): string {
  return block
    .split('\n')
    .filter(Boolean)
    .map((l) => by + l)
    .join('\n')
    .concat('\n');
}

type UsageRunOut = UsageOutput['runs'][number];

/** `gantry billing usage`: one row per run, then the totals per currency. */
export function renderUsage(u: UsageOutput): string {
  const scope = renderFields([
    ['As Of', u.asOf],
    ['Project', u.projectId],
    ['App', u.appId],
    ['From', u.from],
    ['To', u.to],
  ]);
  const runs = u.runs.length
    ? renderTable<UsageRunOut>(
        [
          { header: 'APP', value: (r) => r.appId },
          { header: 'RUN', value: (r) => r.runId },
          { header: 'FLAVOR', value: (r) => r.flavor },
          { header: 'START', value: (r) => r.start },
          { header: 'END', value: (r) => r.end ?? '(running)' },
          { header: 'MINUTES', value: (r) => String(r.minutes), right: true },
          { header: 'UNIT-MINUTES', value: (r) => String(r.unitMinutes), right: true },
          { header: 'PRICE', value: (r) => `${r.unitPrice}/unit-hour` },
          { header: 'CHARGE', value: (r) => `${r.charge} ${r.currency}`, right: true },
        ],
        u.runs,
      )
    : 'No usage in this period.\n';
  const totals = u.totals.length
    ? u.totals
        .map((t) => `Total: ${t.charge} ${t.currency} (${t.minutes} min, ${t.unitMinutes} unit-min)`)
        .join('\n') + '\n'
    : 'Total: 0\n';
  return `${scope}\n${runs}\n${totals}`;
}
