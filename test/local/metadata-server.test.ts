// The local metadata server: what the scripts call, with the real server's rules, the caller's token,
// guest attributes forwarded — and nothing for another user's process.
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalMetadataServer, type LocalMetadataServer } from '../../src/local/metadata-server.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

const BASE = '/computeMetadata/v1/instance';
const FLAVOR = { 'Metadata-Flavor': 'Google' };

describe('local metadata server', () => {
  const servers: LocalMetadataServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  async function start(opts: Parameters<typeof startLocalMetadataServer>[0]): Promise<LocalMetadataServer> {
    const s = await startLocalMetadataServer(opts);
    servers.push(s);
    return s;
  }

  it('listens on 127.0.0.1 on a port of its own', async () => {
    const a = await start({ attributes: {} });
    const b = await start({ attributes: {} });
    expect(a.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(b.host).not.toBe(a.host);
  });

  it('serves instance attributes, only with Metadata-Flavor: Google', async () => {
    const s = await start({ attributes: { 'gdib-mode': 'build', 'gdib-container-images': 'a:1\nb:2', 'with space': 'x' } });
    const get = (path: string, headers: Record<string, string> = FLAVOR) => fetch(`http://${s.host}${BASE}/${path}`, { headers });

    const res = await get('attributes/gdib-container-images');
    expect(res.status).toBe(200);
    expect(res.headers.get('metadata-flavor')).toBe('Google');
    expect(await res.text()).toBe('a:1\nb:2');
    expect(await (await get('attributes/with%20space')).text()).toBe('x');
    expect((await get('attributes/gdib-mode?alt=text')).status).toBe(200);

    expect((await get('attributes/gdib-mode', {})).status).toBe(403);
    expect((await get('attributes/gdib-mode', { 'Metadata-Flavor': 'google-ish' })).status).toBe(403);
    expect((await get('attributes/gdib-mode', { ...FLAVOR, 'X-Forwarded-For': '10.0.0.1' })).status).toBe(403);
    expect((await get('attributes/no-such-key')).status).toBe(404);
    expect((await get('attributes/%E0%A4%A')).status).toBe(400);
    expect((await fetch(`http://${s.host}/computeMetadata/v1/project/project-id`, { headers: FLAVOR })).status).toBe(404);
    expect((await fetch(`http://${s.host}${BASE}/attributes/gdib-mode`, { method: 'POST', headers: FLAVOR })).status).toBe(404);
  });

  it("hands out the caller's token, fetched for each request", async () => {
    let n = 0;
    const s = await start({ attributes: {}, token: () => Promise.resolve(`ya29.caller-${++n}`) });
    const url = `http://${s.host}${BASE}/service-accounts/default/token`;
    expect((await fetch(url)).status).toBe(403);
    const first = await fetch(url, { headers: FLAVOR });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await first.json()).toEqual({ access_token: 'ya29.caller-1', expires_in: 300, token_type: 'Bearer' });
    expect(((await (await fetch(url, { headers: FLAVOR })).json()) as { access_token: string }).access_token).toBe('ya29.caller-2');
  });

  it('answers 404 for a token when it has none, and a bare 503 when getting one fails', async () => {
    const none = await start({ attributes: {} });
    expect((await fetch(`http://${none.host}${BASE}/service-accounts/default/token`, { headers: FLAVOR })).status).toBe(404);

    const failing = await start({
      attributes: {},
      token: () => Promise.reject(new Error('refresh failed for ya29.secret-in-an-error')),
    });
    const res = await fetch(`http://${failing.host}${BASE}/service-accounts/default/token`, { headers: FLAVOR });
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain('ya29');
  });

  it('forwards guest attribute writes, and only when guest attributes are enabled', async () => {
    const seen: [string, string][] = [];
    const s = await start({ attributes: { 'enable-guest-attributes': 'TRUE' }, onGuestAttribute: (k, v) => seen.push([k, v]) });
    const put = (key: string, body: string, headers: Record<string, string> = FLAVOR) =>
      fetch(`http://${s.host}${BASE}/guest-attributes/${key}`, { method: 'PUT', headers, body });
    expect((await put('gdib/state', 'running')).status).toBe(200);
    expect((await put('gdib/error', 'pulling a:1 failed: 50% done')).status).toBe(200);
    expect((await put('gdib/state', 'nope', {})).status).toBe(403);
    expect((await put('gdib', 'no key')).status).toBe(400);
    expect((await put('gdib/a/b', 'too deep')).status).toBe(400);
    expect((await put('gdib/progress', 'x'.repeat(65 * 1024))).status).toBe(413);
    expect(seen).toEqual([
      ['gdib/state', 'running'],
      ['gdib/error', 'pulling a:1 failed: 50% done'],
    ]);

    const disabled = await start({ attributes: {}, onGuestAttribute: (k, v) => seen.push([k, v]) });
    const res = await fetch(`http://${disabled.host}${BASE}/guest-attributes/gdib/state`, { method: 'PUT', headers: FLAVOR, body: 'x' });
    expect(res.status).toBe(403);
    expect(seen).toHaveLength(2);
  });

  it('closes, also twice, with a connection still open', async () => {
    const s = await start({ attributes: { k: 'v' } });
    expect((await fetch(`http://${s.host}${BASE}/attributes/k`, { headers: FLAVOR, keepalive: true })).status).toBe(200);
    await Promise.all([s.close(), s.close()]);
    await expect(fetch(`http://${s.host}${BASE}/attributes/k`, { headers: FLAVOR })).rejects.toThrow();
  });
});

describeRig('local metadata server and other users', () => {
  it("answers root's processes only: another user gets no token, attribute or guest attribute write", async () => {
    const seen: string[] = [];
    const s = await startLocalMetadataServer({
      attributes: { 'enable-guest-attributes': 'TRUE', k: 'v' },
      token: () => Promise.resolve('ya29.not-for-nobody'),
      onGuestAttribute: (k) => seen.push(k),
    });
    try {
      const curl = (asNobody: boolean, ...args: string[]) =>
        run(asNobody ? 'setpriv' : 'curl', [
          ...(asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl'] : []),
          '-sS',
          '-o',
          '-',
          '-w',
          '\n%{http_code}',
          '-H',
          'Metadata-Flavor: Google',
          ...args,
        ]);
      const token = `http://${s.host}${BASE}/service-accounts/default/token`;
      const stolen = await curl(true, token);
      expect(stolen.stdout).not.toContain('ya29');
      expect(stolen.stdout.split('\n').at(-1)).toBe('403');
      expect((await curl(true, `http://${s.host}${BASE}/attributes/k`)).stdout.split('\n').at(-1)).toBe('403');
      expect(
        (await curl(true, '-X', 'PUT', '--data', 'succeeded', `http://${s.host}${BASE}/guest-attributes/gdib/state`)).stdout
          .split('\n')
          .at(-1),
      ).toBe('403');
      expect(seen).toEqual([]);

      const mine = await curl(false, token);
      expect(mine.stdout).toContain('ya29.not-for-nobody');
      expect(mine.stdout.split('\n').at(-1)).toBe('200');
    } finally {
      await s.close();
    }
  });
});
