// The emulator's Secret Manager, spoken to by the project's own client (src/gcp/secret-manager.ts): versions by number
// and `latest`, the 404 of a missing secret or version, the 403 of a denied caller, the 400 of a disabled version, and
// the retry policy on a 503.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/gcp/errors.js';
import { SecretManager } from '../../src/gcp/secret-manager.js';
import { Redactor } from '../../src/io/redact.js';
import { startEmulator, type Emulator } from './index.js';

const TOKEN = 'ya29.secret-manager-test-token';
const OTHER = 'ya29.another-callers-token';
const SECRET = 'projects/test-project/secrets/registry';
const RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 5_000 };

let emu: Emulator;
let redactor: Redactor;
const client = (token = TOKEN) =>
  new SecretManager(
    { description: 'test', getToken: () => Promise.resolve({ token, expiresAt: Date.now() + 3_600_000 }) },
    emu.storageHost,
    RETRY,
    {},
    redactor,
  );
const signal = new AbortController().signal;
const status = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (err: unknown) => (err instanceof ApiError ? err.status : -1),
  );

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN, OTHER] });
  redactor = new Redactor();
});
afterEach(() => emu.close());

describe('Secret Manager', () => {
  it('reads a version by number and latest, with the bearer token', async () => {
    emu.secrets.add(SECRET, 'robot:first-password');
    emu.secrets.add(SECRET, 'robot:second-password');
    expect((await client().access(`${SECRET}/versions/1`, signal)).toString()).toBe('robot:first-password');
    expect((await client().access(`${SECRET}/versions/latest`, signal)).toString()).toBe('robot:second-password');
    expect(emu.requests.at(-1)).toMatchObject({
      call: 'secretmanager.versions.access',
      path: `/v1/${SECRET}/versions/latest:access`,
      authorization: `Bearer ${TOKEN}`,
    });
  });

  it('parses the registry credentials and tells the redactor the password and the Basic value', async () => {
    emu.secrets.add(SECRET, 'robot:second-password');
    expect(await client().registryCredentials(`${SECRET}/versions/latest`, 'ghcr.io', signal)).toEqual({
      username: 'robot',
      password: 'second-password',
    });
    const basic = Buffer.from('robot:second-password').toString('base64');
    expect(redactor.redact(`pw second-password, Basic ${basic}`)).toBe('pw [REDACTED], Basic [REDACTED]');
  });

  it('a token stored with a trailing newline: the redactor knows the value as used (trimmed), in every form', async () => {
    const token = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456';
    emu.secrets.add(SECRET, `${token}\n`);
    expect(await client().secretText(`${SECRET}/versions/latest`, signal)).toBe(token);
    const b64 = Buffer.from(token).toString('base64');
    expect(redactor.redact(`token=${token}; ${encodeURIComponent(`"${token}"`)} ${b64}`)).toBe(
      'token=[REDACTED]; %22[REDACTED]%22 [REDACTED]',
    );
  });

  it('answers 404 for a missing secret or version, and tells them apart with secrets.get', async () => {
    emu.secrets.add(SECRET, 'a:b');
    expect(await status(client().access('projects/test-project/secrets/nope/versions/latest', signal))).toBe(404);
    expect(await status(client().access(`${SECRET}/versions/2`, signal))).toBe(404);
    expect(await client().secretExists(SECRET, signal)).toBe(true);
    expect(await client().secretExists('projects/test-project/secrets/nope', signal)).toBe(false);
  });

  it('answers 403 to a denied caller only, in the API shape', async () => {
    emu.secrets.add(SECRET, 'a:b');
    emu.secrets.deny(SECRET, [OTHER]);
    expect(await status(client().access(`${SECRET}/versions/latest`, signal))).toBe(200);
    const denied = await client(OTHER)
      .access(`${SECRET}/versions/latest`, signal)
      .catch((e: unknown) => e as ApiError);
    expect(denied).toBeInstanceOf(ApiError);
    expect((denied as ApiError).info).toMatchObject({ status: 403, reason: 'PERMISSION_DENIED' });
    expect((denied as ApiError).message).toContain(`Permission 'secretmanager.versions.access' denied`);
    emu.secrets.deny(SECRET);
    expect(await status(client().secretExists(SECRET, signal))).toBe(403);
  });

  it('answers 400 FAILED_PRECONDITION for a disabled version, latest included', async () => {
    emu.secrets.add(SECRET, 'a:b');
    emu.secrets.disable(SECRET, 1);
    expect(await status(client().access(`${SECRET}/versions/1`, signal))).toBe(400);
    expect(await status(client().access(`${SECRET}/versions/latest`, signal))).toBe(400);
  });

  it('is retried on a 503 like every other call', async () => {
    emu.secrets.add(SECRET, 'a:b');
    emu.faults.add({ match: { call: 'secretmanager.versions.access' }, times: 2, action: { status: 503 } });
    expect((await client().access(`${SECRET}/versions/latest`, signal)).toString()).toBe('a:b');
    expect(emu.requests.filter((r) => r.call === 'secretmanager.versions.access').map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('needs a token', async () => {
    emu.secrets.add(SECRET, 'a:b');
    const res = await fetch(`${emu.storageHost}/v1/${SECRET}/versions/latest:access`);
    expect(res.status).toBe(401);
  });
});
