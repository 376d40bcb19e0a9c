// Registry credentials on the VM (docs/architecture.md, Registry secrets; docs/vm-script.md, Credentials): a registry
// secret read from Secret Manager by the VM itself, or a fresh access token of the VM's service account. They never
// reach a command line, an environment or a file: each pull gets a loopback credential proxy (registry-proxy.ts)
// that holds them in memory and a registry hosts dir of its own (0700, files 0600) sending containerd to it, both
// gone when the pull ends; every text the agent relays is scrubbed of them first.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Redactor } from '../../io/redact.js';
import { parseRegistrySecret, TOKEN_USER, type ImagePullAuth } from '../contract.js';
import type { Ctx } from './context.js';
import { Fail } from './errors.js';
import { startRegistryProxy, type RegistryProxy, type Upstream } from './registry-proxy.js';

export interface Credentials {
  username: string;
  password: string;
  /** What they are, for messages: `secret <name>` or `token`. */
  source: { kind: 'secret'; name: string } | { kind: 'token' };
}

export function isGoogleRegistry(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'gcr.io' || h.endsWith('.gcr.io') || h.endsWith('-docker.pkg.dev') || h.endsWith('.pkg.dev');
}

export function usesToken(auth: ImagePullAuth, host: string): boolean {
  return auth === 'ServiceAccountToken' || (auth === 'Auto' && isGoogleRegistry(host));
}

/**
 * Removes the pulls' credentials (every form of them, by the one redaction rule of src/io/redact.ts) and URL query
 * strings (signed URLs) from relayed text.
 */
export class Scrubber {
  private redactor = new Redactor();

  add(secret: string, user?: string): void {
    this.redactor.addSecret(secret, user !== undefined ? { username: user } : {});
  }

  clear(): void {
    this.redactor = new Redactor();
  }

  scrub(text: string): string {
    return this.redactor.redact(text).replace(/\?[^\s"]*/g, '?[redacted]');
  }

  /** The credentials (and what the one rule removes unregistered) only: for the agent's own messages. */
  redact(text: string): string {
    return this.redactor.redact(text);
  }
}

/**
 * The payload of secret version `name`, read with a fresh token of the VM's service account (`purpose` says what for,
 * in messages). Never logged.
 */
export async function accessSecret(ctx: Ctx, name: string, purpose?: string): Promise<string> {
  const what = purpose ? `${name} (${purpose})` : name;
  let token: string;
  try {
    token = await ctx.md.token();
  } catch (err) {
    throw new Fail(`cannot get an access token from the metadata server to read secret ${name}: ${(err as Error).message}`);
  }
  const endpoint = ctx.env.secretManagerEndpoint.replace(/\/+$/, '');
  let res: Response | undefined;
  let why = '';
  for (let attempt = 0; attempt < 4 && res === undefined; attempt++) {
    try {
      res = await fetch(`${endpoint}/v1/${name}:access`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
  if (res === undefined) throw new Fail(`cannot reach Secret Manager at ${endpoint} to read secret ${what}: ${why}`);
  const body = await res.text();
  if (res.status === 403) {
    throw new Fail(
      `the VM's service account may not read secret ${name} (${purpose ? `${purpose}, ` : ''}HTTP 403): grant it roles/secretmanager.secretAccessor on the secret`,
    );
  }
  if (res.status === 404) throw new Fail(`secret ${what} does not exist (HTTP 404)`);
  let json: { payload?: { data?: unknown }; error?: { message?: unknown } } = {};
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    json = {};
  }
  if (res.status !== 200) {
    const msg = typeof json.error?.message === 'string' ? `: ${json.error.message.slice(0, 300)}` : '';
    throw new Fail(`reading secret ${what} failed (HTTP ${res.status})${msg}`);
  }
  if (typeof json.payload?.data !== 'string') throw new Fail(`secret ${name}: Secret Manager's answer holds no payload`);
  return Buffer.from(json.payload.data, 'base64').toString('utf8');
}

/** Reads secret version `name` with a fresh token of the VM's service account; the credentials for `host` in it. */
export async function readRegistrySecret(ctx: Ctx, host: string, name: string): Promise<Credentials> {
  const text = await accessSecret(ctx, name);
  const parsed = parseRegistrySecret(host, text);
  if (typeof parsed === 'string') {
    const why = parsed.startsWith('expected')
      ? parsed
      : `${parsed}; expected USERNAME:PASSWORD, or a Docker config.json with an "auths" entry for ${host}`;
    throw new Fail(`secret ${name} holds no credentials for ${host}: ${why}`);
  }
  return { ...parsed, source: { kind: 'secret', name } };
}

/** The credentials a pull from `host` uses: its registry secret, else a fresh token when --image-pull-auth says so. */
export async function credentialsFor(
  ctx: Ctx,
  host: string,
  ref: string,
  auth: ImagePullAuth,
  secrets: ReadonlyMap<string, string>,
): Promise<Credentials | undefined> {
  const secret = secrets.get(host);
  if (secret !== undefined) return readRegistrySecret(ctx, host, secret);
  if (!usesToken(auth, host)) return undefined;
  try {
    return { username: TOKEN_USER, password: await ctx.md.token(), source: { kind: 'token' } };
  } catch (err) {
    throw new Fail(`cannot get an access token for ${ref} from the metadata server: ${(err as Error).message}`);
  }
}

const DOCKER_HUB = `server = "https://registry-1.docker.io"

[host."https://mirror.gcr.io"]
  capabilities = ["pull", "resolve"]
`;

/** The registry hosts dir: docker.io through Google's mirror unless the dir already says otherwise. */
export function configureHosts(ctx: Ctx): string {
  const dir = ctx.env.hostsDir ?? join(ctx.env.workDir, 'certs.d');
  mkdirSync(join(dir, 'docker.io'), { recursive: true });
  const file = join(dir, 'docker.io', 'hosts.toml');
  if (!existsSync(file)) writeFileSync(file, DOCKER_HUB);
  return dir;
}

/** What the agent reads of a hosts.toml: its server and its hosts, in order, with their TLS settings. */
export interface HostsConfig {
  server: string;
  hosts: HostEntry[];
  /** The server's own TLS settings (top-level `ca`, `skip_verify`, `client`). */
  ca: string[];
  skipVerify: boolean;
  client: ClientPair[];
}

export interface HostEntry {
  url: string;
  capabilities: string[];
  ca: string[];
  skipVerify: boolean;
  client: ClientPair[];
}

/** A client certificate file and its key file; an empty key: the key is in the certificate's file (as containerd). */
export type ClientPair = [cert: string, key: string];

/** hosts.toml's `client`: a path, a list of paths, or a list of [cert, key] pairs. */
function clientPairs(raw: string): ClientPair[] {
  let v: unknown;
  try {
    v = JSON.parse(raw.trim().replace(/,\s*\]/g, ']'));
  } catch {
    return [];
  }
  return (typeof v === 'string' ? [v] : Array.isArray(v) ? (v as unknown[]) : []).flatMap((p): ClientPair[] => {
    if (typeof p === 'string') return [[p, '']];
    const [cert, key] = Array.isArray(p) ? (p as unknown[]) : [];
    return typeof cert === 'string' ? [[cert, typeof key === 'string' ? key : '']] : [];
  });
}

function tomlValue(raw: string): string | boolean | string[] | undefined {
  const v = raw.trim();
  if (v === 'true' || v === 'false') return v === 'true';
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return undefined;
    }
  }
  if (v.startsWith('[')) return [...v.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1] ?? ''}"`) as string);
  return undefined;
}

/** The parts of containerd's hosts.toml the agent needs (server, hosts, capabilities, ca, skip_verify, client). */
export function parseHostsToml(host: string, text: string | undefined): HostsConfig {
  const cfg: HostsConfig = { server: `https://${host}`, hosts: [], ca: [], skipVerify: false, client: [] };
  let table: 'top' | HostEntry | 'other' = 'top';
  for (const line of (text ?? '').split('\n')) {
    const t = line.replace(/^\s+|\s+$/g, '');
    if (t === '' || t.startsWith('#')) continue;
    const h = /^\[host\.("(?:[^"\\]|\\.)*")\]$/.exec(t);
    if (h) {
      table = { url: JSON.parse(h[1] ?? '""') as string, capabilities: ['pull', 'resolve', 'push'], ca: [], skipVerify: false, client: [] };
      cfg.hosts.push(table);
      continue;
    }
    if (t.startsWith('[')) {
      table = 'other';
      continue;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(t);
    if (!kv || table === 'other') continue;
    const value = tomlValue(kv[2] ?? '');
    const key = kv[1];
    const target = table === 'top' ? cfg : table;
    if (key === 'server' && table === 'top' && typeof value === 'string') cfg.server = value;
    else if (key === 'ca') target.ca = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    else if (key === 'skip_verify') target.skipVerify = value === true;
    else if (key === 'client') target.client = clientPairs(kv[2] ?? '');
    else if (key === 'capabilities' && table !== 'top' && Array.isArray(value)) table.capabilities = value;
  }
  return cfg;
}

/** Google's Docker Hub mirror: pulled from without credentials. */
function isGoogleMirror(url: string): boolean {
  return /^https?:\/\/mirror\.gcr\.io(?::\d+)?(?:\/|$)/.test(url);
}

/**
 * hosts.toml of `host` for a pull through the credential proxies: every upstream of `cfg` (its hosts, then its
 * server) replaced by the proxy `proxyOf` gives for it, Google's Docker Hub mirror kept as is. Holds no credential.
 */
export function hostsWithProxies(cfg: HostsConfig, proxyOf: (upstream: string) => string): string {
  const lines = [`server = ${JSON.stringify(isGoogleMirror(cfg.server) ? cfg.server : proxyOf(cfg.server))}`];
  for (const h of cfg.hosts) {
    const caps = h.capabilities.filter((c) => c !== 'push');
    if (isGoogleMirror(h.url)) {
      lines.push('', `[host.${JSON.stringify(h.url)}]`, `  capabilities = ${JSON.stringify(caps)}`);
      if (h.ca.length) lines.push(`  ca = ${JSON.stringify(h.ca)}`);
      if (h.skipVerify) lines.push('  skip_verify = true');
    } else {
      lines.push('', `[host.${JSON.stringify(proxyOf(h.url))}]`, `  capabilities = ${JSON.stringify(caps)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A file hosts.toml names, relative to its dir as containerd takes it. */
function readNamed(dir: string, f: string, what: string): string {
  try {
    return readFileSync(isAbsolute(f) ? f : join(dir, f), 'utf8');
  } catch (err) {
    throw new Fail(`cannot read ${what} ${f} of ${join(dir, 'hosts.toml')}: ${(err as Error).message}`);
  }
}

/**
 * The upstream a proxy serves: its CAs and its client certificate read. Of several client pairs the first is
 * presented (a registry that asks for a certificate takes one).
 */
function upstreamOf(dir: string, url: string, t: { ca: readonly string[]; skipVerify: boolean; client: readonly ClientPair[] }): Upstream {
  const ca = t.ca.map((f) => readNamed(dir, f, 'CA certificate'));
  const [pair] = t.client;
  if (!pair) return { url, ca, skipVerify: t.skipVerify };
  const cert = readNamed(dir, pair[0], 'client certificate');
  return { url, ca, skipVerify: t.skipVerify, client: { cert, key: pair[1] ? readNamed(dir, pair[1], 'client key') : cert } };
}

/**
 * A hosts dir for one pull from `host` with `creds`: a loopback credential proxy (registry-proxy.ts) for each of
 * the host's upstreams, and a private hosts.toml (0700 dir, 0600 file) sending containerd to them. `close` stops
 * the proxies and removes the dir; the pull calls it whatever its outcome.
 */
export async function proxiedHostsDir(
  ctx: Ctx,
  shared: string,
  host: string,
  key: string,
  creds: Credentials,
): Promise<{ dir: string; close: () => Promise<void> }> {
  let base: string | undefined;
  try {
    base = readFileSync(join(shared, host, 'hosts.toml'), 'utf8');
  } catch {
    base = undefined;
  }
  const cfg = parseHostsToml(host, base);
  const hostDir = join(shared, host);
  const upstreams = new Map<string, Upstream>();
  for (const [url, tls] of [...cfg.hosts.map((h) => [h.url, h] as const), [cfg.server, cfg] as const])
    if (!isGoogleMirror(url) && !upstreams.has(url)) upstreams.set(url, upstreamOf(hostDir, url, tls));
  const proxies = new Map<string, RegistryProxy>();
  const stopAll = () => Promise.all([...proxies.values()].map((p) => p.close())).then(() => undefined);
  try {
    for (const [url, upstream] of upstreams) {
      proxies.set(url, await startRegistryProxy({ upstream, username: creds.username, password: creds.password }));
    }
  } catch (err) {
    await stopAll();
    throw new Fail(`cannot start the credential proxy for ${host}: ${(err as Error).message}`);
  }
  const root = join(ctx.env.workDir, 'auth');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  const dir = join(root, key);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, host), { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, host, 'hosts.toml'),
    hostsWithProxies(cfg, (u) => proxies.get(u)?.url ?? u),
    { mode: 0o600 },
  );
  return {
    dir,
    close: async () => {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
