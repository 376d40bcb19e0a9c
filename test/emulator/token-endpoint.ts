/**
 * The OAuth 2 token endpoint for service-account keys (JWT-bearer grant, RFC 7523), as
 * https://oauth2.googleapis.com/token answers it: an RS256-signed JWT whose `iss` is a key's
 * client_email, `aud` the token URI, `scope` non-empty and iat/exp a short window around now.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { Reply, RequestContext } from './router.js';
import type { EmulatorState } from './state.js';
import type { TokenStore } from './tokens.js';

export interface ServiceAccountKeyFile {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export interface ServiceAccountKeyOptions {
  email?: string;
  projectId?: string;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export class TokenEndpoint {
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    private readonly state: EmulatorState,
    private readonly tokens: TokenStore,
    private readonly tokenUri: () => string,
    private readonly now: () => number,
  ) {}

  createKey(opts: ServiceAccountKeyOptions = {}): { keyFile: ServiceAccountKeyFile } {
    const projectId = opts.projectId ?? 'test-project';
    const email = opts.email ?? `gdib-test-${this.keys.size + 1}@${projectId}.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.keys.set(email, publicKey);
    return {
      keyFile: {
        type: 'service_account',
        project_id: projectId,
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: email,
        client_id: BigInt(`0x${randomBytes(8).toString('hex')}`).toString(),
        auth_uri: 'https://accounts.google.com/o/oauth2/auth',
        token_uri: this.tokenUri(),
        auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
        client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
        universe_domain: 'googleapis.com',
      },
    };
  }

  /** A public key in PEM can also be registered directly (e.g. a key made elsewhere). */
  registerPublicKey(email: string, pem: string): void {
    this.keys.set(email, createPublicKey(pem));
  }

  handle = (ctx: RequestContext): Reply => {
    const form = new URLSearchParams(ctx.raw.toString('utf8'));
    const grantType = form.get('grant_type');
    if (grantType !== JWT_BEARER) {
      return this.reject(undefined, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    }
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return this.reject(undefined, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    const [head, body, signature] = parts as [string, string, string];
    let header: { alg?: string };
    let claims: { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return this.reject(undefined, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    }
    const key = claims.iss === undefined ? undefined : this.keys.get(claims.iss);
    if (!key) return this.reject(claims.iss, 'invalid_grant', 'Invalid grant: account not found');
    const signed = Buffer.from(`${head}.${body}`);
    if (header.alg !== 'RS256' || !verify('RSA-SHA256', signed, key, Buffer.from(signature, 'base64url'))) {
      return this.reject(claims.iss, 'invalid_grant', 'Invalid JWT Signature.');
    }
    if (claims.aud !== this.tokenUri()) {
      return this.reject(claims.iss, 'invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${this.tokenUri()}`);
    }
    const nowSec = Math.floor(this.now() / 1000);
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= nowSec || iat > nowSec + 300 || exp - iat > 3600) {
      return this.reject(
        claims.iss,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (!claims.scope) return this.reject(claims.iss, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const token = this.tokens.issue();
    this.state.tokenGrants.push({ time: this.now(), issuer: claims.iss, scope: claims.scope, token });
    return { json: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  };

  private reject(issuer: string | undefined, error: string, description: string): Reply {
    this.state.tokenGrants.push({ time: this.now(), ...(issuer ? { issuer } : {}), error: `${error}: ${description}` });
    return { status: 400, json: { error, error_description: description } };
  }
}
