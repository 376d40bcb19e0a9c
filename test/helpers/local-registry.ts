// A real npm registry on 127.0.0.1 for the install tests and the install benchmark: Verdaccio (an npm registry
// implementation published on npm), installed on first use into a directory of its own under the temp directory
// (it is no dependency of this project), with a proxy in front of it that counts what npm fetches.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** 6.8.0: later 6.x versions want Node 22, and this project's CI still runs Node 20. */
export const VERDACCIO = 'verdaccio@6.8.0';

/** Installs Verdaccio once (npm's cache makes a second install quick) and returns its executable. */
function verdaccioBin(): string {
  const dir = join(tmpdir(), `gdib-${VERDACCIO.replace('@', '-')}`);
  const bin = join(dir, 'node_modules/verdaccio/bin/verdaccio');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', VERDACCIO], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`npm install ${VERDACCIO} failed: ${r.stderr}`);
  }
  return bin;
}

export interface Fetched {
  /** Every request npm made, as METHOD path. */
  requests: string[];
  /** Package tarballs downloaded (one per package fetched). */
  tarballs: string[];
  /** Bytes of every response body npm received (package documents and tarballs). */
  bytes: number;
}

export interface LocalRegistry {
  /** The registry's URL as npm must be given it (the counting proxy). */
  url: string;
  fetched: Fetched;
  resetCounts(): void;
  /** Publishes a tarball (npm publish, as a user the registry made, straight to the registry: not counted). */
  publish(tarball: string, tag?: string): Promise<void>;
  /** npm's arguments for this registry, with `cache` as its cache directory: `--registry=… --cache=… --userconfig=…`. */
  npmArgs(cache: string): string[];
  stop(): Promise<void>;
}

async function waitFor(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}): ${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`verdaccio did not answer at ${url}: ${log()}`);
}

/**
 * Starts a registry keeping its packages in `storage` (a directory; a second registry on the same storage serves
 * what the first stored). `uplink`: a registry to fetch what it does not have from, keeping a copy (none: it
 * serves only what it has).
 */
export async function startLocalRegistry(storage: string, uplink?: string): Promise<LocalRegistry> {
  const bin = verdaccioBin();
  const dir = mkdtempSync(join(tmpdir(), 'gdib-registry-'));
  const port = await freePort();
  const config = [
    `storage: ${JSON.stringify(storage)}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
    ...(uplink ? ['uplinks:', '  upstream:', `    url: ${JSON.stringify(uplink)}`, '    max_fails: 100', '    timeout: 60s'] : []),
    'packages:',
    // This project's package is only ever the one published here, never looked up upstream.
    "  'gke-disk-image-builder':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    ...(uplink ? ['    proxy: upstream'] : []),
    'log: { type: stdout, format: pretty, level: error }',
    'security:',
    '  api:',
    '    legacy: true',
    'max_body_size: 100mb',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config.yaml'), config);
  let out = '';
  const child = spawn(process.execPath, [bin, '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The caller's environment (a proxy to reach the upstream registry, if any), with a home of its own.
    env: { ...process.env, HOME: dir },
  });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const target = `http://127.0.0.1:${port}`;
  await waitFor(`${target}/-/ping`, child, () => out);

  const fetched: Fetched = { requests: [], tarballs: [], bytes: 0 };
  const proxy = createServer((req, res) => {
    fetched.requests.push(`${req.method} ${req.url}`);
    if (req.method === 'GET' && /\/-\/[^/]+\.tgz$/.test(req.url ?? '')) fetched.tarballs.push(req.url!);
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.on('data', (d: Buffer) => (fetched.bytes += d.length));
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;

  // A user to publish as (npm publishes only with a token).
  const user = await fetch(`${target}/-/user/org.couchdb.user:gdib`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'gdib', password: 'gdib-test-password' }),
  });
  const { token } = (await user.json()) as { token: string };
  const npmrc = join(dir, 'npmrc');
  writeFileSync(npmrc, `${url.replace(/^http:/, '')}:_authToken=${token}\n${target.replace(/^http:/, '')}/:_authToken=${token}\n`);

  const npmArgs = (cache: string) => [
    `--registry=${url}`,
    `--cache=${cache}`,
    `--userconfig=${npmrc}`,
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
  ];
  return {
    url,
    fetched,
    resetCounts() {
      fetched.requests = [];
      fetched.tarballs = [];
      fetched.bytes = 0;
    },
    async publish(tarball, tag = 'latest') {
      const cache = mkdtempSync(join(tmpdir(), 'gdib-npm-cache-'));
      const args = ['publish', tarball, `--tag=${tag}`, '--provenance=false', ...npmArgs(cache), `--registry=${target}/`];
      const r = await runAsync('npm', args);
      rmSync(cache, { recursive: true, force: true });
      if (r.code !== 0) throw new Error(`npm publish ${tarball} failed: ${r.stderr}`);
    },
    npmArgs,
    async stop() {
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      proxy.closeAllConnections();
      await closed;
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a command without blocking this process (the counting proxy runs in it): its exit code, output and wall
 * time from spawn to exit.
 */
export function runAsync(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s: Server = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
