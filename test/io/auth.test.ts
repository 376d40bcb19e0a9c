import { createVerify, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenProvider, signAssertion } from '../../src/gcp/auth.js';
import { Redactor } from '../../src/io/redact.js';

describe('auth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = {
    path: 'k.json',
    type: 'service_account' as const,
    clientEmail: 'sa@p.iam.gserviceaccount.com',
    privateKey,
    privateKeyId: 'kid1',
    tokenUri: 'http://127.0.0.1:1/token',
  };

  it("signs an RS256 JWT-bearer assertion addressed to the key file's token_uri", () => {
    const jwt = signAssertion(key, 1000);
    const [h, c, s] = jwt.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid1' });
    expect(JSON.parse(Buffer.from(c!, 'base64url').toString())).toEqual({
      iss: key.clientEmail,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: key.tokenUri,
      iat: 1000,
      exp: 4600,
    });
    expect(createVerify('RSA-SHA256').update(`${h}.${c}`).verify(publicKey, Buffer.from(s!, 'base64url'))).toBe(true);
  });

  it('CLOUDSDK_AUTH_ACCESS_TOKEN is used as is and registered for redaction', async () => {
    const redactor = new Redactor();
    const p = createTokenProvider({ env: { CLOUDSDK_AUTH_ACCESS_TOKEN: 'raw-token-abcdef' }, redactor });
    expect((await p.getToken()).token).toBe('raw-token-abcdef');
    expect(redactor.redact('x raw-token-abcdef y')).toBe('x [REDACTED] y');
  });

  it('a key file registers its private key for redaction before any token is fetched', () => {
    const redactor = new Redactor();
    createTokenProvider({ keyFile: key, env: {}, redactor });
    expect(redactor.redact(`leak: ${privateKey}`)).not.toContain(privateKey.split('\n')[1]!);
  });
});
