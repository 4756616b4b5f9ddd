import { type CustomMetrics, REPLICA_SCRAPE_MAX_BYTES } from '@gantry/contracts';
import { errorMessage } from '@gantry/errors';
import type { MessageBus } from '@gantry/messaging';

import { autoscalerMetrics } from './metrics.js';
import { type Extracted, extractValue, type MetricFormat } from './model/extract.js';
import { APP_KEY, metricSource, type PollResult, type ReadyReplica } from './model/readings.js';

const ACCEPT: Record<MetricFormat, string> = {
  JSON: 'application/json',
  YAML: 'application/yaml, text/yaml, text/plain',
  XML: 'application/xml, text/xml',
  PROMETHEUS: 'text/plain; version=0.0.4',
};

/** Error texts from elsewhere (a node, the network) are cut to this in a problem. */
const MAX_ERROR = 300;

const fail = (error: string): Extracted => ({ ok: false, error: error.slice(0, MAX_ERROR) });

/** An app's custom metric and the replicas it is read on. */
export interface PollTarget {
  appId: string;
  metric: CustomMetrics;
  ready: readonly ReadyReplica[];
}

/**
 * Polls custom metrics and keeps each app's latest results: a `<SELF>` URL is asked of every ready
 * replica through its node agent (`query.replica-scrape.v1` addressed to the node, which alone
 * reaches its replicas' containers); any other URL is fetched from here. Every answer is bounded in
 * time and size, and whatever it is becomes a number or an error — never a throw.
 */
export class CustomMetricPoller {
  private readonly results = new Map<string, Map<string, PollResult>>();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly bus: MessageBus,
    private readonly timeoutMs: number,
  ) {}

  /** The app's latest results, by replica id (or APP_KEY for a plain URL). */
  resultsOf(appId: string): ReadonlyMap<string, PollResult> {
    return this.results.get(appId) ?? new Map();
  }

  forget(appId: string): void {
    this.results.delete(appId);
  }

  /** Starts one poll of the app, unless its last one is still going. Resolves once it is stored. */
  async poll(target: PollTarget): Promise<void> {
    if (this.inFlight.has(target.appId)) return;
    const source = metricSource(target.metric.apiUrl);
    if ('invalid' in source) return; // the reading says so; nothing to ask
    this.inFlight.add(target.appId);
    try {
      const { format, valueLocation } = target.metric;
      const polled: Array<[string, Extracted]> = source.self
        ? await Promise.all(
            target.ready.map(async (r): Promise<[string, Extracted]> => [
              r.replicaId,
              await this.scrape(r, source.port, source.path, format, valueLocation),
            ]),
          )
        : [[APP_KEY, await this.fetchUrl(source.url, format, valueLocation)]];
      const at = Date.now();
      for (const [, r] of polled) autoscalerMetrics.polls.inc({ outcome: r.ok ? 'ok' : 'error' });
      this.results.set(target.appId, new Map(polled.map(([key, result]) => [key, { at, result }])));
    } finally {
      this.inFlight.delete(target.appId);
    }
  }

  private async scrape(
    r: ReadyReplica,
    port: number,
    path: string,
    format: MetricFormat,
    location: string,
  ): Promise<Extracted> {
    let answer;
    try {
      answer = await this.bus.request(
        'query.replica-scrape.v1',
        { replicaId: r.replicaId, port, path, timeoutMs: this.timeoutMs },
        // The node's own deadline first, then the way back.
        this.timeoutMs + 1_000,
        r.nodeId,
      );
    } catch (error) {
      return fail(`no answer through node ${r.nodeId}: ${errorMessage(error)}`);
    }
    if (answer.status < 200 || answer.status > 299) return fail(`HTTP ${answer.status}`);
    return extractValue(format, answer.body, location);
  }

  private async fetchUrl(url: string, format: MetricFormat, location: string): Promise<Extracted> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      // No redirects: the URL the user gave is the one polled.
      const res = await fetch(url, {
        signal: abort.signal,
        redirect: 'error',
        headers: { accept: ACCEPT[format] },
      });
      if (!res.ok) {
        await res.body?.cancel();
        return fail(`HTTP ${res.status}`);
      }
      const body = await readCapped(res, REPLICA_SCRAPE_MAX_BYTES);
      if (body === undefined) return fail(`answer over ${REPLICA_SCRAPE_MAX_BYTES / 1024} KiB`);
      return extractValue(format, body, location);
    } catch (error) {
      if (abort.signal.aborted) return fail(`no answer within ${this.timeoutMs} ms`);
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      return fail(`unreachable: ${String(cause?.code ?? cause?.message ?? errorMessage(error))}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The body as text, or undefined when it is over `max` bytes (read no further than that). */
async function readCapped(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
