// Credentials, first that applies: --gcp-oauth key file (its token_uri honoured) ·
// CLOUDSDK_AUTH_ACCESS_TOKEN · Application Default Credentials.
// google-auth-library posts JWT grants to Google's fixed token URL whatever token_uri says, so for key files we do
// the small exchange ourselves. Every token we see is registered with the redactor before anything can print it.
import { createSign } from 'node:crypto';
import type { KeyFile } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { Redactor } from '../io/redact.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface AccessToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface TokenProvider {
  /** A valid token, refreshed shortly before it expires. */
  getToken(signal?: AbortSignal): Promise<AccessToken>;
  readonly description: string;
  /** Resolves once the credentials are known to exist (Application Default Credentials are looked for). */
  ready?(): Promise<void>;
}

export interface AuthOptions {
  keyFile?: KeyFile;
  env: Record<string, string | undefined>;
  redactor: Redactor;
}

/** What a user with no credentials is told: the three ways to provide them, first that applies. */
export const NO_CREDENTIALS =
  'no Google Cloud credentials: pass a key file with --gcp-oauth, set CLOUDSDK_AUTH_ACCESS_TOKEN, or set up Application Default Credentials (e.g. gcloud auth application-default login)';

/**
 * The credentials that apply, for a run that must call the cloud. Looking for Application Default Credentials
 * reads files and, off GCE, asks whether a metadata server answers; no token is fetched. With none, a UsageError
 * (exit 2) says how to provide them, before anything else runs.
 */
export async function findCredentials(opts: AuthOptions): Promise<TokenProvider> {
  const provider = createTokenProvider(opts);
  await provider.ready?.();
  return provider;
}

/** The credentials that apply, looked up only when a token is first wanted (runs that may need none). */
export function createTokenProvider(opts: AuthOptions): TokenProvider {
  const { keyFile, env, redactor } = opts;
  if (keyFile) {
    redactor.addSecret(keyFile.type === 'service_account' ? keyFile.privateKey : keyFile.refreshToken);
    if (keyFile.type === 'authorized_user') redactor.addSecret(keyFile.clientSecret);
    return cached(`key file ${keyFile.path}`, (signal) => exchangeKeyFile(keyFile, signal), redactor);
  }
  const raw = env.CLOUDSDK_AUTH_ACCESS_TOKEN?.trim();
  if (raw) {
    redactor.addSecret(raw);
    return {
      description: 'CLOUDSDK_AUTH_ACCESS_TOKEN',
      getToken: () => Promise.resolve({ token: raw, expiresAt: Date.now() + 3_600_000 }),
    };
  }
  const adc = applicationDefault();
  return { ...cached('Application Default Credentials', () => adc.token(), redactor), ready: () => adc.ready() };
}

function cached(description: string, fetchToken: (signal?: AbortSignal) => Promise<AccessToken>, redactor: Redactor): TokenProvider {
  let current: AccessToken | undefined;
  let inflight: Promise<AccessToken> | undefined;
  return {
    description,
    async getToken(signal) {
      if (current && current.expiresAt - Date.now() > 60_000) return current;
      inflight ??= fetchToken(signal)
        .then((t) => {
          redactor.addSecret(t.token);
          current = t;
          return t;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
  };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** An RS256-signed JWT-bearer assertion (RFC 7523) for a service-account key. */
export function signAssertion(key: Extract<KeyFile, { type: 'service_account' }>, nowSec = Math.floor(Date.now() / 1000)): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const claims = { iss: key.clientEmail, scope: CLOUD_PLATFORM_SCOPE, aud: key.tokenUri, iat: nowSec, exp: nowSec + 3600 };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key.privateKey);
  return `${unsigned}.${base64url(signature)}`;
}

async function exchangeKeyFile(key: KeyFile, signal?: AbortSignal): Promise<AccessToken> {
  const body =
    key.type === 'service_account'
      ? new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: signAssertion(key) })
      : new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: key.clientId,
          client_secret: key.clientSecret,
          refresh_token: key.refreshToken,
        });
  let res: Response;
  try {
    res = await fetch(key.tokenUri, { method: 'POST', body, signal, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  } catch (err) {
    throw new AuthError(`cannot reach the token endpoint ${key.tokenUri} of ${key.path}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  let json: { access_token?: string; expires_in?: number; error?: string; error_description?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // reported below
  }
  if (!res.ok || typeof json.access_token !== 'string') {
    const why = json.error ? `${json.error}${json.error_description ? `: ${json.error_description}` : ''}` : `HTTP ${res.status}`;
    throw new AuthError(`the key file ${key.path} was refused by ${key.tokenUri} (${why})`);
  }
  return { token: json.access_token, expiresAt: Date.now() + (json.expires_in ?? 3600) * 1000 };
}

/** Application Default Credentials: found once, then asked for tokens. */
function applicationDefault(): { ready(): Promise<void>; token(): Promise<AccessToken> } {
  type Client = Awaited<ReturnType<import('google-auth-library').GoogleAuth['getClient']>>;
  let client: Promise<Client> | undefined;
  const find = () =>
    (client ??= (async () => {
      const { GoogleAuth } = await import('google-auth-library');
      try {
        return await new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }).getClient();
      } catch (err) {
        throw new UsageError([noCredentials(err)]);
      }
    })());
  return {
    ready: async () => void (await find()),
    token: async () => {
      const c = await find();
      try {
        const res = await c.getAccessToken();
        if (!res.token) throw new Error('no token returned');
        const expiry = (c as { credentials?: { expiry_date?: number } }).credentials?.expiry_date;
        return { token: res.token, expiresAt: expiry ?? Date.now() + 30 * 60_000 };
      } catch (err) {
        throw new AuthError(`Application Default Credentials gave no token: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** The library says "Could not load the default credentials" when there are none; anything else is a broken file. */
function noCredentials(err: unknown): string {
  const detail = ((err as Error)?.message ?? String(err)).replace(/\s*\n\s*/g, ' ');
  return /could not load the default credentials/i.test(detail)
    ? NO_CREDENTIALS
    : `${NO_CREDENTIALS}; the Application Default Credentials found are unusable: ${detail}`;
}

export class AuthError extends Error {
  override name = 'AuthError';
}
