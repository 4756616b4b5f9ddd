/**
 * Which registry an image comes from, and which stored registry's credentials apply to it. The
 * gateway normalizes what users register with the same rules the lookup uses, so that
 * `https://Registry.example.com/team/` and an image `registry.example.com/team/model:1` meet.
 */

/** Docker Hub's names: `docker pull user/repo` means `docker.io/user/repo`. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
export const DOCKER_HUB_HOST = 'docker.io';

/**
 * Whether an image reference's first component names a registry host, by Docker's rule
 * (distribution/reference): it has a `.` or a `:`, is `localhost`, or has a capital letter (a
 * repository path never does). `Evil/x` is pulled from the host `evil`, not from Docker Hub.
 */
const namesHost = (first: string): boolean =>
  first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();

/** The registry host (`host[:port]`, lowercase) an image reference is pulled from. */
export function imageRegistry(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB_HOST;
  const first = image.slice(0, slash);
  if (!namesHost(first)) return DOCKER_HUB_HOST;
  const host = first.toLowerCase();
  return DOCKER_HUB.has(host) ? DOCKER_HUB_HOST : host;
}

/**
 * The image's repository with its registry spelled out, without tag or digest:
 * `nginx:1` → `docker.io/library/nginx`, `ghcr.io/team/model:2` → `ghcr.io/team/model`.
 */
export function qualifiedRepository(image: string): string {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const explicit = slash >= 0 && namesHost(first);
  let path = explicit ? name.slice(slash + 1) : name;
  // Without its registry, a reference has a colon only before its tag.
  const colon = path.lastIndexOf(':');
  if (colon >= 0) path = path.slice(0, colon);
  const registry = imageRegistry(image);
  if (registry === DOCKER_HUB_HOST && !path.includes('/')) path = `library/${path}`;
  return `${registry}/${path}`;
}

/**
 * A registry address as stored: no scheme, no trailing slash, host in lowercase, Docker Hub as
 * `docker.io`; a path (a Harbor project, a user's namespace) is kept and narrows what it applies to.
 */
export function normalizeRegistryUrl(url: string): string {
  const bare = url
    .trim()
    .replace(/^https?:\/\//i, '')
    .replace(/\/+$/, '');
  const slash = bare.indexOf('/');
  const host = (slash < 0 ? bare : bare.slice(0, slash)).toLowerCase();
  const path = slash < 0 ? '' : bare.slice(slash);
  return `${DOCKER_HUB.has(host) ? DOCKER_HUB_HOST : host}${path}`;
}

/** The host part of a stored registry address: what Docker authenticates against. */
export const registryHost = (url: string): string => {
  const slash = url.indexOf('/');
  return slash < 0 ? url : url.slice(0, slash);
};

/**
 * Of stored registry addresses (normalized), the one whose credentials pull `image`: the most
 * specific that covers it (its host, or its host and a path prefix of the repository).
 */
export function registryFor<T extends { url: string }>(
  image: string,
  registries: readonly T[],
): T | undefined {
  const repo = qualifiedRepository(image);
  let best: T | undefined;
  for (const r of registries)
    if ((repo.startsWith(`${r.url}/`) || repo === r.url) && (!best || r.url.length > best.url.length))
      best = r;
  return best;
}
