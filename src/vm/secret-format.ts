// What a --registry-secret holds (docs/architecture.md, Registry secrets): either `USERNAME:PASSWORD` on one line, or
// a Docker config.json whose `auths` has an entry for the registry host, with `auth` (base64 of USERNAME:PASSWORD) or
// `username` and `password`. The VM agent reads a secret with this very parser (src/vm/contract.ts re-exports it); it is tested
// against the same fixtures (test/fixtures/registry-secrets.json).

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The host names an `auths` key may use for a registry: Docker Hub's credentials are kept under its old names. */
function hostAliases(host: string): string[] {
  return host === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io'] : [host];
}

/** `https://index.docker.io/v1/` → `index.docker.io`: the key of an `auths` entry as a host. */
function authsKeyHost(key: string): string {
  return key
    .replace(/^[a-zA-Z]+:\/\//, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

function checked(username: string, password: string, where: string): RegistryCredentials | string {
  if (!username) return `${where} has an empty user name`;
  if (username.includes(':')) return `${where} has a ":" in its user name`;
  if (!password) return `${where} has an empty password`;
  if (/[\r\n]/.test(username + password)) return `${where} has a line break in its user name or password`;
  return { username, password };
}

/** The credentials for `host` in a secret's text, or what is wrong with it (never quoting the secret). */
export function parseRegistrySecret(host: string, text: string): RegistryCredentials | string {
  const body = text.replace(/^\uFEFF/, '');
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) return fromDockerConfig(host, trimmed);
  const line = body.replace(/[\r\n]+$/, '');
  if (/[\r\n]/.test(line)) return 'expected USERNAME:PASSWORD on one line, or a Docker config.json';
  const colon = line.indexOf(':');
  if (colon < 0) return 'expected USERNAME:PASSWORD (no ":" found), or a Docker config.json';
  return checked(line.slice(0, colon), line.slice(colon + 1), 'the secret');
}

function fromDockerConfig(host: string, text: string): RegistryCredentials | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'it starts with "{" but is not valid JSON (expected a Docker config.json)';
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (!auths || typeof auths !== 'object' || Array.isArray(auths)) return 'the Docker config.json has no "auths" object';
  const wanted = hostAliases(host);
  const entry = Object.entries(auths as Record<string, unknown>).find(([key]) => wanted.includes(authsKeyHost(key)))?.[1];
  if (entry === undefined) return `the Docker config.json has no "auths" entry for ${host}`;
  const e = (entry ?? {}) as { auth?: unknown; username?: unknown; password?: unknown };
  const where = `the "auths" entry for ${host}`;
  if (typeof e.auth === 'string' && e.auth !== '') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(e.auth)) return `${where} has an "auth" that is not base64`;
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return `${where} has an "auth" that is not base64 of USERNAME:PASSWORD`;
    return checked(decoded.slice(0, colon), decoded.slice(colon + 1), where);
  }
  if (typeof e.username === 'string' && typeof e.password === 'string') return checked(e.username, e.password, where);
  return `${where} has neither "auth" nor "username" and "password"`;
}
