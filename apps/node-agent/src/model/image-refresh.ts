import { qualifiedRepository } from '@gantry/contracts';

/**
 * Whether a replica asks the registry for the current digest of its image's tag before it runs the
 * node's copy (`ReplicaAssignment.refreshImage`: the replica starts a run of its app, and "push the
 * same tag, then stop/start" is how an app is updated):
 *
 * - `ask`: the image is named by tag, and the node's copy came from that repository of a registry
 *   (it has a RepoDigest there), so the registry can say whether the tag moved.
 * - `skip`: not asked to; named by digest (it cannot move); or the copy has no digest of that
 *   repository (built on the node, or tagged by hand), so no registry knows it and it runs as it is.
 */
export type RefreshCheck = { kind: 'ask' } | { kind: 'skip'; why: string };

export function refreshCheck(
  image: string,
  local: { repoDigests: readonly string[] },
  refreshImage: boolean | undefined,
): RefreshCheck {
  if (!refreshImage) return { kind: 'skip', why: 'not asked to' };
  if (image.includes('@')) return { kind: 'skip', why: 'it is named by digest' };
  if (digestsOf(image, local.repoDigests).length === 0)
    return { kind: 'skip', why: 'the local image came from no registry (it has no digest there)' };
  return { kind: 'ask' };
}

/** True when the registry's digest for the tag is none the node's copy has: the tag moved, pull it. */
export function tagMoved(
  image: string,
  local: { repoDigests: readonly string[] },
  registryDigest: string,
): boolean {
  return !digestsOf(image, local.repoDigests).includes(registryDigest);
}

/** The digests (`sha256:…`) the local image has in `image`'s repository, from its RepoDigests. */
export function digestsOf(image: string, repoDigests: readonly string[]): string[] {
  const repository = qualifiedRepository(image);
  return repoDigests.flatMap((d) => {
    const at = d.lastIndexOf('@');
    return at > 0 && qualifiedRepository(d.slice(0, at)) === repository ? [d.slice(at + 1)] : [];
  });
}
