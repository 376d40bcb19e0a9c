// Docker's token authentication for the rig (distribution's token spec, as Docker Hub speaks it): a token service
// that checks Basic credentials at its realm and issues short-lived ES256 JWTs, signed by a test key whose
// self-signed certificate is the registry's `rootcertbundle` (the certificate travels in each token's `x5c`
// header). `startRegistry(dir, { tokenAuth })` runs Debian's docker-registry against it, and `expiringRelay`
// stands between a client and that registry holding back each blob request until the token it carries has run out,
// so a pull outlasts its token for certain.
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { selfSigned } from '../emulator/tls.js';

export interface TokenServer {
  /** `http://127.0.0.1:<port>/token` */
  realm: string;
  service: string;
  issuer: string;
  /** The certificate (PEM file) that signs the tokens: the registry's rootcertbundle. */
  certFile: string;
  /** Seconds a token is good for (`expires_in`, and its `exp`). */
  lifetimeS: number;
  /** Every token issued, with the scopes asked for. */
  issued: { scopes: string[]; token: string; exp: number }[];
  /** Token requests refused (bad or no credentials). */
  refused: number;
  close(): Promise<void>;
}

/**
 * distribution 2.8 accepts a token up to 60 s past its `exp` (clock skew); the service writes `exp` that much
 * earlier, so the registry refuses a token once `expires_in` has passed, as a registry without that leeway would.
 */
export const REGISTRY_LEEWAY_S = 60;

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function jwt(key: KeyObject, certDer: Buffer, claims: object): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] }));
  const payload = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(sig)}`;
}

export async function startTokenServer(
  dir: string,
  opts: { users: Record<string, string>; lifetimeS: number; service?: string },
): Promise<TokenServer> {
  const certFile = join(dir, 'token.crt');
  const identity = await selfSigned('gdib-rig-token');
  writeFileSync(certFile, identity.cert);
  const key = createPrivateKey(identity.key);
  const pem = identity.cert;
  const certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = opts.service ?? 'gdib-rig-registry';
  const issuer = 'gdib-rig-token-service';
  const issued: TokenServer['issued'] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    const [user, password] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(/:(.*)/s) : [];
    if (url.pathname !== '/token' || user === undefined || opts.users[user] === undefined || opts.users[user] !== password) {
      refused++;
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      return;
    }
    const scopes = url.searchParams.getAll('scope');
    const access = scopes
      .map((s) => /^repository:(.+):([a-z,*]+)$/.exec(s))
      .filter((m) => m !== null)
      .map((m) => ({ type: 'repository', name: m[1], actions: (m[2] ?? '').split(',') }));
    const now = Math.floor(Date.now() / 1000);
    const exp = now + opts.lifetimeS;
    const token = jwt(key, certDer, {
      iss: issuer,
      sub: user,
      aud: url.searchParams.get('service') ?? service,
      exp: exp - REGISTRY_LEEWAY_S,
      nbf: now - 5,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    });
    issued.push({ scopes, token, exp });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: opts.lifetimeS, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    lifetimeS: opts.lifetimeS,
    issued,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The `exp` (seconds since the epoch, as the service meant it) of a bearer token the service issued. */
function expiryOf(tokens: TokenServer, authorization: string | undefined): number | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  return tokens.issued.find((t) => t.token === authorization.slice(7))?.exp;
}

export interface Relay {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Blob requests held back until their token had run out. */
  heldBack: number;
  close(): Promise<void>;
}

/**
 * A plain-http relay to `target` (`127.0.0.1:<port>`) that holds back the first request for each blob until the
 * token it carries has run out — a pull slower than its token's life, without a slow disk or network.
 */
export async function expiringRelay(target: string, tokens: TokenServer): Promise<Relay> {
  const seenBlobs = new Set<string>();
  let heldBack = 0;
  const server = createServer((req, res) => {
    const forward = () => {
      const up = request(`http://${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    const exp = expiryOf(tokens, req.headers.authorization);
    const blob = /\/blobs\/sha256:/.test(req.url ?? '') && req.method === 'GET';
    if (!blob || exp === undefined || seenBlobs.has(req.url ?? '')) return forward();
    seenBlobs.add(req.url ?? '');
    heldBack++;
    // Until the registry's clock is past the token's exp (whole seconds), then on.
    const wait = exp * 1000 + 1000 - Date.now();
    setTimeout(forward, Math.max(0, wait));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get heldBack() {
      return heldBack;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
