import type { App, AppEvents, AppPage, Logs } from '@gantry/contracts';
import type { Command } from 'commander';

import { ApiError, arg, CliError, collect, examples, handler, type Io, type Run } from '../context.js';
import {
  type AppRunOptions,
  buildCreateAppBody,
  buildScalingBody,
  METRIC_AGGREGATIONS,
  METRIC_FORMATS,
  RESOURCE_TYPES,
  type ScalingOptions,
} from '../model/app-run.js';
import {
  type AppUpdateOptions,
  buildUpdateBody,
  checkUpdateOptions,
  collectEnvName,
  editsEnv,
  splitCommand,
} from '../model/app-update.js';
import {
  collectKeyValue,
  parseChoice,
  parseDecimal,
  parseLabelEdit,
  parsePort,
  parseSelector,
  parseWholeNumber,
} from '../model/args.js';
import { serialize } from '../model/format.js';
import { formatLogLine, type LogEntry, LogFollower, ReplicaNaming } from '../model/logs.js';
import { RolloutWatch } from '../model/rollout.js';
import { autoSummary, renderApp, renderAppList, renderEvents, replicasAtMost } from '../model/views.js';

const path = (id: string) => `/v1/app/${encodeURIComponent(id)}`;
const whole = (min: number, max: number) => arg((v) => parseWholeNumber(v, min, max));
const choice = <T extends string>(choices: readonly T[]) => arg((v) => parseChoice(v, choices));
/** Numbers whose range the API checks (its 400 names the field): here, only that they parse. */
const anyWhole = whole(0, Number.MAX_SAFE_INTEGER);

/**
 * The scaling flags of `app run` and `app scale` (reference §3.1, with its short aliases): a fixed
 * count, or automatic scaling on CPU/RAM or on a custom metric.
 */
function scalingOptions(cmd: Command): Command {
  return cmd
    .option('--replicas <n>', 'fixed number of replicas (default 1; not with --auto-*)', whole(0, 1000))
    .option(
      '--min-replicas, --auto-min-replicas <n>',
      'automatic scaling: fewest replicas (0 scales to zero: a request wakes the app)',
      anyWhole,
    )
    .option('--max-replicas, --auto-max-replicas <n>', 'automatic scaling: most replicas', anyWhole)
    .option(
      '--resource-type, --auto-resource-type <type>',
      `automatic scaling on ${RESOURCE_TYPES.join(' or ')} (default CPU)`,
      choice(RESOURCE_TYPES),
    )
    .option(
      '--resource-threshold, --auto-resource-usage-threshold <percent>',
      "target average usage, in % of a replica's allocation (default 75)",
      anyWhole,
    )
    .option(
      '--auto-scale-up-stabilization-window-seconds <s>',
      'load above the target this long before adding a replica (default 0)',
      anyWhole,
    )
    .option(
      '--auto-scale-down-stabilization-window-seconds <s>',
      'load below the target this long before removing a replica (default 300)',
      anyWhole,
    )
    .option(
      '--auto-cooldown-period-seconds <s>',
      'with --auto-min-replicas 0: idle time after the scale-down window before going to zero (default 300)',
      anyWhole,
    )
    .option(
      '--auto-custom-api-url <url>',
      'custom metric: the URL to poll; http://<SELF>:PORT/path polls each ready replica',
    )
    .option(
      '--auto-custom-metric-format <format>',
      `custom metric: ${METRIC_FORMATS.join(', ')} (default JSON)`,
      choice(METRIC_FORMATS),
    )
    .option(
      '--auto-custom-value-location <path>',
      'custom metric: where the value is (a dotted path, or a Prometheus series)',
    )
    .option('--auto-custom-target-value <v>', 'custom metric: the target value', arg(parseDecimal))
    .option(
      '--auto-custom-metric-aggregation-type <type>',
      `custom metric: how replicas' values combine, ${METRIC_AGGREGATIONS.join(', ')} (default AVERAGE)`,
      choice(METRIC_AGGREGATIONS),
    );
}

interface WaitOptions {
  wait?: boolean;
  timeout: number;
}

/** `--wait` and `--timeout` of the commands that start a rollout. */
function waitOptions(cmd: Command): Command {
  return cmd
    .option('--wait', 'follow the rollout, one line per change, until it is done (exit 0) or fails (exit 1)')
    .option('--timeout <s>', 'with --wait: give up after this many seconds (exit 1)', whole(1, 86_400), 600);
}

interface ListOptions {
  labelSelector?: string;
  state?: string[];
}

interface LogsOptions {
  tail?: number;
  follow?: boolean;
  replica?: string;
  timestamps?: boolean;
  prefix?: boolean;
  interval: number;
}

/** `gantry app …`: the `ovhai app` commands. */
export function registerApp(program: Command, io: Io, passthrough: readonly string[]): void {
  const app = examples(
    program.command('app').description('apps: one Docker image served as a load-balanced HTTPS endpoint'),
    [
      'gantry app run busybox:1.37 -p 8080 --unsecure-http -l team=a -- httpd -f -p 8080',
      'gantry app list',
      'gantry app logs <app-id> -f',
      'gantry app stop <app-id> && gantry app delete <app-id>',
    ],
  );
  const act = <A extends unknown[]>(fn: (run: Run, ...args: A) => Promise<void>) =>
    handler<A>(io, passthrough, fn);

  examples(
    scalingOptions(
      app
        .command('run')
        .alias('create')
        .argument('<image>', 'Docker image, e.g. registry.example.com/team/model:1.2')
        .usage('[options] <image> [-- command...]')
        .description(
          'create and start an app (POST /v1/app). Everything after -- replaces the command of the image. ' +
            'Without resource options the app gets one unit of the default flavor.',
        )
        .option('-n, --name <name>', 'informative name (generated when absent)')
        .option('-c, --cpu <n>', 'number of CPUs per replica (not with --gpu)', whole(1, 1024))
        .option('-g, --gpu <n>', 'number of GPUs per replica (not with --cpu)', whole(1, 1024))
        .option(
          '-f, --flavor <id>',
          'flavor id (see gantry capabilities flavor list); default flavor otherwise',
        )
        .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect(collectKeyValue))
        .option(
          '-l, --label <KEY=VALUE>',
          'label (repeatable); tokens can be scoped by label',
          collect(collectKeyValue),
        )
        .option(
          '-p, --default-http-port <port>',
          'port routed from the app URL (default 8080)',
          arg(parsePort),
        )
        .option('--grpc-port <port>', 'extra gRPC port', arg(parsePort))
        .option('--unsecure-http', 'serve the URL without authentication (anyone with the URL can call it)')
        .option('--probe-path <path>', 'readiness probe path (default /)')
        .option('--probe-port <port>', 'readiness probe port (default: the HTTP port)', arg(parsePort)),
    ).action(
      act(async (run, image: string, opts: AppRunOptions) => {
        const body = buildCreateAppBody(image, opts, run.passthrough);
        const created = await (await run.client()).post<App>('/v1/app', body);
        run.emit(created, (now) => renderApp(created, now));
      }),
    ),
    [
      'gantry app run nginxinc/nginx-unprivileged:alpine -p 8080 --unsecure-http',
      'gantry app run ghcr.io/acme/model:1.2 --gpu 1 --replicas 2 -e MODEL=small -l team=vision',
      'gantry app run busybox:1.37 -p 8080 -- httpd -f -v -p 8080 -h /www',
      'gantry app run ghcr.io/acme/model:1.2 --auto-min-replicas 1 --auto-max-replicas 4 --auto-resource-type CPU --auto-resource-usage-threshold 50',
      'gantry app run ghcr.io/acme/model:1.2 --auto-min-replicas 0 --auto-max-replicas 2 --auto-cooldown-period-seconds 600',
      'gantry app run busybox:1.37 -o json | jq -r .id',
    ],
  );

  examples(
    app
      .command('list')
      .alias('ls')
      .description(
        'list apps: ID, NAME, IMAGE, STATE, REPLICAS (available/desired, or available and the automatic bounds), URL, AGE',
      )
      .option('-l, --label-selector <key=value>', 'only apps carrying this label', arg(parseSelector))
      .option(
        '--state <states>',
        'only apps in these states (comma-separated or repeated), e.g. RUNNING,SCALING',
        (v: string, prev: string[] = []) => [
          ...prev,
          ...v
            .split(',')
            .map((s) => s.trim().toUpperCase())
            .filter(Boolean),
        ],
      )
      .action(
        act(async (run, opts: ListOptions) => {
          const client = await run.client();
          const apps: App[] = [];
          for (let page = 1; page <= 1000; page++) {
            const res = await client.get<AppPage>('/v1/app', {
              query: { page, size: 100, labelSelector: opts.labelSelector, statusState: opts.state },
            });
            apps.push(...res.items);
            if (res.items.length === 0 || apps.length >= res.total) break;
          }
          run.emit(apps, (now) => renderAppList(apps, now));
        }),
      ),
    [
      'gantry app list',
      'gantry app ls --label-selector team=vision --state RUNNING',
      'gantry app list -o json | jq -r ".[].id"',
    ],
  );

  examples(
    app
      .command('get')
      .argument('<id>', 'app id')
      .description('show an app: its spec, status and state history')
      .action(
        act(async (run, id: string) => {
          const a = await (await run.client()).get<App>(path(id));
          run.emit(a, (now) => renderApp(a, now));
        }),
      ),
    ['gantry app get <app-id>', 'gantry app get <app-id> -o json | jq -r .status.url'],
  );

  examples(
    app
      .command('logs')
      .argument('<id>', 'app id')
      .description(
        "print an app's logs (all replicas, oldest first; each line names its replica when the app has several). " +
          'With -f, keep polling and print new lines until Ctrl-C; ' +
          'with -o json/-o yaml and -f, one line object per line (NDJSON) or per YAML list item.',
      )
      .option('--tail <n>', 'only the last n lines', whole(1, 10_000))
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('--replica <id>', 'only this replica')
      .option('-t, --timestamps', 'prefix each line with its timestamp')
      .option(
        '--prefix',
        'prefix each line with its replica id (the default when the app has several replicas)',
      )
      .option('--no-prefix', 'never prefix lines with their replica id')
      .option('--interval <ms>', 'with -f: how often to poll, in milliseconds', whole(100, 60_000), 1000)
      .action(act((run, id: string, opts: LogsOptions) => logs(run, id, opts))),
    [
      'gantry app logs <app-id>',
      'gantry app logs <app-id> --tail 100 -t',
      'gantry app logs <app-id> -f --no-prefix',
    ],
  );

  for (const [name, describe, verb] of [
    ['start', 'start a stopped app again (same id, same URL)', 'Starting'],
    ['stop', 'stop an app: its replicas are removed and billing stops; the URL is kept', 'Stopping'],
  ] as const) {
    examples(
      app
        .command(name)
        .argument('<id>', 'app id')
        .description(describe)
        .action(
          act(async (run, id: string) => {
            await (await run.client()).put(`${path(id)}/${name}`);
            run.emit({ id, action: name, accepted: true }, () => `${verb} app ${id}.\n`);
          }),
        ),
      [`gantry app ${name} <app-id>`],
    );
  }

  examples(
    app
      .command('delete')
      .alias('rm')
      .argument('<id>', 'app id')
      .description('delete an app; a running app must be stopped first, or use --force')
      .option('--force', 'stop the app first if it is running')
      .action(
        act(async (run, id: string, opts: { force?: boolean }) => {
          const client = await run.client();
          try {
            await client.delete(path(id), { query: { force: opts.force ? true : undefined } });
          } catch (e) {
            throw opts.force ? e : (deleteRefusal(e, id) ?? e);
          }
          run.emit({ id, action: 'delete', accepted: true }, () => `Deleting app ${id}.\n`);
        }),
      ),
    ['gantry app delete <app-id>', 'gantry app delete <app-id> --force'],
  );

  examples(
    scalingOptions(
      app
        .command('scale')
        .argument('<id>', 'app id')
        .description(
          'change the scaling strategy: a fixed number of replicas (--replicas) or automatic scaling ' +
            '(--auto-*, as on app run); a running app switches without interruption',
        ),
    ).action(
      act(async (run, id: string, opts: ScalingOptions) => {
        const body = buildScalingBody(opts);
        const res = await (await run.client()).put<unknown>(`${path(id)}/scalingstrategy`, body);
        emitUpdate(
          run,
          id,
          res,
          'fixed' in body
            ? `Scaling app ${id} to ${body.fixed.replicas} replica${body.fixed.replicas === 1 ? '' : 's'}.`
            : `Scaling app ${id} automatically (${autoSummary(body.automatic)}).`,
        );
      }),
    ),
    [
      'gantry app scale <app-id> --replicas 3',
      'gantry app scale <app-id> --auto-min-replicas 1 --auto-max-replicas 4 --auto-resource-usage-threshold 50',
      'gantry app scale <app-id> --auto-min-replicas 0 --auto-max-replicas 3 --auto-custom-api-url http://<SELF>:9100/metrics --auto-custom-metric-format PROMETHEUS --auto-custom-value-location queue_depth --auto-custom-target-value 10',
    ],
  );

  examples(
    waitOptions(
      app
        .command('set-image')
        .argument('<id>', 'app id')
        .argument('<image>', 'the new Docker image')
        .description('change the image: a rolling update on a running app, the next start on a stopped one'),
    ).action(
      act(async (run, id: string, image: string, opts: WaitOptions) => {
        const client = await run.client();
        const before = opts.wait ? await client.get<App>(path(id)) : undefined;
        const res = await client.put<unknown>(`${path(id)}/image`, { url: image });
        const message = `Updating app ${id} to image ${image}.`;
        if (!before) return emitUpdate(run, id, res, message);
        await followRollout(run, id, opts, { before, changed: res, message, done: 'rolled out' });
      }),
    ),
    [
      'gantry app set-image <app-id> registry.example.com/team/model:1.3',
      'gantry app set-image <app-id> registry.example.com/team/model:1.3 --wait --timeout 300',
    ],
  );

  examples(
    waitOptions(
      app
        .command('update')
        .argument('<id>', 'app id')
        .usage('[options] <id> [-- command...]')
        .description(
          'change what the replicas run — environment, command, resources, ports, probe — with a rolling ' +
            'update on a running app (the next start on a stopped one), and whether a failed rollout rolls ' +
            "back by itself. Only the options given change. The API replaces the app's whole list of " +
            'environment variables: --env and --unset-env are applied to the current list, which is sent whole.',
        )
        .option(
          '-e, --env <KEY=VALUE>',
          'set an environment variable, keeping the others (repeatable)',
          collect(collectKeyValue),
        )
        .option('--unset-env <KEY>', 'remove an environment variable (repeatable)', collect(collectEnvName))
        .option(
          '--command <command>',
          "replace the image's command, split into arguments as a shell would (or give them after --)",
          arg(splitCommand),
        )
        .option('--no-command', "give the app the image's own command back")
        .option('-c, --cpu <n>', 'number of CPUs per replica (not with --gpu)', whole(1, 1024))
        .option('-g, --gpu <n>', 'number of GPUs per replica (not with --cpu)', whole(1, 1024))
        .option('-f, --flavor <id>', 'flavor id (see gantry capabilities flavor list)')
        .option('--http-port, --default-http-port <port>', 'port routed from the app URL', arg(parsePort))
        .option('--grpc-port <port>', 'extra gRPC port', arg(parsePort))
        .option('--no-grpc-port', 'remove the gRPC port')
        .option('--probe-path <path>', 'readiness probe path')
        .option('--probe-port <port>', 'readiness probe port', arg(parsePort))
        .option(
          '--auto-rollback',
          'when the new replicas of a rolling update fail, go back to the previous runtime spec by itself',
        )
        .option('--no-auto-rollback', 'leave a failed rolling update as it is (undo it with app rollback)'),
    ).action(
      act(async (run, id: string, opts: AppUpdateOptions & WaitOptions) => {
        checkUpdateOptions(opts, run.passthrough);
        const client = await run.client();
        const before = opts.wait || editsEnv(opts) ? await client.get<App>(path(id)) : undefined;
        const body = buildUpdateBody(opts, run.passthrough, before?.spec?.envVars ?? []);
        const res = await client.put<unknown>(path(id), body);
        const message = `Updating app ${id}.`;
        if (!before || !opts.wait) return emitUpdate(run, id, res, message);
        await followRollout(run, id, opts, { before, changed: res, message, done: 'rolled out' });
      }),
    ),
    [
      'gantry app update <app-id> -e MODEL=large --unset-env DEBUG',
      'gantry app update <app-id> --cpu 2 --http-port 8501 --wait',
      'gantry app update <app-id> --command "python serve.py --port 8080"',
      'gantry app update <app-id> -- python serve.py --port 8080',
      'gantry app update <app-id> --no-command --auto-rollback',
    ],
  );

  examples(
    waitOptions(
      app
        .command('rollback')
        .argument('<id>', 'app id')
        .description(
          'return an app to its previous runtime spec (image, command, environment, resources, ports, ' +
            'probe) with a rolling update; a second rollback undoes the first',
        ),
    ).action(
      act(async (run, id: string, opts: WaitOptions) => {
        const client = await run.client();
        const before = opts.wait ? await client.get<App>(path(id)) : undefined;
        await client.put(`${path(id)}/rollback`);
        const message = `Rolling app ${id} back to its previous runtime spec.`;
        if (!before) return run.emit({ id, action: 'rollback', accepted: true }, () => `${message}\n`);
        await followRollout(run, id, opts, { before, message, done: 'rolled back' });
      }),
    ),
    ['gantry app rollback <app-id>', 'gantry app rollback <app-id> --wait'],
  );

  examples(
    app
      .command('label')
      .argument('<id>', 'app id')
      .argument('<KEY=VALUE|KEY->', 'set a label (KEY=VALUE) or remove it (KEY-)', arg(parseLabelEdit))
      .description('set or remove one label of an app')
      .action(
        act(async (run, id: string, edit: { name: string; value?: string }) => {
          const res = await (await run.client()).put<unknown>(`${path(id)}/label`, edit);
          emitUpdate(
            run,
            id,
            res,
            edit.value === undefined
              ? `Removed label ${edit.name} from app ${id}.`
              : `Set label ${edit.name}=${edit.value} on app ${id}.`,
          );
        }),
      ),
    ['gantry app label <app-id> team=vision', 'gantry app label <app-id> team-'],
  );

  examples(
    app
      .command('events')
      .argument('<id>', 'app id')
      .description(
        "show an app's events, oldest first: state changes, replicas placed, ready, exited, failed",
      )
      .option('--limit <n>', 'only the last n events', whole(1, 10_000))
      .action(
        act(async (run, id: string, opts: { limit?: number }) => {
          const res = await (
            await run.client()
          ).get<AppEvents>(`${path(id)}/event`, { query: { limit: opts.limit } });
          run.emit(res.events, () => renderEvents(res.events));
        }),
      ),
    ['gantry app events <app-id>', 'gantry app events <app-id> --limit 20 -o yaml'],
  );
}

/**
 * The API refuses to delete a running app with a 409 whose message tells curl users to add
 * `?force=true`; on the command line that is `--force`, so say it in the CLI's words. Undefined for
 * every other error (printed as the API wrote it).
 */
function deleteRefusal(e: unknown, id: string): CliError | undefined {
  if (!(e instanceof ApiError) || e.status !== 409 || !/[?&]force=true\b/.test(e.message)) return undefined;
  const details = e.body.details as { state?: unknown } | undefined;
  const state = typeof details?.state === 'string' ? details.state : undefined;
  return new CliError(
    `cannot delete app ${id}: it is ${state ?? 'still running'}`,
    1,
    `stop it first (gantry app stop ${id}), or stop and delete it at once: gantry app delete ${id} --force`,
  );
}

/** Prints the result of an update: the app when the API answers with it, else the message. */
function emitUpdate(run: Run, id: string, res: unknown, message: string): void {
  run.emit(
    isApp(res) ? res : { id, accepted: true, ...(typeof res === 'object' && res !== null ? res : {}) },
    () => `${message}\n`,
  );
}

/** How often `--wait` reads the app. */
const POLL_MS = 500;
/** Failed reads in a row (the API restarting, a network blip) that `--wait` rides out. */
const MAX_READ_FAILURES = 10;

/**
 * `--wait`: reads the app every POLL_MS after a change and prints its rollout's progress, one line
 * per change (on stderr with -o json/yaml, whose stdout is the app at the end), until it is done,
 * fails, or `--timeout` passes. `changed` is the app as the change's answer gave it, if it did.
 */
async function followRollout(
  run: Run,
  id: string,
  opts: WaitOptions,
  change: { before: App; changed?: unknown; message: string; done: string },
): Promise<void> {
  const client = await run.client();
  const table = run.output === 'table';
  const say = (line: string) => (table ? run.io.stdout(`${line}\n`) : run.io.stderr(`${line}\n`));
  const stop = new AbortController();
  const off = run.io.onInterrupt(() => stop.abort());
  const deadline = run.io.now().getTime() + opts.timeout * 1000;
  try {
    say(change.message);
    const read = () => client.get<App>(path(id), { signal: stop.signal, timeoutMs: 10_000 });
    const target = isApp(change.changed) ? change.changed : await read();
    const watch = new RolloutWatch({
      id,
      before: change.before,
      target,
      done: change.done,
      // The api-gateway never rolls a rollback back.
      selfRollback: change.done !== 'rolled back' && target.spec?.deploymentStrategy?.autoRollback === true,
    });
    let last: string | undefined;
    for (let failures = 0; ;) {
      let app: App | undefined;
      try {
        app = await read();
        failures = 0;
      } catch (e) {
        if (stop.signal.aborted || !passing(e) || ++failures >= MAX_READ_FAILURES) throw e;
      }
      if (app) {
        const seen = watch.observe(app);
        if (seen.line !== undefined) say(seen.line);
        last = seen.line ?? last;
        const v = seen.verdict;
        if (v.kind === 'failed') throw new CliError(v.message, 1, v.hint);
        if (v.kind === 'done') return run.emit(app, () => `${v.message}\n`);
      }
      if (run.io.now().getTime() >= deadline)
        throw new CliError(
          `timed out after ${opts.timeout} s waiting for the rollout of app ${id}${last ? ` (last: ${last})` : ''}`,
          1,
          `the rollout goes on without gantry: follow it with gantry app get ${id}`,
        );
      await run.io.sleep(POLL_MS, stop.signal);
    }
  } catch (e) {
    // Ctrl-C aborts the read or the sleep under way.
    if (!stop.signal.aborted) throw e;
  } finally {
    off();
  }
  throw new CliError(
    `stopped waiting; the rollout of app ${id} goes on`,
    130,
    `follow it with gantry app get ${id}`,
  );
}

/** Whether a failed read is worth another try: no connection, or the API failing (5xx). */
const passing = (e: unknown): boolean => e instanceof CliError || (e instanceof ApiError && e.status >= 500);

const isApp = (res: unknown): res is App =>
  typeof res === 'object' && res !== null && 'spec' in res && 'status' in res;

async function logs(run: Run, id: string, opts: LogsOptions): Promise<void> {
  const client = await run.client();
  // How many replicas the app is meant to run decides whether lines name theirs (when not asked);
  // fetched beside the first lines. Without it (an error), the lines alone decide.
  const decide = opts.prefix === undefined && opts.replica === undefined && run.output === 'table';
  const app = decide ? client.get<App>(path(id)).catch(() => undefined) : Promise.resolve(undefined);
  const naming = async () =>
    new ReplicaNaming({
      asked: opts.prefix,
      replica: opts.replica,
      // An automatic app may run up to its maximum: name lines as soon as it may run several.
      desiredReplicas: await app.then((a) => a && replicasAtMost(a)),
    });
  const show = (l: LogEntry, replica: boolean) => formatLogLine(l, { timestamps: opts.timestamps, replica });
  if (!opts.follow) {
    const res = await client.get<Logs>(`${path(id)}/log`, {
      query: { tail: opts.tail, replica: opts.replica },
    });
    const named = (await naming()).accept(res.logs);
    run.emit(res, () => res.logs.map((l) => `${show(l, named)}\n`).join(''));
    return;
  }
  const out = run.output;
  const follower = new LogFollower();
  let names: ReplicaNaming | undefined;
  const stop = new AbortController();
  const off = run.io.onInterrupt(() => stop.abort());
  try {
    for (let first = true; !stop.signal.aborted; first = false) {
      let res: Logs;
      try {
        res = await client.get<Logs>(`${path(id)}/log`, {
          query: {
            tail: first ? opts.tail : 10_000,
            replica: opts.replica,
            since: follower.since,
          },
          signal: stop.signal,
        });
      } catch (e) {
        if (stop.signal.aborted) break;
        throw e;
      }
      names ??= await naming();
      const named = names.accept(res.logs);
      const fresh = follower.accept(res.logs);
      if (fresh.length > 0)
        run.io.stdout(
          fresh
            .map((l) =>
              out === 'table'
                ? `${show(l, named)}\n`
                : out === 'json'
                  ? `${JSON.stringify(l)}\n`
                  : serialize([l], 'yaml'),
            )
            .join(''),
        );
      try {
        await run.io.sleep(opts.interval, stop.signal);
      } catch {
        break;
      }
    }
  } finally {
    off();
  }
}
