import { describe, expect, it } from '@jest/globals';

import {
  describePullFailure,
  describeUncheckedPrivateImage,
  imageStep,
  pullCredentials,
  type StoredCredentials,
} from './registry-auth.js';

const HARBOR: StoredCredentials = {
  url: 'harbor.example.com/team',
  serverAddress: 'harbor.example.com',
  username: 'robot$ci',
  password: 'pw',
};

describe('pullCredentials', () => {
  it('sends stored credentials to the registry the image comes from, and says whose they are', () => {
    expect(pullCredentials('harbor.example.com/team/model:1', { stored: HARBOR })).toEqual({
      auth: { serverAddress: 'harbor.example.com', username: 'robot$ci', password: 'pw' },
      lookup: { outcome: 'found', url: 'harbor.example.com/team', username: 'robot$ci' },
    });
  });

  it.each([
    ['a Docker Hub image, credentials for docker.io', 'user/model:1', 'docker.io'],
    ['an alias of Docker Hub', 'index.docker.io/user/model:1', 'docker.io'],
    [
      'a registry with a port, spelled with a scheme',
      '127.0.0.1:5000/private/web:1',
      'https://127.0.0.1:5000',
    ],
    ['a host in another case', 'Harbor.Example.com/team/model:1', 'harbor.example.com'],
  ])('matches %s', (_what, image, serverAddress) => {
    expect(pullCredentials(image, { stored: { ...HARBOR, serverAddress } }).auth?.serverAddress).toBe(
      serverAddress,
    );
  });

  it('pulls anonymously when none are stored', () => {
    expect(pullCredentials('nginx:1', { stored: undefined })).toEqual({ lookup: { outcome: 'none' } });
  });

  it('pulls anonymously when the lookup failed, keeping why', () => {
    expect(pullCredentials('nginx:1', { error: 'api-gateway is not available' })).toEqual({
      lookup: { outcome: 'failed', why: 'api-gateway is not available' },
    });
  });

  it("never sends one registry's credentials to another", () => {
    const pull = pullCredentials('ghcr.io/team/model:1', { stored: HARBOR });
    expect(pull.auth).toBeUndefined();
    expect(pull.lookup).toEqual({
      outcome: 'failed',
      why: 'the answer holds credentials for registry harbor.example.com, not for ghcr.io where the image comes from',
    });
  });
});

describe('describePullFailure', () => {
  const image = '127.0.0.1:5000/private/web:1';
  const noCredentials = {
    kind: 'unauthorized' as const,
    message: 'Head "http://127.0.0.1:5000/v2/private/web/manifests/1": no basic auth credentials',
  };

  it('tells how to add credentials when none are stored', () => {
    expect(describePullFailure(image, noCredentials, { outcome: 'none' })).toBe(
      'image "127.0.0.1:5000/private/web:1" could not be pulled: registry 127.0.0.1:5000 needs credentials: ' +
        'add them with gantry registry add 127.0.0.1:5000 (or POST /v1/registry); the engine said: ' +
        noCredentials.message,
    );
  });

  it('names the stored credentials the registry refused, and how to correct them', () => {
    const refused = { kind: 'unauthorized' as const, message: 'unauthorized: authentication required' };
    expect(
      describePullFailure(image, refused, { outcome: 'found', url: '127.0.0.1:5000', username: 'ci' }),
    ).toBe(
      'image "127.0.0.1:5000/private/web:1" could not be pulled: registry 127.0.0.1:5000 refused the ' +
        'credentials of registry 127.0.0.1:5000 (user ci): check the user name, the password and that this ' +
        'user may pull the repository, then correct them with gantry registry update <registry-id> ' +
        '(or PUT /v1/registry/{id}); the engine said: unauthorized: authentication required',
    );
  });

  it("keeps Docker Hub's ambiguity: a private repository or a missing one", () => {
    const denied = {
      kind: 'unauthorized' as const,
      message:
        "pull access denied for team/model, repository does not exist or may require 'docker login': " +
        'denied: requested access to the resource is denied',
    };
    expect(describePullFailure('team/model:1', denied, { outcome: 'none' })).toMatch(
      /^image "team\/model:1" could not be pulled: registry docker\.io denied access: the repository does not exist, or it is private and the registry needs credentials: add them with gantry registry add docker\.io /,
    );
    expect(
      describePullFailure('team/model:1', denied, {
        outcome: 'found',
        url: 'docker.io/team',
        username: 'me',
      }),
    ).toContain(
      'registry docker.io refused the credentials of registry docker.io/team (user me), or the repository does not exist: ',
    );
  });

  it('says the credentials could not be looked up, and why, whatever the failure', () => {
    const lookup = { outcome: 'failed' as const, why: 'api-gateway did not answer within 5000 ms' };
    expect(describePullFailure(image, noCredentials, lookup)).toMatch(
      /^image "127\.0\.0\.1:5000\/private\/web:1" could not be pulled: registry 127\.0\.0\.1:5000 needs credentials, and those stored for it could not be looked up \(api-gateway did not answer within 5000 ms\): retry later; if none are stored, add them with gantry registry add 127\.0\.0\.1:5000 /,
    );
    expect(describePullFailure(image, { kind: 'unknown', message: 'connection refused' }, lookup)).toBe(
      'image "127.0.0.1:5000/private/web:1" does not exist locally and could not be pulled: connection refused ' +
        '(it was pulled without credentials: those of registry 127.0.0.1:5000 could not be looked up: ' +
        'api-gateway did not answer within 5000 ms)',
    );
  });

  it("gives other failures in the engine's words, as before", () => {
    const missing = { kind: 'not-found' as const, message: 'manifest unknown' };
    expect(describePullFailure(image, missing, { outcome: 'none' })).toBe(
      'image "127.0.0.1:5000/private/web:1" does not exist locally and could not be pulled: manifest unknown',
    );
    expect(
      describePullFailure(image, { message: 'boom' }, { outcome: 'found', url: 'x', username: 'u' }),
    ).toBe('image "127.0.0.1:5000/private/web:1" does not exist locally and could not be pulled: boom');
  });

  it('says a private image present locally failed its pull again, not that it is missing', () => {
    expect(
      describePullFailure(
        image,
        { kind: 'unknown', message: 'connection refused' },
        { outcome: 'none' },
        true,
      ),
    ).toBe(
      'image "127.0.0.1:5000/private/web:1" is private: it runs only once pulled again with the project\'s ' +
        'credentials, and that pull failed: connection refused',
    );
    // A refusal reads as for an absent image: what the project must do is the same.
    expect(describePullFailure(image, noCredentials, { outcome: 'none' }, true)).toBe(
      describePullFailure(image, noCredentials, { outcome: 'none' }),
    );
  });
});

describe('imageStep', () => {
  const local = { id: 'sha256:abc', architecture: 'amd64', os: 'linux' };
  const remembered = (id: string) => (id === 'sha256:abc' ? '127.0.0.1:5000' : undefined);

  it('pulls an absent image', () => {
    expect(imageStep(undefined, remembered)).toEqual({ kind: 'pull' });
  });

  it('pulls again a present image that a pull with credentials brought', () => {
    expect(imageStep(local, remembered)).toEqual({ kind: 'repull', registry: '127.0.0.1:5000' });
  });

  it('uses a present image not known to be private as it is', () => {
    expect(imageStep({ ...local, id: 'sha256:def' }, remembered)).toEqual({
      kind: 'use',
      image: { ...local, id: 'sha256:def' },
    });
  });
});

describe('describeUncheckedPrivateImage', () => {
  it('says why the private image does not run, and to retry', () => {
    expect(
      describeUncheckedPrivateImage(
        '127.0.0.1:5000/private/web:1',
        '127.0.0.1:5000',
        'api-gateway is not available',
      ),
    ).toBe(
      'image "127.0.0.1:5000/private/web:1" is private (it was pulled from registry 127.0.0.1:5000 with ' +
        "credentials): it runs only once pulled again with the project's credentials, and those could not be " +
        'looked up (api-gateway is not available): retry later',
    );
  });
});
