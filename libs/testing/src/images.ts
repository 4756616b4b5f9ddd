import { readFileSync } from 'node:fs';

import type Docker from 'dockerode';
import { pack } from 'tar-stream';

/** Debian's busybox-static: the only binary in every test image. */
export const BUSYBOX_PATH = process.env['GANTRY_BUSYBOX'] ?? '/bin/busybox';

export interface TestImageSpec {
  /** Files to add, path → content; scripts under /www/cgi-bin are executable. */
  files?: Record<string, string>;
  cmd: string[];
  expose?: number[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
}

/**
 * Builds `tag` FROM scratch with busybox and the given files — no registry, no pull. The image runs as
 * any user (files are world-readable, scripts world-executable), including Gantry's 42420:42420.
 */
export async function buildTestImage(docker: Docker, tag: string, spec: TestImageSpec): Promise<void> {
  const tar = pack();
  const lines = ['FROM scratch', 'COPY rootfs/ /', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]'];
  for (const [k, v] of Object.entries(spec.env ?? {})) lines.push(`ENV ${k}=${JSON.stringify(v)}`);
  for (const [k, v] of Object.entries(spec.labels ?? {}))
    lines.push(`LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`);
  for (const port of spec.expose ?? []) lines.push(`EXPOSE ${port}`);
  lines.push(`CMD ${JSON.stringify(spec.cmd)}`);
  tar.entry({ name: 'Dockerfile' }, lines.join('\n') + '\n');
  tar.entry({ name: 'rootfs/bin/busybox', mode: 0o755 }, readFileSync(BUSYBOX_PATH));
  tar.entry({ name: 'rootfs/tmp', type: 'directory', mode: 0o1777 });
  for (const [path, content] of Object.entries(spec.files ?? {})) {
    const executable = path.includes('/cgi-bin/') || path.endsWith('.sh');
    tar.entry({ name: `rootfs${path}`, mode: executable ? 0o755 : 0o644 }, content);
  }
  tar.finalize();
  const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
    t: tag,
    rm: true,
    forcerm: true,
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
      const failed = output?.find((o) => o.error);
      if (err || failed) reject(err ?? new Error(`building ${tag} failed: ${failed?.error}`));
      else resolve();
    });
  });
}

/**
 * A small web app: `busybox httpd` on `port`, printing a start line on stdout and each request's URL on
 * stderr. `/` answers "hello from <name>"; `/cgi-bin/env` prints its environment; `/cgi-bin/whoami`
 * prints `id`; `/cgi-bin/status?N` answers with status N; `/cgi-bin/burn?N` keeps a CPU busy for N
 * shell loop turns (default 200000, a few hundred ms); `/cgi-bin/metrics` is a Prometheus text page
 * whose `queue_depth` gauge is the app's `QUEUE_DEPTH` env var (default 0).
 */
export function webAppSpec(name: string, port = 8080): TestImageSpec {
  // CGI headers must end in CRLF: busybox passes them through verbatim and strict HTTP clients reject bare LF.
  const cgi = (body: string, status = '200 OK') =>
    `#!/bin/sh\nprintf 'Status: %s\\r\\nContent-Type: text/plain\\r\\n\\r\\n' "${status}"\n${body}\n`;
  return {
    files: {
      '/www/index.html': `hello from ${name}\n`,
      '/www/cgi-bin/env': cgi('env | sort'),
      '/www/cgi-bin/whoami': cgi('id'),
      '/www/cgi-bin/status': cgi('echo "status ${QUERY_STRING:-200}"', '${QUERY_STRING:-200} Custom'),
      '/www/cgi-bin/hostname': cgi('hostname'),
      '/www/cgi-bin/burn': cgi(
        'n=$(echo "${QUERY_STRING:-200000}" | tr -cd 0-9); i=0; while [ "$i" -lt "${n:-0}" ]; do i=$((i+1)); done; echo "burned $i"',
      ),
      '/www/cgi-bin/metrics': cgi(
        `echo '# TYPE queue_depth gauge'; echo 'queue_depth{queue="jobs"}' "\${QUEUE_DEPTH:-0}"`,
      ),
    },
    cmd: ['/bin/sh', '-c', `echo "${name} listening on ${port}"; exec httpd -f -vv -p ${port} -h /www`],
    expose: [port],
  };
}

/** An app that writes to both streams and exits with `code` before it ever listens. */
export function crashingAppSpec(code = 3): TestImageSpec {
  return {
    cmd: ['/bin/sh', '-c', `echo "starting up"; echo "fatal: cannot load model weights" >&2; exit ${code}`],
    expose: [8080],
  };
}

export async function removeImage(docker: Docker, tag: string): Promise<void> {
  await docker
    .getImage(tag)
    .remove({ force: true })
    .catch(() => undefined);
}
