import { randomUUID } from 'node:crypto';

import type { IngressTraffic, NodeUsage, ScalingEntry } from '@gantry/contracts';
import { errorMessage } from '@gantry/errors';
import { type KvWatch, MessageBus } from '@gantry/messaging';
import { Readiness } from '@gantry/runtime';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { CustomMetricPoller } from './custom-metrics.js';
import { autoscalerMetrics } from './metrics.js';
import { AppScaler, type Publication } from './model/app-scaler.js';
import { customReading, metricSource, type Reading, resourceReading } from './model/readings.js';
import { UsageSamples } from './model/usage.js';

export const AUTOSCALER_OPTIONS = Symbol('AUTOSCALER_OPTIONS');

export interface AutoscalerOptions {
  intervalMs: number;
  metricWindowMs: number;
  metricsIntervalMs: number;
  metricsTimeoutMs: number;
  readyGraceMs: number;
}

/**
 * The autoscaler's I/O around the pure `AppScaler`s: it follows KV `scaling` (one scaler per
 * automatic app asked to run; a deleted key forgets the app), keeps the node agents' usage samples
 * and the custom metrics' latest polls, decides every `intervalMs`, decides a wake on the traffic
 * report itself, and publishes each new decision on `app.scale.v1`. One instance: two would each
 * publish their decisions.
 */
@Injectable()
export class Autoscaler implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(Autoscaler.name);
  private readonly apps = new Map<string, AppScaler>();
  private readonly usage: UsageSamples;
  private readonly poller: CustomMetricPoller;
  private watch: KvWatch | undefined;
  private loaded = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly bus: MessageBus,
    private readonly readiness: Readiness,
    @Inject(AUTOSCALER_OPTIONS) private readonly opts: AutoscalerOptions,
  ) {
    this.usage = new UsageSamples(opts.metricWindowMs);
    this.poller = new CustomMetricPoller(bus, opts.metricsTimeoutMs);
  }

  async onModuleInit(): Promise<void> {
    this.readiness.register('scaling', () => this.loaded || 'scaling snapshot not loaded yet');
    this.readiness.register('nats', () => this.bus.isConnected() || 'NATS connection down');
    const kv = await this.bus.kv('scaling');
    this.watch = await kv.watch((key, value) => this.onEntry(key, value), {
      onInvalid: (key, error) => {
        autoscalerMetrics.invalidEntries.inc();
        this.log.warn(
          `ignored invalid scaling entry ${JSON.stringify(key.slice(0, 200))}: ${errorMessage(error)}`,
        );
      },
    });
    void this.watch.ready.then(() => {
      this.loaded = true;
      this.log.log(`scaling snapshot loaded: ${this.apps.size} apps`);
    });
    this.timers.push(
      setInterval(() => this.tick(Date.now()), this.opts.intervalMs),
      setInterval(() => this.pollCustomMetrics(), this.opts.metricsIntervalMs),
    );
  }

  onApplicationShutdown(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.watch?.stop();
  }

  /** A node agent's usage report: kept for the apps followed, stamped with its arrival. */
  onUsage(report: NodeUsage): void {
    const now = Date.now();
    for (const r of report.replicas) {
      const app = this.apps.get(r.appId);
      if (app?.scaling.automatic.resourceType)
        this.usage.add(r.replicaId, r.appId, { at: now, cpu: r.cpu, memory: r.memory });
    }
  }

  /** An ingress's traffic report: an app at 0 replicas with requests wakes now. */
  onTraffic(report: IngressTraffic): void {
    const now = Date.now();
    for (const t of report.apps) {
      const app = this.apps.get(t.appId);
      if (!app || (t.requests === 0 && t.held === 0)) continue;
      this.guard(app, () => app.traffic(t, this.reading(app, now), now));
    }
  }

  /** One decision per app on its metric as read now. */
  tick(now: number): void {
    this.usage.prune(now, (appId) => !this.apps.has(appId));
    for (const app of this.apps.values()) this.guard(app, () => app.tick(this.reading(app, now), now));
  }

  private onEntry(key: string, value: ScalingEntry | null): void {
    if (value === null) {
      this.apps.delete(key);
      this.poller.forget(key);
    } else if (value.appId !== key) {
      autoscalerMetrics.invalidEntries.inc();
      this.log.warn(
        `ignored scaling entry ${JSON.stringify(key.slice(0, 200))}: appId ${value.appId} differs from its key`,
      );
      return;
    } else {
      const app = this.apps.get(key);
      if (app) app.update(value, Date.now());
      else this.apps.set(key, new AppScaler(value, Date.now()));
    }
    autoscalerMetrics.apps.set(this.apps.size);
  }

  private reading(app: AppScaler, now: number): Reading {
    const entry = app.scaling;
    const a = entry.automatic;
    if (a.customMetrics)
      return customReading(
        { ...a, customMetrics: a.customMetrics },
        metricSource(a.customMetrics.apiUrl),
        app.ready(),
        this.poller.resultsOf(app.appId),
        {
          now,
          graceMs: this.opts.readyGraceMs,
          // A poll a little late is still good (a round is skipped while the last one still waits
          // for its answers); one older than that means polls stopped answering.
          maxAgeMs: 2 * this.opts.metricsIntervalMs + this.opts.metricsTimeoutMs + 1_000,
        },
      );
    return resourceReading(
      entry,
      app.ready(),
      (replicaId) => this.usage.since(replicaId, app.appId, now - this.opts.metricWindowMs),
      { now, windowMs: this.opts.metricWindowMs, graceMs: this.opts.readyGraceMs },
    );
  }

  /** Runs one app's decision; a failure is logged and stays with that app. */
  private guard(app: AppScaler, decide: () => Publication | undefined): void {
    let p: Publication | undefined;
    try {
      p = decide();
    } catch (error) {
      this.log.error(`deciding on app ${app.appId} failed: ${errorMessage(error)}`);
      return;
    }
    if (p) void this.publish(app, p);
  }

  private async publish(app: AppScaler, p: Publication): Promise<void> {
    try {
      await this.bus.publish('app.scale.v1', {
        id: randomUUID(),
        appId: p.appId,
        at: new Date().toISOString(),
        desiredVersion: p.desiredVersion,
        replicas: p.replicas,
        message: p.message,
        ...(p.problem !== undefined ? { problem: p.problem } : {}),
      });
    } catch (error) {
      app.failed(p);
      autoscalerMetrics.publishFailures.inc();
      this.log.warn(`could not publish the decision on app ${p.appId}: ${errorMessage(error)}`);
      return;
    }
    const direction =
      p.problem !== undefined || p.replicas === p.from ? 'hold' : p.replicas > p.from ? 'up' : 'down';
    autoscalerMetrics.decisions.inc({ direction });
    if (p.problem !== undefined) {
      const a = app.scaling.automatic;
      autoscalerMetrics.metricErrors.inc({
        source: a.customMetrics ? 'custom' : (a.resourceType ?? 'cpu').toLowerCase(),
      });
    }
    this.log.log(`app ${p.appId}: ${p.message}`);
  }

  private pollCustomMetrics(): void {
    for (const app of this.apps.values()) {
      const metric = app.scaling.automatic.customMetrics;
      if (!metric) continue;
      this.poller.poll({ appId: app.appId, metric, ready: app.ready() }).catch((error: unknown) => {
        this.log.error(`polling the custom metric of app ${app.appId} failed: ${errorMessage(error)}`);
      });
    }
  }
}
