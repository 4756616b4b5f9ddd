import { describe, expect, it } from '@jest/globals';

import { digestsOf, refreshCheck, tagMoved } from './image-refresh.js';

const OLD = `sha256:${'a'.repeat(64)}`;
const NEW = `sha256:${'b'.repeat(64)}`;
const pulled = { repoDigests: [`127.0.0.1:5000/team/web@${OLD}`] };
const built = { repoDigests: [] };

describe('refreshCheck', () => {
  it.each<[string, string, { repoDigests: string[] }, boolean | undefined, string]>([
    ['a tag pulled from a registry, asked to', '127.0.0.1:5000/team/web:1', pulled, true, 'ask'],
    ['not asked to (a replica added later)', '127.0.0.1:5000/team/web:1', pulled, undefined, 'not asked to'],
    ['named by digest', `127.0.0.1:5000/team/web@${OLD}`, pulled, true, 'it is named by digest'],
    ['built on the node', 'gantry-test/web:1', built, true, 'the local image came from no registry'],
    [
      'pulled from another repository, tagged by hand',
      'team/web:1',
      { repoDigests: [`ghcr.io/other/web@${OLD}`] },
      true,
      'the local image came from no registry',
    ],
    ['Docker Hub, by its short name', 'busybox:1.36', { repoDigests: [`busybox@${OLD}`] }, true, 'ask'],
  ])('%s', (_what, image, local, refresh, expected) => {
    const check = refreshCheck(image, local, refresh);
    if (expected === 'ask') expect(check).toEqual({ kind: 'ask' });
    else expect(check).toEqual({ kind: 'skip', why: expect.stringContaining(expected) as unknown as string });
  });
});

describe('tagMoved', () => {
  it('is true only when the registry names a digest the local copy does not have', () => {
    expect(tagMoved('127.0.0.1:5000/team/web:1', pulled, OLD)).toBe(false);
    expect(tagMoved('127.0.0.1:5000/team/web:1', pulled, NEW)).toBe(true);
    // The same digest in another repository is not this repository's.
    expect(
      tagMoved('127.0.0.1:5000/team/web:1', { repoDigests: [`127.0.0.1:5000/team/api@${NEW}`] }, NEW),
    ).toBe(true);
    expect(tagMoved('docker.io/library/busybox:1.36', { repoDigests: [`busybox@${NEW}`] }, NEW)).toBe(false);
  });

  it('reads digests of the repository only, whatever name it was pulled by', () => {
    expect(
      digestsOf('nginx:1', [
        `nginx@${OLD}`,
        `docker.io/library/nginx@${NEW}`,
        `ghcr.io/x/nginx@${NEW}`,
        'garbage',
      ]),
    ).toEqual([OLD, NEW]);
  });
});
