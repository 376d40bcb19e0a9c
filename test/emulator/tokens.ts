/**
 * Bearer tokens: which ones the emulator accepts, and the 401 answers Google gives without one.
 */
import { randomBytes } from 'node:crypto';
import type { Reply } from './router.js';

export class TokenStore {
  private readonly valid = new Set<string>();

  accept(token: string): void {
    this.valid.add(token);
  }

  revoke(token: string): void {
    this.valid.delete(token);
  }

  /** Issue a fresh token in Google's access-token shape and accept it. */
  issue(): string {
    const token = `ya29.${randomBytes(24).toString('base64url')}`;
    this.accept(token);
    return token;
  }

  /** Whether an `Authorization` header carries an accepted bearer token. */
  check(header: string | undefined): 'ok' | 'missing' | 'invalid' {
    if (!header) return 'missing';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return 'invalid';
    return this.valid.has(m[1]!) ? 'ok' : 'invalid';
  }
}

const SEE = 'See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** The 401 Compute Engine and Cloud Storage answer for a missing or unknown token. */
export function unauthenticated(problem: 'missing' | 'invalid'): Reply {
  const missing = problem === 'missing';
  const message = missing
    ? `Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE}`
    : `Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE}`;
  return {
    status: 401,
    headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
    json: {
      error: {
        code: 401,
        message,
        errors: [
          {
            message: missing ? 'Login Required.' : 'Invalid Credentials',
            domain: 'global',
            reason: missing ? 'required' : 'authError',
            location: 'Authorization',
            locationType: 'header',
          },
        ],
        status: 'UNAUTHENTICATED',
      },
    },
  };
}
