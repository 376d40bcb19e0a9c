// The loopback credential proxy (docs/vm-script.md, Credentials): for one pull, containerd reaches a registry
// through an HTTP server of the agent's on 127.0.0.1 (a random port), which forwards each request to the real
// registry and answers its challenges itself — Basic, or Docker's token authentication (the credentials exchanged
// at the challenge's realm for a short-lived bearer token, cached per scope and renewed when it runs out or the
// registry refuses it). The credentials live in the agent's memory only: never in a file, an argument or an
// environment. Bodies are streamed; a redirect (to blob storage) is passed on untouched, so containerd follows it
// without any Authorization header. Only connections from a process of the agent's own user are served.
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { rootCertificates } from 'node:tls';

export interface Upstream {
  /** `https://host[:port]` or `http://host[:port]` (a path is ignored). */
  url: string;
  /** PEM CA certificates to trust besides the system's. */
  ca?: string[];
  skipVerify?: boolean;
  /** A client certificate and its key (PEM), for a registry that asks for one (hosts.toml's `client`). */
  client?: { cert: string; key: string };
}

export interface ProxyOptions {
  upstream: Upstream;
  username: string;
  password: string;
  /** Whether a connection may be served; default: its peer runs as the agent's own user (see `peerUid`). */
  allowPeer?: (socket: Socket) => boolean;
}

export interface RegistryProxy {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Token exchanges done so far (for tests and the pull's log). */
  readonly exchanges: number;
  close(): Promise<void>;
}

/** One `WWW-Authenticate` challenge: its scheme and parameters (names lower-cased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The challenges of a `WWW-Authenticate` header (RFC 7235; quoted values may hold commas). */
export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  let current: Challenge | undefined;
  let pos = 0;
  while (pos < header.length) {
    // A parameter first (name=value), else a scheme.
    const param = /\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]*)\s*,?/y;
    param.lastIndex = pos;
    const p = param.exec(header);
    if (p && current) {
      current.params[(p[1] ?? '').toLowerCase()] = p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : (p[2] ?? '');
      pos = param.lastIndex;
      continue;
    }
    const scheme = /\s*,?\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)/y;
    scheme.lastIndex = pos;
    const s = scheme.exec(header);
    if (!s) break;
    current = { scheme: (s[1] ?? '').toLowerCase(), params: {} };
    out.push(current);
    pos = scheme.lastIndex;
  }
  return out;
}

/** The scope a registry request needs: `repository:<name>:pull` for /v2/<name>/(manifests|blobs|tags)/…. */
export function scopeOf(path: string): string | undefined {
  const m = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path.split('?')[0] ?? '');
  return m ? `repository:${m[1]}:pull` : undefined;
}

const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

function forwardHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}

/** The uid of the process at the other end of a loopback TCP connection (from /proc/net/tcp*), if found. */
export function peerUid(socket: Socket): number | undefined {
  const port = socket.remotePort;
  const local = socket.localPort;
  if (port === undefined || local === undefined) return undefined;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid …: the peer's socket has our port as its remote.
      if (f.length > 7 && f[1]?.endsWith(`:${hex(port)}`) && f[2]?.endsWith(`:${hex(local)}`)) return Number(f[7]);
    }
  }
  return undefined;
}

function sameUser(socket: Socket): boolean {
  const uid = peerUid(socket);
  return uid !== undefined && uid === process.getuid?.();
}

interface Token {
  value: string;
  /** ms since the epoch after which it is not used any more. */
  until: number;
}

function registryError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ errors: [{ code: status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE', message }] });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts a proxy for one upstream registry with one set of credentials. */
export async function startRegistryProxy(opts: ProxyOptions): Promise<RegistryProxy> {
  const upstream = new URL(opts.upstream.url);
  const ca = opts.upstream.ca?.length ? [...rootCertificates, ...opts.upstream.ca] : undefined;
  const client = opts.upstream.client;
  const tlsOptions: RequestOptions = {
    ...(ca ? { ca } : {}),
    ...(opts.upstream.skipVerify ? { rejectUnauthorized: false } : {}),
    ...(client ? { cert: client.cert, key: client.key } : {}),
  };
  const basic = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const allowPeer = opts.allowPeer ?? sameUser;
  /** How the registry wants its credentials, once it has said so. */
  let scheme: 'basic' | 'bearer' | undefined;
  let bearer: Challenge | undefined;
  const tokens = new Map<string, Token>();
  const pendingTokens = new Map<string, Promise<string>>();
  let exchanges = 0;

  const send = (target: URL, method: string, headers: Record<string, string | string[]>): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const https = target.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(
        target,
        { method, headers: { ...headers, host: target.host }, ...(https ? tlsOptions : {}), timeout: 60_000 },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} in 60 s`)));
      req.on('error', reject);
      req.end();
    });

  /** A bearer token for `scope` (undefined: the registry-wide one) from the challenge's realm. */
  const exchange = async (challenge: Challenge, scope: string | undefined): Promise<string> => {
    const realm = challenge.params.realm;
    if (!realm) throw new Error('the registry asked for a bearer token but named no realm');
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const wanted = scope ?? challenge.params.scope;
    if (wanted) for (const s of wanted.split(' ')) url.searchParams.append('scope', s);
    exchanges++;
    const res = await send(url, 'GET', { authorization: basic, accept: 'application/json' });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (res.statusCode !== 200) {
      throw new AuthError(res.statusCode ?? 0, `the token service ${url.host} refused the credentials (HTTP ${res.statusCode})`);
    }
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new Error(`the token service ${url.host} answered no JSON`);
    }
    const value = typeof json.token === 'string' ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined;
    if (!value) throw new Error(`the token service ${url.host} answered no token`);
    // The spec's default lifetime is 60 s; renew a little early (a tenth of its life, at most 10 s).
    const life = (typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60) * 1000;
    tokens.set(scope ?? '', { value, until: Date.now() + life - Math.min(10_000, life / 10) });
    return value;
  };

  const tokenFor = (challenge: Challenge, scope: string | undefined): Promise<string> => {
    const key = scope ?? '';
    const cached = tokens.get(key);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.value);
    let pending = pendingTokens.get(key);
    if (!pending) {
      pending = exchange(challenge, scope).finally(() => pendingTokens.delete(key));
      pendingTokens.set(key, pending);
    }
    return pending;
  };

  const authorization = async (scope: string | undefined): Promise<string | undefined> => {
    if (scheme === 'basic') return basic;
    if (scheme === 'bearer' && bearer) return `Bearer ${await tokenFor(bearer, scope)}`;
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      registryError(res, 405, `this proxy only pulls (${method} refused)`);
      return;
    }
    const incoming = new URL(req.url ?? '/', 'http://proxy');
    incoming.searchParams.delete('ns'); // containerd names the registry for a mirror
    const target = new URL(`${incoming.pathname}${incoming.search}`, upstream);
    const scope = scopeOf(incoming.pathname);
    const headers = forwardHeaders(req.headers);
    let upstreamRes: IncomingMessage | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const auth = await authorization(scope);
      upstreamRes = await send(target, method, auth ? { ...headers, authorization: auth } : headers);
      if (upstreamRes.statusCode !== 401) break;
      const challenges = parseChallenges(upstreamRes.headers['www-authenticate']);
      const b = challenges.find((c) => c.scheme === 'bearer');
      const basicChallenge = challenges.find((c) => c.scheme === 'basic');
      if (attempt === 2 || (!b && !basicChallenge)) break;
      upstreamRes.resume();
      if (b) {
        // A refused token is not used again: the next attempt exchanges the credentials anew.
        if (scheme === 'bearer') tokens.delete(scope ?? '');
        scheme = 'bearer';
        bearer = b;
      } else if (scheme === 'basic') {
        break; // the credentials themselves were refused
      } else {
        scheme = 'basic';
      }
    }
    if (!upstreamRes) return;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstreamRes.headers)) {
      if (v === undefined || HOP.has(k)) continue;
      // A final refusal carries no challenge: containerd must not try to authenticate around the proxy.
      if (k === 'www-authenticate') continue;
      out[k] = v;
    }
    // A redirect to the registry itself stays on the proxy; one elsewhere (blob storage) is passed on as is.
    const location = upstreamRes.headers.location;
    if (typeof location === 'string') {
      const to = new URL(location, target);
      if (to.origin === upstream.origin) out.location = `${to.pathname}${to.search}`;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, out);
    const body = upstreamRes;
    res.on('close', () => body.destroy());
    body.on('error', () => res.destroy());
    body.pipe(res);
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof AuthError ? 401 : 502;
      const why = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
      registryError(res, status, `registry ${upstream.host}: ${why}`);
    });
  });
  server.on('connection', (socket) => {
    if (!allowPeer(socket)) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get exchanges() {
      return exchanges;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

class AuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
