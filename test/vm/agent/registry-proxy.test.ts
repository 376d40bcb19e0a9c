// The loopback credential proxy against fake registries speaking Basic and Docker's token authentication: it answers
// the challenges itself, renews a token the registry refuses, streams bodies, passes redirects to blob storage on
// without credentials, and serves only its own user.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parseChallenges, peerUid, scopeOf, startRegistryProxy, type RegistryProxy } from '../../../src/vm/agent/registry-proxy.js';
import { proxiedHostsDir } from '../../../src/vm/agent/credentials.js';
import { selfSigned, tlsIdentity } from '../../emulator/tls.js';
import { testCtx } from '../../rig/agent-ctx.js';

const USER = 'robot';
const PASSWORD = 'pw-0123456789';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

interface Seen {
  url: string;
  authorization?: string;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

function get(url: string, method = 'GET'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A registry with token authentication: tokens from its /token realm, each valid until `revoke()`. */
async function tokenRegistry(opts: { storage?: string } = {}) {
  const seen: Seen[] = [];
  const issued: { scope: string | null; service: string | null; token: string }[] = [];
  let valid = new Set<string>();
  let n = 0;
  const { server, url } = await listen((req, res) => {
    seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/token') {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401).end('{"details":"incorrect username or password"}');
        return;
      }
      const token = `tok-${++n}`;
      valid.add(token);
      issued.push({ scope: u.searchParams.get('scope'), service: u.searchParams.get('service'), token });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !valid.has(auth.slice(7))) {
      const scope = scopeOf(u.pathname);
      res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="${url}/token",service="fake.registry"${scope ? `,scope="${scope}"` : ''}${auth ? ',error="invalid_token"' : ''}`,
          'content-type': 'application/json',
        })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (u.pathname.includes('/blobs/redirected') && opts.storage) {
      res.writeHead(307, { location: `${opts.storage}/bucket/blob?X-Goog-Signature=sig` }).end();
      return;
    }
    if (u.pathname.includes('/blobs/')) {
      // Streamed in two chunks: the proxy must not wait for the whole body.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'docker-content-digest': 'sha256:x' });
      res.write('first;');
      setImmediate(() => res.end('second'));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{"manifest":1}');
  });
  cleanup.push(() => close(server));
  return {
    url,
    seen,
    issued,
    revoke: () => {
      valid = new Set();
    },
  };
}

async function proxyTo(url: string, password = PASSWORD): Promise<RegistryProxy> {
  const proxy = await startRegistryProxy({ upstream: { url }, username: USER, password });
  cleanup.push(() => proxy.close());
  return proxy;
}

/**
 * A registry over TLS that takes only clients presenting the certificate it was given (and Basic credentials): its
 * server identity is the emulator's self-signed one, the client's one of its own.
 */
async function mtlsRegistry() {
  const server = await tlsIdentity();
  const client = await selfSigned('gdib-test-client');
  const peers: string[] = [];
  const reg = createHttpsServer(
    { key: server.key, cert: server.cert, requestCert: true, rejectUnauthorized: true, ca: [client.cert] },
    (req, res) => {
      peers.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      if (req.headers.authorization !== BASIC) res.writeHead(401, { 'www-authenticate': 'Basic realm="mtls"' }).end();
      else res.end('ok');
    },
  );
  await new Promise<void>((r) => reg.listen(0, '127.0.0.1', r));
  cleanup.push(() => close(reg));
  return { url: `https://127.0.0.1:${(reg.address() as AddressInfo).port}`, serverCert: server.cert, client, peers };
}

describe('registry proxy', () => {
  it('parses challenges and scopes', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull", Basic realm="a, b"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/x:pull' },
      },
      { scheme: 'basic', params: { realm: 'a, b' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(scopeOf('/v2/library/x/manifests/latest?ns=docker.io')).toBe('repository:library/x:pull');
    expect(scopeOf('/v2/')).toBeUndefined();
  });

  it('exchanges the credentials for a token at the realm, caches it per scope and renews it when refused', async () => {
    const reg = await tokenRegistry();
    const proxy = await proxyTo(reg.url);
    const m = await get(`${proxy.url}/v2/team/app/manifests/1?ns=fake.registry`);
    expect(m).toMatchObject({ status: 200, body: '{"manifest":1}' });
    const b = await get(`${proxy.url}/v2/team/app/blobs/sha256:1`);
    expect(b).toMatchObject({ status: 200, body: 'first;second' });
    expect(reg.issued).toEqual([{ scope: 'repository:team/app:pull', service: 'fake.registry', token: 'tok-1' }]);
    // containerd's mirror parameter is not sent on; the token is, the credentials are not.
    expect(reg.seen.filter((s) => !s.url.startsWith('/token')).map((s) => s.url)).toEqual([
      '/v2/team/app/manifests/1',
      '/v2/team/app/manifests/1',
      '/v2/team/app/blobs/sha256:1',
    ]);
    expect(reg.seen.at(-1)?.authorization).toBe('Bearer tok-1');
    // The token runs out: the registry refuses it, the proxy exchanges the credentials again, the client sees 200.
    reg.revoke();
    const again = await get(`${proxy.url}/v2/team/app/blobs/sha256:2`, 'HEAD');
    expect(again.status).toBe(200);
    expect(reg.issued.map((t) => t.token)).toEqual(['tok-1', 'tok-2']);
    expect(reg.seen.at(-1)?.authorization).toBe('Bearer tok-2');
    expect(proxy.exchanges).toBe(2);
    // Another repository, another scope, another token.
    await get(`${proxy.url}/v2/team/other/manifests/1`);
    expect(reg.issued.at(-1)).toMatchObject({ scope: 'repository:team/other:pull', token: 'tok-3' });
  });

  it('refuses with 401 and no challenge when the token service refuses the credentials', async () => {
    const reg = await tokenRegistry();
    const proxy = await proxyTo(reg.url, 'wrong');
    const r = await get(`${proxy.url}/v2/team/app/manifests/1`);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBeUndefined();
    expect(r.body).toContain('refused the credentials');
    expect(r.body).not.toContain('wrong');
  });

  it('passes a redirect to blob storage on untouched, and sends storage no credentials', async () => {
    const storageSeen: Seen[] = [];
    const storage = await listen((req, res) => {
      storageSeen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.end('blob');
    });
    cleanup.push(() => close(storage.server));
    const reg = await tokenRegistry({ storage: storage.url });
    const proxy = await proxyTo(reg.url);
    const r = await get(`${proxy.url}/v2/team/app/blobs/redirected`);
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe(`${storage.url}/bucket/blob?X-Goog-Signature=sig`);
    // What containerd then does: it follows the redirect itself, with what it sent the proxy (no Authorization).
    expect((await get(r.headers.location ?? '')).body).toBe('blob');
    expect(storageSeen).toEqual([{ url: '/bucket/blob?X-Goog-Signature=sig' }]);
  });

  it('answers a Basic challenge with the credentials, and only that registry', async () => {
    const seen: Seen[] = [];
    const { server, url } = await listen((req, res) => {
      seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      if (req.headers.authorization !== BASIC) res.writeHead(401, { 'www-authenticate': 'Basic realm="rig"' }).end();
      else if (req.url?.includes('/blobs/local')) res.writeHead(307, { location: `${url}/v2/team/app/blobs/sha256:9` }).end();
      else res.end('ok');
    });
    cleanup.push(() => close(server));
    const proxy = await proxyTo(url);
    expect((await get(`${proxy.url}/v2/team/app/manifests/1`)).body).toBe('ok');
    expect((await get(`${proxy.url}/v2/team/app/manifests/2`)).body).toBe('ok');
    expect(seen.map((s) => s.authorization ?? '-')).toEqual(['-', BASIC, BASIC]);
    // A redirect to the registry itself stays on the proxy.
    expect((await get(`${proxy.url}/v2/team/app/blobs/local`)).headers.location).toBe('/v2/team/app/blobs/sha256:9');
    expect((await get(`${proxy.url}/v2/team/app/blobs/x`, 'DELETE')).status).toBe(405);
  });

  it('presents a client certificate to a registry that asks for one (mutual TLS)', async () => {
    const reg = await mtlsRegistry();
    const start = async (upstream: Parameters<typeof startRegistryProxy>[0]['upstream']) => {
      const p = await startRegistryProxy({ upstream, username: USER, password: PASSWORD });
      cleanup.push(() => p.close());
      return p;
    };
    const withCert = await start({ url: reg.url, ca: [reg.serverCert], client: reg.client });
    expect(await get(`${withCert.url}/v2/team/app/manifests/1`)).toMatchObject({ status: 200, body: 'ok' });
    expect(reg.peers).toEqual(['gdib-test-client', 'gdib-test-client']);
    // Without it the registry ends the handshake: a 502 naming no credential.
    const without = await start({ url: reg.url, ca: [reg.serverCert] });
    const refused = await get(`${without.url}/v2/team/app/manifests/1`);
    expect(refused.status).toBe(502);
    expect(refused.body).not.toContain(PASSWORD);
    expect(reg.peers).toHaveLength(2);
  });

  it("takes the CA and the client certificate from the host's hosts.toml, relative to its dir, key and cert in one file", async () => {
    const reg = await mtlsRegistry();
    const work = mkdtempSync(join(tmpdir(), 'gdib-hosts-'));
    cleanup.push(() => rmSync(work, { recursive: true, force: true }));
    const host = reg.url.slice('https://'.length);
    mkdirSync(join(work, 'certs.d', host), { recursive: true });
    writeFileSync(join(work, 'certs.d', host, 'ca.pem'), reg.serverCert);
    writeFileSync(join(work, 'certs.d', host, 'client.pem'), `${reg.client.cert}${reg.client.key}`);
    writeFileSync(join(work, 'certs.d', host, 'hosts.toml'), `server = "${reg.url}"\nca = "ca.pem"\nclient = "client.pem"\n`);
    const ctx = testCtx({ env: { workDir: join(work, 'w'), mountDir: join(work, 'm') } });
    const hosts = await proxiedHostsDir(ctx, join(work, 'certs.d'), host, 'k1', {
      username: USER,
      password: PASSWORD,
      source: { kind: 'secret', name: 'projects/p/secrets/s' },
    });
    cleanup.push(() => hosts.close());
    const written = readFileSync(join(hosts.dir, host, 'hosts.toml'), 'utf8');
    expect(written).not.toContain(PASSWORD);
    const proxy = /^server = "(http:\/\/127\.0\.0\.1:\d+)"$/m.exec(written)?.[1];
    expect(await get(`${proxy}/v2/team/app/manifests/1`)).toMatchObject({ status: 200, body: 'ok' });
    expect(reg.peers).toEqual(['gdib-test-client', 'gdib-test-client']);
  });

  it('serves its own user (the peer found in /proc/net/tcp) and no other', async () => {
    const reg = await tokenRegistry();
    const proxy = await proxyTo(reg.url);
    const uids: (number | undefined)[] = [];
    const own = await listen((req, res) => {
      uids.push(peerUid(req.socket));
      res.end();
    });
    cleanup.push(() => close(own.server));
    await get(own.url);
    expect(uids).toEqual([process.getuid?.()]);
    expect((await get(`${proxy.url}/v2/team/app/manifests/1`)).status).toBe(200);

    const refusing = await startRegistryProxy({ upstream: { url: reg.url }, username: USER, password: PASSWORD, allowPeer: () => false });
    cleanup.push(() => refusing.close());
    await expect(get(`${refusing.url}/v2/team/app/manifests/1`)).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});
