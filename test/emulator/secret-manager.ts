/**
 * Secret Manager v1: `secrets.get` and `versions.access` (`…/versions/V:access`), what preflight and the VM script use
 * to read a registry secret. Secrets are seeded by tests (`emu.secrets.add`); `deny` answers 403 as IAM does for a
 * caller without `secretmanager.versions.access` — for every caller, or only for some tokens.
 */
import type { Router } from './router.js';

interface Secret {
  versions: Array<{ data: Buffer; enabled: boolean }>;
  /** undefined: everyone may read; 'all': nobody; else the tokens that may not. */
  denied?: 'all' | Set<string>;
}

export class SecretStore {
  private readonly secrets = new Map<string, Secret>();

  /** Adds a version to secret `projects/P/secrets/S` (created if new); returns its number. */
  add(secret: string, payload: string | Buffer): number {
    const s = this.secrets.get(secret) ?? { versions: [] };
    s.versions.push({ data: Buffer.from(payload), enabled: true });
    this.secrets.set(secret, s);
    return s.versions.length;
  }

  /** Makes reads of the secret 403: for every caller, or for the callers with these tokens. */
  deny(secret: string, tokens?: readonly string[]): void {
    const s = this.secrets.get(secret);
    if (!s) throw new Error(`no secret ${secret}`);
    s.denied = tokens ? new Set(tokens) : 'all';
  }

  disable(secret: string, version: number): void {
    const v = this.secrets.get(secret)?.versions[version - 1];
    if (!v) throw new Error(`no version ${version} of ${secret}`);
    v.enabled = false;
  }

  get(secret: string): Secret | undefined {
    return this.secrets.get(secret);
  }
}

/** Secret Manager's errors: the gRPC-transcoded shape, `{error: {code, message, status}}`. */
function error(code: number, status: string, message: string) {
  return { status: code, json: { error: { code, message, status } } };
}

function isDenied(s: Secret, authorization: string | undefined): boolean {
  if (!s.denied) return false;
  if (s.denied === 'all') return true;
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  return token !== undefined && s.denied.has(token);
}

export function registerSecretManager(router: Router, store: SecretStore): void {
  router.add('GET', '/v1/projects/:project/secrets/:secret', 'secretmanager.secrets.get', ({ params, headers }) => {
    const name = `projects/${params['project']}/secrets/${params['secret']}`;
    const s = store.get(name);
    if (s && isDenied(s, headers.authorization))
      return error(403, 'PERMISSION_DENIED', `Permission 'secretmanager.secrets.get' denied for resource '${name}' (or it may not exist).`);
    if (!s) return error(404, 'NOT_FOUND', `Secret [${name}] not found or has no versions.`);
    return { json: { name, replication: { automatic: {} }, createTime: '2026-01-01T00:00:00Z' } };
  });

  // The version segment carries the method: `latest:access`, `3:access`.
  router.add('GET', '/v1/projects/:project/secrets/:secret/versions/:version', 'secretmanager.versions.access', ({ params, headers }) => {
    const m = /^(latest|[0-9]+):access$/.exec(params['version']!);
    const secret = `projects/${params['project']}/secrets/${params['secret']}`;
    if (!m) return error(404, 'NOT_FOUND', `No such method: ${params['version']}`);
    const s = store.get(secret);
    const name = `${secret}/versions/${m[1]}`;
    // The caller is taken to hold access on the project (emulator choice): a missing secret is a 404, not a 403.
    if (!s) return error(404, 'NOT_FOUND', `Secret [${secret}] not found or has no versions.`);
    if (isDenied(s, headers.authorization))
      return error(
        403,
        'PERMISSION_DENIED',
        `Permission 'secretmanager.versions.access' denied for resource '${name}' (or it may not exist).`,
      );
    // `latest` is the newest version, whatever its state (as Secret Manager: a disabled newest version fails).
    const number = m[1] === 'latest' ? s.versions.length : Number(m[1]);
    const version = s.versions[number - 1];
    if (!version || number < 1) return error(404, 'NOT_FOUND', `Secret Version [${name}] not found.`);
    if (!version.enabled) return error(400, 'FAILED_PRECONDITION', `Secret Version [${secret}/versions/${number}] is in DISABLED state.`);
    return { json: { name: `${secret}/versions/${number}`, payload: { data: version.data.toString('base64') } } };
  });
}
