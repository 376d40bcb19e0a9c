import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, REDACTED, Redactor, redact, secretForms } from '../../src/io/redact.js';

/** The text between the markers: a form of a secret must not survive inside any of them. */
const pieces = (out: string) => out.split(REDACTED);
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const b64url = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');

const secretArb = fc.oneof(
  fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 64 }),
  fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 64, unit: 'grapheme' }),
  fc.string({ minLength: MIN_SECRET_LENGTH, maxLength: 64, unit: 'binary' }),
);
const textArb = fc.string({ maxLength: 40 });

/** The forms a secret takes in text (as an HTTP client, a registry, a JSON log or a Basic header would show it). */
function formsOf(secret: string, username: string): string[] {
  return [
    secret,
    b64(secret),
    b64(secret).replace(/=+$/, ''),
    b64url(secret),
    b64(`${username}:${secret}`),
    b64(`oauth2accesstoken:${secret}`),
    b64url(`oauth2accesstoken:${secret}`),
    encodeURIComponent(secret),
    new URLSearchParams({ p: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(JSON.stringify(secret)).slice(1, -1).slice(2, -2), // escaped twice: JSON inside JSON
  ];
}

describe('redaction rule (properties)', () => {
  it('removes every form of a registered secret of any length >= 4, wherever it sits in the text', () => {
    fc.assert(
      fc.property(secretArb, fc.string({ minLength: 1, maxLength: 12 }), textArb, textArb, (secret, username, before, after) => {
        const r = new Redactor();
        r.addSecret(secret);
        for (const form of formsOf(secret, username).filter((f) => f.length >= MIN_SECRET_LENGTH)) {
          const out = r.redact(`${before}${form}${after}`);
          for (const piece of pieces(out)) expect(piece).not.toContain(form);
          expect(out).toContain(REDACTED);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('removes a secret base64-encoded inside a longer text (a Basic value, a docker config, a JSON blob)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: MIN_SECRET_LENGTH, maxLength: 48 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.boolean(),
        (secret, before, after, urlSafe) => {
          const secretText = Buffer.from(secret).toString('latin1');
          const r = new Redactor();
          // Registered as text; encoded as its UTF-8 bytes, as a client would send it.
          r.addSecret(secretText);
          const bytes = Buffer.from(secretText, 'utf8');
          const whole = Buffer.concat([before, bytes, after]);
          const out = r.redact(urlSafe ? b64url(whole) : b64(whole));
          expect(out).toContain(REDACTED);
          // No piece left, decoded at any alignment, holds the secret.
          for (const piece of pieces(out))
            for (let k = 0; k < 4; k++) {
              const decoded = Buffer.from(piece.slice(k), urlSafe ? 'base64url' : 'base64');
              expect(decoded.includes(bytes)).toBe(false);
            }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the Basic value of user:password goes as a whole when the username is known', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9._-]{1,16}$/), secretArb, (user, password) => {
        const r = new Redactor();
        r.addSecret(password, { username: user });
        expect(r.redact(`Authorization: Basic ${b64(`${user}:${password}`)}`)).toBe(`Authorization: Basic ${REDACTED}`);
      }),
    );
  });

  it('ignores secrets shorter than 4 characters, and leaves text without secrets alone', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: MIN_SECRET_LENGTH - 1 }), fc.stringMatching(/^[a-z :=/.()0-9-]{0,80}$/), (short, text) => {
        expect(secretForms(short)).toEqual([]);
        const r = new Redactor();
        r.addSecret(short);
        expect(r.redact(text)).toBe(text);
      }),
    );
  });

  it('redact() is the one-off form of the same rule', () => {
    expect(redact('user pw1234 and cHcxMjM0', ['pw1234'])).toBe(`user ${REDACTED} and ${REDACTED}`);
  });
});

describe('Redactor', () => {
  it('removes known secrets and anything shaped like an access token or a private key', () => {
    const r = new Redactor();
    r.addSecret('opaque-secret-value-123');
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const text = [
      'token opaque-secret-value-123 here',
      'auth: Bearer ya29.c.b0AXv0zTNq-abc_def.ghi',
      privateKey,
      JSON.stringify({ private_key: privateKey, access_token: 'abcdefgh12345678' }),
      'Authorization: Bearer abcdefghijklmnopqrstuvwxyz',
    ].join('\n');
    const out = r.redact(text);
    expect(out).not.toContain('opaque-secret-value-123');
    expect(out).not.toContain('ya29.');
    expect(out).not.toContain('abcdefghijklmnopqrstuvwxyz');
    expect(out).not.toContain('abcdefgh12345678');
    for (const line of privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(out).not.toContain(line);
    expect(out).toContain('[REDACTED]');
  });

  it("removes a signed URL's signature but keeps the URL readable", () => {
    const r = new Redactor();
    const url =
      'https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=0a1b2c3d&X-Goog-Expires=600';
    expect(r.redact(`GET ${url}: 403`)).toBe(
      `GET https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${REDACTED}&X-Goog-Signature=${REDACTED}&X-Goog-Expires=600: 403`,
    );
  });

  it('leaves ordinary text alone', () => {
    const r = new Redactor();
    r.addSecret('abc'); // too short to be a secret: would redact ordinary words
    const text = 'gdib: phase=pulling nginx:1.27 (2/5 images) abc';
    expect(r.redact(text)).toBe(text);
  });
});
