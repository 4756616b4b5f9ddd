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
 * credentials because they could not be looked up.
 */
export function describePullFailure(image: string, failure: PullFailure, lookup: CredentialLookup): string {
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
  const base = `image "${image}" does not exist locally and could not be pulled: ${failure.message}`;
  return lookup.outcome === 'failed'
    ? `${base} (it was pulled without credentials: those of registry ${registry} could not be looked up: ${lookup.why})`
    : base;
}
