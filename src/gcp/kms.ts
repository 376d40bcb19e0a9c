// Reads the --kms-key (Cloud KMS projects.locations.keyRings.cryptoKeys.get) with the caller's token, for preflight.
// No client library: one GET through the same retry policy, as iam.ts. CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS
// points it elsewhere (docs/architecture.md, Test seams).
import type { TokenProvider } from './auth.js';
import { ApiError } from './errors.js';
import type { RetryPolicy } from './retry.js';
import { getJson } from './rest.js';

/** What preflight needs to know of a key: whether it can encrypt now. */
export interface CryptoKeyInfo {
  /** ENCRYPT_DECRYPT for a key that can protect disks. */
  purpose?: string;
  /** The state of the primary version (ENABLED, DISABLED, DESTROYED, ...); undefined when there is none. */
  primaryState?: string;
}

/** What preflight needs of Cloud KMS (unit tests pass a fake). */
export interface KmsApi {
  /** The key, undefined when it does not exist (404), or 'denied' when the caller may not read it (403). */
  getCryptoKey(name: string, signal: AbortSignal): Promise<CryptoKeyInfo | undefined | 'denied'>;
}

export class Kms implements KmsApi {
  constructor(
    private readonly tokens: TokenProvider,
    private readonly endpoint: string,
    private readonly retry: RetryPolicy,
  ) {}

  async getCryptoKey(name: string, signal: AbortSignal): Promise<CryptoKeyInfo | undefined | 'denied'> {
    // The name was checked against its shape (rules.kmsKey): its segments are safe in a path.
    const url = `${this.endpoint.replace(/\/+$/, '')}/v1/${name}`;
    try {
      const body = (await getJson({ tokens: this.tokens, retry: this.retry }, 'cloudkms.cryptoKeys.get', url, signal)) as {
        purpose?: string;
        primary?: { state?: string };
      };
      return { purpose: body.purpose, primaryState: body.primary?.state };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      if (err instanceof ApiError && err.status === 403) return 'denied';
      throw err;
    }
  }
}

export function kmsEndpoint(env: Record<string, string | undefined>): string {
  return env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS || 'https://cloudkms.googleapis.com/';
}
