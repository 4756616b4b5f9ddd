import type Docker from 'dockerode';

import { DriverError, type ImageInfo } from '../driver.js';
import { engineMessage, statusOf, toDriverError } from './errors.js';

/** Images: what is present locally, and pulling what is not. */
export class DockerImages {
  constructor(private readonly docker: Docker) {}

  async inspect(ref: string): Promise<ImageInfo | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { id: info.Id, architecture: info.Architecture, os: info.Os };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toDriverError(error, `inspecting image ${ref}`);
    }
  }

  /** Pulls `ref`, failing with the registry's error (reported in the progress stream) or on timeout. */
  async pull(ref: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const stream = (await this.docker.pull(ref, { abortSignal: signal })) as NodeJS.ReadableStream;
      let pending = '';
      let failure: string | undefined;
      const consume = (text: string): void => {
        let at: number;
        pending += text;
        while ((at = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, at).trim();
          pending = pending.slice(at + 1);
          if (!line) continue;
          try {
            const event = JSON.parse(line) as { error?: unknown; errorDetail?: { message?: unknown } };
            const message = event.errorDetail?.message ?? event.error;
            if (message !== undefined) failure ??= String(message);
          } catch {
            // not JSON: progress noise
          }
        }
        if (pending.length > 65_536) pending = '';
      };
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          reject(new DriverError('timeout', `pulling ${ref} took longer than ${opts.timeoutMs} ms`));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (chunk: Buffer | string) => consume(chunk.toString()));
        stream.on('error', (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(toDriverError(error, `pulling ${ref}`));
        });
        stream.on('end', () => {
          signal.removeEventListener('abort', onAbort);
          consume('\n');
          if (failure) reject(new DriverError('not-found', failure));
          else resolve();
        });
      });
    } catch (error) {
      if (error instanceof DriverError) throw error;
      if (signal.aborted && timeout.aborted)
        throw new DriverError('timeout', `pulling ${ref} took longer than ${opts.timeoutMs} ms`);
      throw new DriverError(statusOf(error) === 404 ? 'not-found' : 'unknown', engineMessage(error), {
        cause: error,
      });
    }
  }
}
