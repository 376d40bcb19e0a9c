// The registry secret formats, as the CLI parses them; build.sh's parser is held to the same fixtures
// (the VM agent imports this very parser).
import { describe, expect, it } from 'vitest';
import { parseRegistrySecret } from '../../src/registry/secret-format.js';
import { SECRET_CASES } from '../fixtures/registry-secrets.js';

const KEYS = ['auths', 'credsStore', 'identitytoken', 'username', 'password'];

describe('parseRegistrySecret', () => {
  it('has fixtures of both formats, good and bad', () => {
    expect(SECRET_CASES.filter((c) => c.expect && c.secret.startsWith('{')).length).toBeGreaterThan(2);
    expect(SECRET_CASES.filter((c) => c.expect && !c.secret.startsWith('{')).length).toBeGreaterThan(2);
    expect(SECRET_CASES.filter((c) => c.error).length).toBeGreaterThan(5);
  });

  it.each(SECRET_CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const r = parseRegistrySecret(c.host, c.secret);
    if (c.expect) expect(r).toEqual(c.expect);
    else {
      expect(typeof r).toBe('string');
      expect(r).toContain(c.error);
    }
  });

  it('never quotes the secret in what it finds wrong', () => {
    let checked = 0;
    for (const c of SECRET_CASES.filter((x) => x.error)) {
      const r = parseRegistrySecret(c.host, c.secret) as string;
      // Every word of the secret but the host and the JSON keys the complaint may name.
      const words = c.secret.split(/[:\s"{},]+/).filter((p) => p.length >= 6 && p !== c.host && !KEYS.includes(p));
      for (const word of words) expect(r).not.toContain(word);
      checked += words.length;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});
