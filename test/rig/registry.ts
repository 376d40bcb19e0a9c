// Local OCI registries for the rig: Debian's `docker-registry` on a free 127.0.0.1 port, either open or
// behind htpasswd (user `oauth2accesstoken`, like gcr.io and Artifact Registry, or any user: a private registry
// outside Google Cloud, whose password a registry secret holds). The registry re-reads
// its htpasswd file when it changes, so `setToken` rotates the one accepted token: a pull with an
// older token is refused, as with an expired access token.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, run, waitFor } from './proc.js';
import type { TokenServer } from './token-server.js';

export const TOKEN_USER = 'oauth2accesstoken';

export interface Registry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Makes `token` the only password accepted for its user (TOKEN_USER unless started with another; token registries only). */
  setToken(token: string): Promise<void>;
  /** Pushes `<tag>` of an OCI layout to `<repo>:<tag>` (`--all` keeps multi-platform indexes). */
  push(layoutDir: string, tag: string, repo: string): Promise<void>;
  /** The requests served so far, from the access log (registries started with `accessLog` only). */
  requests(): RegistryRequest[];
  stop(): Promise<void>;
}

/** One line of the registry's access log (Apache combined format). */
export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
  /** Bytes of the response body. */
  bytes: number;
}

const ACCESS_LINE = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-)/;

/** The blob downloads among `requests`: `GET /v2/<repo>/blobs/<digest>` answered 200. */
export function blobGets(requests: readonly RegistryRequest[]): { digest: string; bytes: number }[] {
  return requests
    .filter((r) => r.method === 'GET' && r.status === 200)
    .map((r) => ({ m: /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(r.path), bytes: r.bytes }))
    .filter((r) => r.m !== null)
    .map((r) => ({ digest: r.m![1]!, bytes: r.bytes }));
}

async function bcryptEntry(user: string, token: string): Promise<string> {
  // -i reads the password from stdin: the token never appears on a command line.
  const { stdout } = await run('htpasswd', ['-niB', user], { input: `${token}\n` });
  return stdout.trim();
}

/**
 * `withToken`: the password of `user` (htpasswd, Basic on /v2). `tokenAuth`: Docker's token authentication instead,
 * against that token service (test/rig/token-server.ts), which holds the users; `withToken` is then the password
 * pushes use.
 */
export async function startRegistry(
  dir: string,
  opts: { withToken?: string; user?: string; accessLog?: boolean; tokenAuth?: TokenServer } = {},
): Promise<Registry> {
  const user = opts.user ?? TOKEN_USER;
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const htpasswd = join(dir, 'htpasswd');
  const writeHtpasswd = async (token: string) => {
    writeFileSync(`${htpasswd}.tmp`, `${await bcryptEntry(user, token)}\n`);
    renameSync(`${htpasswd}.tmp`, htpasswd);
  };
  if (opts.withToken !== undefined && !opts.tokenAuth) await writeHtpasswd(opts.withToken);
  const t = opts.tokenAuth;
  const config = [
    'version: 0.1',
    `log: {level: error, accesslog: {disabled: ${opts.accessLog ? 'false' : 'true'}}}`,
    `storage: {filesystem: {rootdirectory: ${JSON.stringify(join(dir, 'data'))}}, delete: {enabled: true}}`,
    `http: {addr: "${host}", secret: rig-secret}`,
    ...(t
      ? [
          `auth: {token: {realm: ${JSON.stringify(t.realm)}, service: ${t.service}, issuer: ${t.issuer}, rootcertbundle: ${JSON.stringify(t.certFile)}}}`,
        ]
      : opts.withToken !== undefined
        ? [`auth: {htpasswd: {realm: gdib-rig, path: ${JSON.stringify(htpasswd)}}}`]
        : []),
  ].join('\n');
  writeFileSync(join(dir, 'config.yml'), `${config}\n`);
  // The access log goes to stdout, one line a request.
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', opts.accessLog ? 'pipe' : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const served: RegistryRequest[] = [];
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = ACCESS_LINE.exec(line);
      if (m) served.push({ method: m[1]!, path: m[2]!, status: Number(m[3]), bytes: m[4] === '-' ? 0 : Number(m[4]) });
    }
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`docker-registry exited: ${stderr}`);
      const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
      return res !== undefined && (res.status === 200 || res.status === 401);
    },
    15_000,
    `registry on ${host}`,
  );
  let currentToken = opts.withToken;

  return {
    host,
    async setToken(token) {
      if (opts.withToken === undefined || t) throw new Error('this registry takes no token');
      await writeHtpasswd(token);
      currentToken = token;
    },
    async push(layoutDir, tag, repo) {
      const args = ['copy', '--quiet', '--all', '--dest-tls-verify=false', '--insecure-policy'];
      if (currentToken !== undefined) args.push('--dest-creds', `${user}:${currentToken}`);
      await run('skopeo', [...args, `oci:${layoutDir}:${tag}`, `docker://${host}/${repo}:${tag}`]);
    },
    requests() {
      if (!opts.accessLog) throw new Error('this registry keeps no access log (start it with accessLog)');
      return [...served];
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}
