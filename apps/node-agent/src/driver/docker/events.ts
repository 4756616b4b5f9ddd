import type Docker from 'dockerode';

import { retryDelay } from '../../model/backoff.js';
import { LABELS } from '../../model/ownership.js';
import type { Owner, RuntimeEvent } from '../driver.js';

const ACTIONS = ['start', 'die', 'destroy', 'oom'] as const;
type Action = (typeof ACTIONS)[number];

/** Parses one line of Docker's event stream; undefined for anything else. */
export function parseEvent(line: string): RuntimeEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const e = raw as {
    Type?: unknown;
    Action?: unknown;
    Actor?: { ID?: unknown; Attributes?: Record<string, unknown> };
  };
  if (e.Type !== 'container' || typeof e.Action !== 'string' || typeof e.Actor?.ID !== 'string')
    return undefined;
  const action = e.Action as Action;
  if (!ACTIONS.includes(action)) return undefined;
  const code = Number(e.Actor.Attributes?.['exitCode']);
  return {
    type: action,
    containerId: e.Actor.ID,
    ...(action === 'die' && Number.isInteger(code) ? { exitCode: code } : {}),
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** The engine's event stream for one owner's containers, reconnected until aborted. */
export class DockerEvents {
  constructor(
    private readonly docker: Docker,
    private readonly onError: (message: string) => void,
  ) {}

  watch(owner: Owner, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): void {
    void this.loop(owner, onEvent, signal);
  }

  private async loop(owner: Owner, onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const stream = await this.docker.getEvents({
          filters: {
            type: ['container'],
            event: [...ACTIONS],
            label: [`${LABELS.namespace}=${owner.namespace}`, `${LABELS.node}=${owner.nodeId}`],
          },
          abortSignal: signal,
        } as Docker.GetEventsOptions);
        attempt = 0;
        safe(onEvent, { type: 'connected' });
        await new Promise<void>((resolve) => {
          let pending = '';
          stream.on('data', (chunk: Buffer | string) => {
            pending += chunk.toString();
            let at: number;
            while ((at = pending.indexOf('\n')) >= 0) {
              const event = parseEvent(pending.slice(0, at));
              pending = pending.slice(at + 1);
              if (event) safe(onEvent, event);
            }
            if (pending.length > 1_000_000) pending = '';
          });
          stream.on('end', () => resolve());
          stream.on('close', () => resolve());
          stream.on('error', () => resolve());
        });
      } catch (error) {
        if (!signal.aborted) this.onError(`Docker events: ${(error as Error).message}`);
      }
      if (!signal.aborted) await sleep(retryDelay(attempt++, 500, 10_000), signal);
    }
  }
}

function safe(onEvent: (e: RuntimeEvent) => void, e: RuntimeEvent): void {
  try {
    onEvent(e);
  } catch {
    // a handler's failure is not the stream's
  }
}
