import { Writable } from 'node:stream';

import type Docker from 'dockerode';

import { unixStamp } from '../../model/lines.js';
import type { LogFrame, StreamName } from '../driver.js';
import { statusOf, toDriverError } from './errors.js';

/** Frames buffered before the engine's stream is paused (the consumer is slower than the container). */
const HIGH_WATER = 1000;
const LOW_WATER = 100;

/**
 * Splits Docker's multiplexed output held in one buffer (8-byte header: stream, 0, 0, 0, size) into
 * frames. A buffer that is not multiplexed (a TTY container) is one stdout frame.
 */
export function demuxBuffer(buf: Buffer): LogFrame[] {
  const frames: LogFrame[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const type = buf[at];
    const size = buf.readUInt32BE(at + 4);
    if ((type !== 1 && type !== 2) || at + 8 + size > buf.length) {
      if (at === 0) return [{ stream: 'stdout', data: buf }];
      break;
    }
    frames.push({ stream: type === 2 ? 'stderr' : 'stdout', data: buf.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return frames;
}

/** A container's output: followed live (demultiplexed by docker-modem) or its tail. */
export class DockerLogs {
  constructor(private readonly docker: Docker) {}

  async *follow(id: string, opts: { since?: string; signal: AbortSignal }): AsyncGenerator<LogFrame> {
    const since = opts.since ? unixStamp(opts.since) : undefined;
    let source: NodeJS.ReadableStream;
    try {
      source = await this.docker.getContainer(id).logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        ...(since ? { since } : {}),
        abortSignal: opts.signal,
      });
    } catch (error) {
      if (opts.signal.aborted || statusOf(error) === 404) return;
      throw toDriverError(error, 'following the logs');
    }
    const queue: LogFrame[] = [];
    let ended = false;
    let paused = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const sink = (stream: StreamName): Writable =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          queue.push({ stream, data: chunk });
          if (!paused && queue.length >= HIGH_WATER) {
            paused = true;
            source.pause();
          }
          notify();
          done();
        },
      });
    const finish = (): void => {
      ended = true;
      notify();
    };
    source.on('end', finish);
    source.on('close', finish);
    source.on('error', finish);
    const onAbort = (): void => {
      (source as unknown as { destroy?: () => void }).destroy?.();
      finish();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    this.docker.modem.demuxStream(source, sink('stdout'), sink('stderr'));
    try {
      for (;;) {
        const frame = queue.shift();
        if (frame) {
          if (paused && queue.length <= LOW_WATER) {
            paused = false;
            source.resume();
          }
          yield frame;
        } else if (ended || opts.signal.aborted) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      (source as unknown as { destroy?: () => void }).destroy?.();
    }
  }

  async tail(id: string, lines: number): Promise<LogFrame[]> {
    try {
      const buf = await this.docker.getContainer(id).logs({
        follow: false,
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: lines,
      });
      return demuxBuffer(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw toDriverError(error, 'reading the logs');
    }
  }
}
