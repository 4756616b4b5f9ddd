import {
  imageRegistry,
  normalizeRegistryUrl,
  type RegistryAuthResult,
  registryHost,
} from '@gantry/contracts';

import type { DriverErrorKind, RegistryCredentials } from '../driver/driver.js';

/** Credentials as the control plane answers them for an image (see `query.registry-auth.v1`). */
export type StoredCredentials = NonNullable<RegistryAuthResult['auth']>;

/** What the lookup of an image's registry credentials gave, as far as messages need it: never the password. */
export type CredentialLookup =
  /** The stored credentials of registry `url` (as stored) apply, for user `username`. */
  | { outcome: 'found'; url: string; username: string }
  /** No stored registry covers the image. */
  | { outcome: 'none' }
  /** They could not be looked up, for the reason `why`. */
  | { outcome: 'failed'; why: string };

/** How to pull an image: with `auth`, or anonymously; and what the lookup gave. */
export interface PullCredentials {
  auth?: RegistryCredentials;
  lookup: CredentialLookup;
}

/**
 * What to pull `image` with, given the control plane's answer (`stored`, or the `error` of a lookup
 * that failed). Credentials go only to the registry the image comes from: an answer naming another
 * registry counts as a failed lookup, so that one registry's password never reaches another.
 */
export function pullCredentials(
  image: string,
  answer: { stored: StoredCredentials | undefined } | { error: string },
): PullCredentials {
  if ('error' in answer) return { lookup: { outcome: 'failed', why: answer.error } };
  const stored = answer.stored;
  if (!stored) return { lookup: { outcome: 'none' } };
  const registry = imageRegistry(image);
  const server = registryHost(normalizeRegistryUrl(stored.serverAddress));
  if (server !== registry)
    return {
      lookup: {
        outcome: 'failed',
        why: `the answer holds credentials for registry ${stored.serverAddress}, not for ${registry} where the image comes from`,
      },
    };
  return {
    auth: { serverAddress: stored.serverAddress, username: stored.username, password: stored.password },
    lookup: { outcome: 'found', url: stored.url, username: stored.username },
  };
}

/** A failed pull: the driver's error kind (if it was a DriverError) and message. */
export interface PullFailure {
  kind?: DriverErrorKind;
  message: string;
}

/**
 * The replica's failure message for a pull that failed: a registry's refusal to authenticate names
 * the registry host and what to do (register credentials, correct them, or retry when they could not
 * be looked up); any other failure gives the engine's words, and says when the pull went without
 * credentials because they could not be looked up. `again`: the image is present locally, and the
 * pull was its check (see `imageStep`).
 */
export function describePullFailure(
  image: string,
  failure: PullFailure,
  lookup: CredentialLookup,
  again = false,
): string {
  const registry = imageRegistry(image);
  const said = `; the engine said: ${failure.message}`;
  const add = `add them with gantry registry add ${registry} (or POST /v1/registry)`;
  if (failure.kind === 'unauthorized') {
    const head = `image "${image}" could not be pulled: registry ${registry}`;
    // Docker Hub answers a missing repository and a private one alike ("pull access denied for …,
    // repository does not exist or may require 'docker login'").
    const maybeMissing = /does not exist|not found/i.test(failure.message);
    switch (lookup.outcome) {
      case 'found':
        return (
          `${head} refused the credentials of registry ${lookup.url} (user ${lookup.username})` +
          `${maybeMissing ? ', or the repository does not exist' : ''}: check the user name, the password ` +
          `and that this user may pull the repository, then correct them with gantry registry update ` +
          `<registry-id> (or PUT /v1/registry/{id})${said}`
        );
      case 'none':
        return maybeMissing
          ? `${head} denied access: the repository does not exist, or it is private and the registry needs credentials: ${add}${said}`
          : `${head} needs credentials: ${add}${said}`;
      case 'failed':
        return (
          `${head} needs credentials, and those stored for it could not be looked up (${lookup.why}): ` +
          `retry later; if none are stored, ${add}${said}`
        );
    }
  }
  const base = again
    ? `image "${image}" is private: it runs only once pulled again with the project's credentials, ` +
      `and that pull failed: ${failure.message}`
    : `image "${image}" does not exist locally and could not be pulled: ${failure.message}`;
  return lookup.outcome === 'failed'
    ? `${base} (it was pulled without credentials: those of registry ${registry} could not be looked up: ${lookup.why})`
    : base;
}

/**
 * What to do with a replica's image before its container is created, given the local image (if
 * present) and `privateRegistry`: the agent's memory of the images it pulled with credentials (by
 * image id: so a digest, another tag or the id itself naming the same local image are caught too),
 * which gives the registry such an image came from (undefined: not known to be private).
 *
 * - `pull`: absent, so pulled (with the project's credentials, if it has any).
 * - `repull`: present, but a pull with credentials brought it: it is pulled again with the asking
 *   project's credentials (or anonymously if it has none), and runs only if that pull succeeds. This
 *   is what keeps one project's private image, cached on the node, from running for another project
 *   that may not pull it: the registry decides, as it does for an absent image. The pull is cheap
 *   when the image is up to date (the engine fetches its manifest only); it is made with
 *   `PullOptions.verify`, since the engine would answer a reference by digest from its own store.
 *   The memory is by image id: a local image that is the same image under another name (one an
 *   operator built or tagged by hand) is pulled again under that name too, and fails if that name is
 *   in no registry: the agent cannot tell such a name from one that exposes the private image.
 * - `use`: present and not known to be private (public, or built locally and in no registry): it
 *   runs as it is, without any pull or lookup, so that the common path neither costs a registry round
 *   trip nor depends on the control plane answering.
 *
 * Not covered: an image pulled with credentials before this memory existed (by an older agent, or by
 * hand with `docker login`), or whose memory was lost with an unreadable checkpoint, is not known to
 * be private and runs as `use`. Removing such an image from the node (docker image rm) closes it.
 */
export type ImageStep<I> =
  { kind: 'pull' } | { kind: 'repull'; registry: string } | { kind: 'use'; image: I };

export function imageStep<I extends { id: string }>(
  local: I | undefined,
  privateRegistry: (imageId: string) => string | undefined,
): ImageStep<I> {
  if (!local) return { kind: 'pull' };
  const registry = privateRegistry(local.id);
  return registry === undefined ? { kind: 'use', image: local } : { kind: 'repull', registry };
}

/**
 * The replica's failure message when its image is present but private (pulled from `registry` with
 * credentials) and the credentials to pull it again could not be looked up: it does not run
 * unchecked, and a later attempt may succeed.
 */
export function describeUncheckedPrivateImage(image: string, registry: string, why: string): string {
  return (
    `image "${image}" is private (it was pulled from registry ${registry} with credentials): it runs only ` +
    `once pulled again with the project's credentials, and those could not be looked up (${why}): ` +
    'retry later'
  );
}
