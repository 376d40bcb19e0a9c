// Registry credentials on the VM (docs/architecture.md, Registry secrets; docs/vm-script.md, Credentials): a registry
// secret read from Secret Manager by the VM itself, or a fresh access token of the VM's service account. They never
// reach a command line or an environment: each pull gets a registry hosts dir of its own (0700, files 0600) whose
// hosts.toml sends them as an `Authorization` header, removed when the pull ends, and every text the agent
// relays is scrubbed of them first.
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redactor } from '../../io/redact.js';
import { parseRegistrySecret, TOKEN_USER, type ImagePullAuth } from '../contract.js';
import type { Ctx } from './context.js';
import { Fail } from './errors.js';

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
}

/** Reads secret version `name` with a fresh token of the VM's service account; the credentials for `host` in it. */
export async function readRegistrySecret(ctx: Ctx, host: string, name: string): Promise<Credentials> {
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
  if (res === undefined) throw new Fail(`cannot reach Secret Manager at ${endpoint} to read secret ${name}: ${why}`);
  const body = await res.text();
  if (res.status === 403) {
    throw new Fail(
      `the VM's service account may not read secret ${name} (HTTP 403): grant it roles/secretmanager.secretAccessor on the secret`,
    );
  }
  if (res.status === 404) throw new Fail(`secret ${name} does not exist (HTTP 404)`);
  let json: { payload?: { data?: unknown }; error?: { message?: unknown } } = {};
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    json = {};
  }
  if (res.status !== 200) {
    const msg = typeof json.error?.message === 'string' ? `: ${json.error.message.slice(0, 300)}` : '';
    throw new Fail(`reading secret ${name} failed (HTTP ${res.status})${msg}`);
  }
  if (typeof json.payload?.data !== 'string') throw new Fail(`secret ${name}: Secret Manager's answer holds no payload`);
  const text = Buffer.from(json.payload.data, 'base64').toString('utf8');
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

/** hosts.toml of `host` with an Authorization header for its server and its hosts (never Google's Docker Hub mirror). */
export function hostsWithAuth(host: string, base: string | undefined, creds: { username: string; password: string }): string {
  const header = `Authorization = ${JSON.stringify(`Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`)}`;
  const text = base ?? `server = "https://${host}"\n`;
  const hosts = [...text.matchAll(/^\s*\[host\."([^"]+)"\]\s*$/gm)].map((m) => m[1] ?? '').filter((h) => !/mirror\.gcr\.io/.test(h));
  return `${text.replace(/\n*$/, '\n')}\n[header]\n  ${header}\n${hosts.map((h) => `\n[host.${JSON.stringify(h)}.header]\n  ${header}\n`).join('')}`;
}

/**
 * A hosts dir for one pull from `host` with `creds`: a private copy of the shared dir's entry for that host, with the
 * credentials as a header. Removed by the returned function, which the pull calls whatever its outcome.
 */
export function privateHostsDir(
  ctx: Ctx,
  shared: string,
  host: string,
  key: string,
  creds: Credentials,
): { dir: string; remove: () => void } {
  const root = join(ctx.env.workDir, 'auth');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  const dir = join(root, key);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  // The whole entry (a CA file it names included), then its hosts.toml with the header.
  if (existsSync(join(shared, host))) cpSync(join(shared, host), join(dir, host), { recursive: true });
  mkdirSync(join(dir, host), { recursive: true, mode: 0o700 });
  let base: string | undefined;
  try {
    base = readFileSync(join(shared, host, 'hosts.toml'), 'utf8');
  } catch {
    base = undefined;
  }
  rmSync(join(dir, host, 'hosts.toml'), { force: true });
  writeFileSync(join(dir, host, 'hosts.toml'), hostsWithAuth(host, base, creds), { mode: 0o600 });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
