// Reads registry secrets from Secret Manager with the caller's token (preflight): versions.access, and secrets.get to
// tell a missing secret from a missing version. No client library: two GETs through the same retry policy, as for IAM
// (@google-cloud/secret-manager would add a gRPC stack for two calls). CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER
// points it elsewhere (docs/architecture.md, Test seams). Every payload read is registered with the redactor.
import type { TokenProvider } from './auth.js';
import { ApiError } from './errors.js';
import type { RetryHooks, RetryPolicy } from './retry.js';
import { getJson } from './rest.js';
import type { Redactor } from '../io/redact.js';
import { parseRegistrySecret, type RegistryCredentials } from '../registry/secret-format.js';

/** What preflight needs of Secret Manager (unit tests pass a fake). */
export interface SecretManagerApi {
  /**
   * The registry credentials for `host` in secret version `projects/P/secrets/S/versions/V`, or what is wrong with
   * its format; an ApiError when it cannot be read (403, 404, 400 for a disabled version).
   */
  registryCredentials(secretVersion: string, host: string, signal: AbortSignal): Promise<RegistryCredentials | string>;
  /** Whether `projects/P/secrets/S` exists (a 403 is thrown). */
  secretExists(secret: string, signal: AbortSignal): Promise<boolean>;
  /** A secret version's text (a token), registered with the redactor before it is returned; ApiError as above. */
  secretText(secretVersion: string, signal: AbortSignal): Promise<string>;
}

export class SecretManager implements SecretManagerApi {
  constructor(
    private readonly tokens: TokenProvider,
    private readonly endpoint: string,
    private readonly retry: RetryPolicy,
    private readonly hooks: RetryHooks = {},
    private readonly redactor?: Redactor,
  ) {}

  async registryCredentials(secretVersion: string, host: string, signal: AbortSignal): Promise<RegistryCredentials | string> {
    const creds = parseRegistrySecret(host, (await this.access(secretVersion, signal)).toString('utf8'));
    if (typeof creds !== 'string') {
      // The password in every form, the Basic value of `username:password` as a whole among them.
      this.redactor?.addSecret(creds.password, { username: creds.username });
    }
    return creds;
  }

  async secretText(secretVersion: string, signal: AbortSignal): Promise<string> {
    const text = (await this.access(secretVersion, signal)).toString('utf8').trim();
    // The value as used, not only as stored: a trailing newline would otherwise keep its forms from matching.
    this.redactor?.addSecret(text);
    return text;
  }

  /** The payload of a secret version. */
  async access(secretVersion: string, signal: AbortSignal): Promise<Buffer> {
    const body = (await this.get('secretmanager.versions.access', `${secretVersion}:access`, signal)) as {
      payload?: { data?: string };
    };
    const data = Buffer.from(body.payload?.data ?? '', 'base64');
    this.redactor?.addSecret(data.toString('utf8'));
    return data;
  }

  async secretExists(secret: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.get('secretmanager.secrets.get', secret, signal);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
  }

  private get(call: string, name: string, signal: AbortSignal): Promise<unknown> {
    const url = `${this.endpoint.replace(/\/+$/, '')}/v1/${name.split('/').map(encodeURIComponent).join('/').replace(/%3A/g, ':')}`;
    return getJson({ tokens: this.tokens, retry: this.retry, hooks: this.hooks }, call, url, signal);
  }
}

export function secretManagerEndpoint(env: Record<string, string | undefined>): string {
  return env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER || 'https://secretmanager.googleapis.com/';
}
