// A minimal registry v2 client, enough to resolve a reference to its manifest from the machine running the CLI:
// anonymous bearer tokens (Docker Hub style), for Google registries the caller's own Google token, and for a host
// with a --registry-secret the user name and password read from it.
import type { ImageReference } from '../config/reference.js';
import { deadline } from '../io/abort.js';
import type { RegistryCredentials } from './secret-format.js';

/** Credentials for one registry host, and where they come from (named in errors, e.g. the secret). */
export interface HostCredentials extends RegistryCredentials {
  from: string;
}

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
];

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly status?: number,
    /** True when the registry could not be reached at all (network, DNS, TLS, timeout). */
    readonly unreachable = false,
    /** True when the registry refused the user name and password it was given (a --registry-secret's). */
    readonly refusedCredentials = false,
  ) {
    super(message);
  }
}

export interface Fetched {
  mediaType: string;
  digest?: string;
  body: Record<string, unknown>;
}

/** Google's registries accept the caller's OAuth token as the password of user "oauth2accesstoken". */
export function isGoogleRegistry(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'gcr.io' || h.endsWith('.gcr.io') || h.endsWith('-docker.pkg.dev') || h.endsWith('.pkg.dev');
}

/** Registries on the loopback are spoken to over plain http, as Docker and containerd do. */
function baseUrl(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const local = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${local ? 'http' : 'https'}://${registry}`;
}

/** What resolving images needs of a registry client (preflight; unit tests pass a fake). */
export type ImageRegistry = Pick<RegistryClient, 'manifest' | 'blob'> & Partial<Pick<RegistryClient, 'withCredentials'>>;

export class RegistryClient {
  private readonly tokens = new Map<string, string>();

  constructor(
    private readonly googleToken: () => Promise<string | undefined>,
    private readonly timeoutMs = 15_000,
    /** Registry host → the user name and password to answer its challenges with. */
    private readonly credentials: ReadonlyMap<string, HostCredentials> = new Map(),
  ) {}

  /** A client that also answers the challenges of these hosts with these credentials. */
  withCredentials(credentials: ReadonlyMap<string, HostCredentials>): RegistryClient {
    return new RegistryClient(this.googleToken, this.timeoutMs, new Map([...this.credentials, ...credentials]));
  }

  async manifest(ref: ImageReference, reference: string, signal: AbortSignal): Promise<Fetched> {
    const res = await this.getAuthenticated(`${baseUrl(ref.registry)}/v2/${ref.repository}/manifests/${reference}`, ref, signal);
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
      throw new RegistryError(`${ref.registry} answered HTTP ${res.status}${code ? ` ${code}` : ''}`, res.status);
    }
    const body = (await res.json()) as Record<string, unknown>;
    const mediaType = (res.headers.get('content-type') ?? (typeof body.mediaType === 'string' ? body.mediaType : '')).split(';')[0]!;
    return { mediaType, digest: res.headers.get('docker-content-digest') ?? undefined, body };
  }

  /** A (small) blob's bytes. */
  async blob(ref: ImageReference, digest: string, signal: AbortSignal): Promise<Buffer> {
    const res = await this.getAuthenticated(`${baseUrl(ref.registry)}/v2/${ref.repository}/blobs/${digest}`, ref, signal);
    if (!res.ok) throw new RegistryError(`${ref.registry} answered HTTP ${res.status} for blob ${digest}`, res.status);
    return Buffer.from(await res.arrayBuffer());
  }

  /** GET, answering one 401 challenge (anonymous bearer token, or Google credentials for Google registries). */
  private async getAuthenticated(url: string, ref: ImageReference, signal: AbortSignal): Promise<Response> {
    const res = await this.get(url, ref, signal);
    if (res.status !== 401) return res;
    await this.authenticate(res, ref, signal);
    const again = await this.get(url, ref, signal);
    const creds = this.credentials.get(ref.registry);
    if (creds && (again.status === 401 || again.status === 403)) throw refused(ref.registry, creds, again.status);
    return again;
  }

  private async get(url: string, ref: ImageReference, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: MANIFEST_TYPES.join(', ') };
    const auth = this.tokens.get(ref.registry + '/' + ref.repository);
    if (auth) headers.authorization = auth;
    try {
      return await fetch(url, { headers, signal: deadline(this.timeoutMs, signal), redirect: 'follow' });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryError(`cannot reach ${ref.registry} (${cause?.code ?? cause?.message ?? (err as Error).message})`, undefined, true);
    }
  }

  private async authenticate(res: Response, ref: ImageReference, signal: AbortSignal): Promise<void> {
    const challenge = res.headers.get('www-authenticate') ?? '';
    // A host's own credentials win over the Google token, as on the VM (docs/architecture.md, Registry secrets).
    const creds = this.credentials.get(ref.registry);
    const google = !creds && isGoogleRegistry(ref.registry) ? await this.googleToken() : undefined;
    const basic = creds
      ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      : google
        ? `Basic ${Buffer.from(`oauth2accesstoken:${google}`).toString('base64')}`
        : undefined;
    const key = ref.registry + '/' + ref.repository;
    if (/^basic/i.test(challenge)) {
      if (!basic) throw new RegistryError(`${ref.registry} requires credentials`, 401);
      this.tokens.set(key, basic);
      return;
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!/^bearer/i.test(challenge) || !params.realm) throw new RegistryError(`${ref.registry} requires credentials`, 401);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? `repository:${ref.repository}:pull`);
    let tokenRes: Response;
    try {
      tokenRes = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: deadline(this.timeoutMs, signal) });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new RegistryError(`cannot reach the token service of ${ref.registry} (${(err as Error).message})`, undefined, true);
    }
    if (creds && (tokenRes.status === 401 || tokenRes.status === 403)) throw refused(ref.registry, creds, tokenRes.status);
    if (!tokenRes.ok) throw new RegistryError(`${ref.registry} refused a pull token (HTTP ${tokenRes.status})`, tokenRes.status);
    const json = (await tokenRes.json()) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) throw new RegistryError(`${ref.registry} gave no pull token`, 401);
    this.tokens.set(key, `Bearer ${token}`);
  }
}

function refused(registry: string, creds: HostCredentials, status: number): RegistryError {
  return new RegistryError(`${registry} refused the user name and password of ${creds.from} (HTTP ${status})`, status, false, true);
}
