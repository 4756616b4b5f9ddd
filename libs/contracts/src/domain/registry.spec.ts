import { describe, expect, it } from '@jest/globals';

import {
  imageRegistry,
  normalizeRegistryUrl,
  qualifiedRepository,
  registryFor,
  registryHost,
} from './registry.js';

describe('registries', () => {
  it.each([
    ['nginx', 'docker.io', 'docker.io/library/nginx'],
    ['nginx:1.27', 'docker.io', 'docker.io/library/nginx'],
    ['user/repo:tag', 'docker.io', 'docker.io/user/repo'],
    ['docker.io/user/repo', 'docker.io', 'docker.io/user/repo'],
    ['index.docker.io/user/repo:1', 'docker.io', 'docker.io/user/repo'],
    ['registry-1.docker.io/library/nginx', 'docker.io', 'docker.io/library/nginx'],
    ['ghcr.io/team/model:2', 'ghcr.io', 'ghcr.io/team/model'],
    ['Registry.Example.com/team/model', 'registry.example.com', 'registry.example.com/team/model'],
    ['127.0.0.1:5000/private/web:1', '127.0.0.1:5000', '127.0.0.1:5000/private/web'],
    ['localhost/web', 'localhost', 'localhost/web'],
    // A capital in the first component makes it a host, as Docker reads it: never Docker Hub.
    ['Evil/x:1', 'evil', 'evil/x'],
    ['localhost:5000/web:1@sha256:' + 'a'.repeat(64), 'localhost:5000', 'localhost:5000/web'],
    [
      'harbor.example.com/project/sub/model@sha256:' + 'b'.repeat(64),
      'harbor.example.com',
      'harbor.example.com/project/sub/model',
    ],
  ])('%s comes from %s (%s)', (image, registry, repository) => {
    expect(imageRegistry(image)).toBe(registry);
    expect(qualifiedRepository(image)).toBe(repository);
  });

  it.each([
    ['https://Registry.Example.com/', 'registry.example.com'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['  harbor.example.com/team-a//  ', 'harbor.example.com/team-a'],
    ['index.docker.io', 'docker.io'],
    ['https://registry-1.docker.io/myuser', 'docker.io/myuser'],
    ['ghcr.io', 'ghcr.io'],
  ])('stores %j as %s', (url, stored) => {
    expect(normalizeRegistryUrl(url)).toBe(stored);
  });

  it('picks the most specific registry that covers the image, and none that does not', () => {
    const regs = [
      { url: 'harbor.example.com', id: 'host' },
      { url: 'harbor.example.com/team-a', id: 'team-a' },
      { url: 'harbor.example.com/team', id: 'team' },
      { url: 'docker.io/me', id: 'hub' },
      { url: '127.0.0.1:5000', id: 'local' },
    ];
    expect(registryFor('harbor.example.com/team-a/model:1', regs)?.id).toBe('team-a');
    expect(registryFor('harbor.example.com/team/model:1', regs)?.id).toBe('team');
    // A path prefix must end at a component: team-b is not under team.
    expect(registryFor('harbor.example.com/team-b/model:1', regs)?.id).toBe('host');
    expect(registryFor('me/private:1', regs)?.id).toBe('hub');
    expect(registryFor('nginx', regs)).toBeUndefined();
    expect(registryFor('127.0.0.1:5000/web:1', regs)?.id).toBe('local');
    expect(registryFor('127.0.0.1:5001/web:1', regs)).toBeUndefined();
    expect(registryFor('ghcr.io/x/y', [])).toBeUndefined();
    // Docker Hub credentials never go to a host spelled like a Docker Hub user.
    expect(registryFor('Me/private:1', regs)).toBeUndefined();
  });

  it('authenticates against the host of a stored address', () => {
    expect(registryHost('harbor.example.com/team-a')).toBe('harbor.example.com');
    expect(registryHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});
