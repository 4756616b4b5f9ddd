import type Docker from 'dockerode';

import {
  DriverError,
  type DriverErrorKind,
  type ImageInfo,
  type PullOptions,
  type RegistryCredentials,
  type RegistryDigestOptions,
} from '../driver.js';
import { engineMessage, isRegistryAuthFailure, statusOf, toDriverError } from './errors.js';

/** What a failed pull's status (if any) and message say: a registry's refusal to authenticate, a missing image, or else. */
function pullFailureKind(
  status: number | undefined,
  message: string,
  otherwise: DriverErrorKind,
): DriverErrorKind {
  if (isRegistryAuthFailure(status, message)) return 'unauthorized';
  return status === 404 ? 'not-found' : otherwise;
}

/** RepoDigests kept of one image: far more than any image has, so that a hostile engine costs little. */
const MAX_REPO_DIGESTS = 64;
/** A content digest as registries give them (`sha256:<64 hex>`, or another algorithm's). */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,128}$/;

/** The engine's form of registry credentials (its X-Registry-Auth header). */
function authconfigOf(
  auth: RegistryCredentials | undefined,
): { username: string; password: string; serveraddress: string } | undefined {
  return auth
    ? { username: auth.username, password: auth.password, serveraddress: auth.serverAddress }
    : undefined;
}

/** Images: what is present locally, and pulling what is not. */
export class DockerImages {
  constructor(private readonly docker: Docker) {}

  async inspect(ref: string): Promise<ImageInfo | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      const digests = Array.isArray(info.RepoDigests) ? info.RepoDigests : [];
      return {
        id: info.Id,
        architecture: info.Architecture,
        os: info.Os,
        repoDigests: digests.filter((d): d is string => typeof d === 'string').slice(0, MAX_REPO_DIGESTS),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toDriverError(error, `inspecting image ${ref}`);
    }
  }

  /**
   * Pulls `ref` (with `auth`, sent to the engine in its X-Registry-Auth header only), failing with
   * the registry's error (reported in the progress stream or as the engine's HTTP error) or on timeout.
   */
  async pull(ref: string, opts: PullOptions): Promise<void> {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const authconfig = authconfigOf(opts.auth);
    try {
      // The engine does not ask the registry about a digest it holds (see PullOptions.verify).
      if (opts.verify && ref.includes('@')) await this.askRegistry(ref, authconfig, signal);
      const stream = (await this.docker.pull(ref, {
        abortSignal: signal,
        ...(authconfig ? { authconfig } : {}),
      })) as NodeJS.ReadableStream;
      let pending = '';
      let failure: { message: string; code?: number } | undefined;
      const consume = (text: string): void => {
        let at: number;
        pending += text;
        while ((at = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, at).trim();
          pending = pending.slice(at + 1);
          if (!line) continue;
          try {
            const event = JSON.parse(line) as {
              error?: unknown;
              errorDetail?: { message?: unknown; code?: unknown };
            };
            const message = event.errorDetail?.message ?? event.error;
            const code = event.errorDetail?.code;
            if (message !== undefined)
              failure ??= { message: String(message), ...(typeof code === 'number' ? { code } : {}) };
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
          if (failure)
            reject(
              new DriverError(pullFailureKind(failure.code, failure.message, 'not-found'), failure.message),
            );
          else resolve();
        });
      });
    } catch (error) {
      if (error instanceof DriverError) throw error;
      if (signal.aborted && timeout.aborted)
        throw new DriverError('timeout', `pulling ${ref} took longer than ${opts.timeoutMs} ms`);
      // The engine's words, without docker-modem's "(HTTP code 500) server error - " before them.
      const message = engineMessage(error).replace(/^\(HTTP code \d+\) [^-]*- /, '');
      throw new DriverError(pullFailureKind(statusOf(error), message, 'unknown'), message, { cause: error });
    }
  }

  /**
   * The digest the registry gives `ref` now (see `ContainerDriver.registryDigest`); rejects with a
   * DriverError: 'unauthorized' when the registry refuses, 'timeout' after `timeoutMs`, else what the
   * engine's answer says.
   */
  async registryDigest(ref: string, opts: RegistryDigestOptions): Promise<string> {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let digest: unknown;
    try {
      digest = await this.askRegistry(ref, authconfigOf(opts.auth), signal);
    } catch (error) {
      if (timeout.aborted)
        throw new DriverError(
          'timeout',
          `asking the registry about ${ref} took longer than ${opts.timeoutMs} ms`,
        );
      const message = engineMessage(error).replace(/^\(HTTP code \d+\) [^-]*- /, '');
      throw new DriverError(pullFailureKind(statusOf(error), message, 'unavailable'), message, {
        cause: error,
      });
    }
    if (typeof digest !== 'string' || !DIGEST.test(digest))
      throw new DriverError('unknown', `the engine gave no digest for ${ref}`);
    return digest;
  }

  /**
   * Asks the registry for `ref`'s manifest with `authconfig` (the engine's GET /distribution/{ref}/json,
   * which never answers from the engine's store) and returns its digest as the engine gives it;
   * rejects as a pull does when the registry refuses.
   */
  private async askRegistry(
    ref: string,
    authconfig: { username: string; password: string; serveraddress: string } | undefined,
    signal: AbortSignal,
  ): Promise<unknown> {
    // dockerode does not hand the signal on for this call: the answer is raced against it.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const answer = await Promise.race([
        this.docker.getImage(ref).distribution(authconfig ? { authconfig } : {}),
        aborted,
      ]);
      return (answer as { Descriptor?: { digest?: unknown } } | undefined)?.Descriptor?.digest;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }
}
