import { createSign } from 'node:crypto';
import { ZonesClient } from '@google-cloud/compute';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeOptions } from './clients.js';
import { startEmulator, type Emulator } from './index.js';

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(() => emu.close());

const b64url = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The JWT-bearer assertion a Google library signs for a service-account key. */
function assertion(key: { client_email: string; private_key: string; private_key_id: string }, claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id });
  const body = b64url({
    iss: key.client_email,
    scope: 'https://www.googleapis.com/auth/cloud-platform',
    iat: now,
    exp: now + 3600,
    ...claims,
  });
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key.private_key, 'base64url');
  return `${head}.${body}.${sig}`;
}

const grant = (uri: string, jwt: string, grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer') =>
  fetch(uri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: grantType, assertion: jwt }).toString(),
  });

describe('authentication', () => {
  it('answers 401 in the API shape without a token, and with an unknown one', async () => {
    const res = await fetch(`${emu.computeEndpoint}projects/test-project/zones/us-central1-a`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.json()).toMatchObject({
      error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'required', location: 'Authorization' }] },
    });

    const zones = new ZonesClient(computeOptions(emu, 'ya29.unknown'));
    await expect(zones.get({ project: 'test-project', zone: 'us-central1-a' })).rejects.toMatchObject({ code: 401 });
    expect(emu.requests.at(-1)).toMatchObject({ authorization: 'Bearer ya29.unknown', status: 401, call: 'zones.get' });
    const storage = await fetch(`${emu.storageHost}/storage/v1/b/test-bucket`);
    expect(storage.status).toBe(401);
    await zones.close();
  });

  it('exchanges a signed JWT from a key file for a token the APIs accept', async () => {
    const { keyFile } = emu.createServiceAccountKey({ email: 'builder@test-project.iam.gserviceaccount.com' });
    expect(keyFile).toMatchObject({
      type: 'service_account',
      token_uri: emu.tokenUri,
      client_email: 'builder@test-project.iam.gserviceaccount.com',
    });
    expect(keyFile.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const res = await grant(keyFile.token_uri, assertion(keyFile, { aud: keyFile.token_uri }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.stringMatching(/^ya29\./) });
    expect(body.expires_in).toBeGreaterThan(3000);

    const zones = new ZonesClient(computeOptions(emu, body.access_token));
    const [zone] = await zones.get({ project: 'test-project', zone: 'us-central1-a' });
    expect(zone.name).toBe('us-central1-a');
    expect(emu.requests.at(-1)?.authorization).toBe(`Bearer ${body.access_token}`);
    expect(emu.state.tokenGrants).toEqual([
      expect.objectContaining({
        issuer: keyFile.client_email,
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        token: body.access_token,
      }),
    ]);
    await zones.close();
  });

  it('refuses bad grants with invalid_grant', async () => {
    const { keyFile } = emu.createServiceAccountKey();
    const other = emu.createServiceAccountKey();
    const cases: Array<[string, Response, string]> = [
      ['wrong audience', await grant(emu.tokenUri, assertion(keyFile, { aud: 'https://oauth2.googleapis.com/token' })), 'invalid_grant'],
      [
        'signed by another key',
        await grant(emu.tokenUri, assertion({ ...keyFile, private_key: other.keyFile.private_key }, { aud: emu.tokenUri })),
        'invalid_grant',
      ],
      [
        'unknown account',
        await grant(emu.tokenUri, assertion({ ...keyFile, client_email: 'who@x.iam.gserviceaccount.com' }, { aud: emu.tokenUri })),
        'invalid_grant',
      ],
      ['expired', await grant(emu.tokenUri, assertion(keyFile, { aud: emu.tokenUri, iat: 1000, exp: 2000 })), 'invalid_grant'],
      ['no scope', await grant(emu.tokenUri, assertion(keyFile, { aud: emu.tokenUri, scope: '' })), 'invalid_scope'],
      ['wrong grant type', await grant(emu.tokenUri, assertion(keyFile, { aud: emu.tokenUri }), 'password'), 'unsupported_grant_type'],
    ];
    for (const [what, res, error] of cases) {
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expect(await res.json()).toMatchObject({ error, error_description: expect.any(String) });
    }
    expect(emu.state.tokenGrants.filter((g) => g.error)).toHaveLength(cases.length);
  });
});
