import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/io/redact.js';

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

  it('leaves ordinary text alone', () => {
    const r = new Redactor();
    r.addSecret('short'); // too short to be a secret: would redact ordinary words
    const text = 'gdib: phase=pulling nginx:1.27 (2/5 images) short';
    expect(r.redact(text)).toBe(text);
  });
});
