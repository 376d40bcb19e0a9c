// Checks that the VM's service account exists (IAM projects.serviceAccounts.get), with the caller's token.
// No client library: one GET, through the same retry policy. CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM points it elsewhere.
import type { TokenProvider } from './auth.js';
import { ApiError } from './errors.js';
import type { RetryPolicy } from './retry.js';
import { getJson } from './rest.js';

/** What preflight needs of IAM (unit tests pass a fake). */
export interface IamApi {
  /** true / false, or undefined when the caller may not look (403). */
  serviceAccountExists(email: string, signal: AbortSignal): Promise<boolean | undefined>;
}

export class Iam implements IamApi {
  constructor(
    private readonly tokens: TokenProvider,
    private readonly endpoint: string,
    private readonly retry: RetryPolicy,
  ) {}

  /** true / false, or undefined when the caller may not look (403). */
  async serviceAccountExists(email: string, signal: AbortSignal): Promise<boolean | undefined> {
    const url = `${this.endpoint.replace(/\/+$/, '')}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}`;
    try {
      await getJson({ tokens: this.tokens, retry: this.retry }, 'iam.serviceAccounts.get', url, signal);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      if (err instanceof ApiError && err.status === 403) return undefined;
      throw err;
    }
  }
}

export function iamEndpoint(env: Record<string, string | undefined>): string {
  return env.CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM || 'https://iam.googleapis.com/';
}
