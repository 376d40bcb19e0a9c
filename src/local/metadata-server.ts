// The GCE metadata server, for a startup script run on this machine (docs/architecture.md, Test seams): exactly what the
// agent calls —
//   GET /computeMetadata/v1/instance/attributes/<key>                 the rendered metadata (docs/architecture.md, VM metadata)
//   GET /computeMetadata/v1/instance/service-accounts/default/token   the caller's own access token
//   PUT /computeMetadata/v1/instance/guest-attributes/<ns>/<key>      the script's status (docs/architecture.md, VM status)
// — with the real server's rules where a script could notice: `Metadata-Flavor: Google` required,
// X-Forwarded-For refused, 404 for a missing key, guest attributes only with enable-guest-attributes.
//
// It listens on 127.0.0.1, where every local user could reach it; since it hands out the caller's
// access token, it answers only processes of this process's own user (root during a local build),
// whose owner it reads from /proc/net/tcp. It logs nothing, so no token reaches a log.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LocalMetadataServerOptions {
  /** Instance attributes, e.g. from `renderMetadata` (`key` → `value`). */
  attributes: Record<string, string>;
  /**
   * The access token the script pulls with (the caller's own Google token), fetched on each request;
   * without it the token endpoint answers 404, as on a VM without a service account.
   */
  token?: () => Promise<string>;
  /** Each guest attribute written, with its key as `<namespace>/<key>` (e.g. `gdib/state`). */
  onGuestAttribute?: (key: string, value: string) => void;
}

export interface LocalMetadataServer {
  /** `127.0.0.1:<port>`: the value for GCE_METADATA_HOST. */
  host: string;
  close(): Promise<void>;
}

const PREFIX = '/computeMetadata/v1/instance/';
const MAX_BODY = 64 * 1024;
/**
 * What `expires_in` says. The token's real lifetime is the caller's to know; google-auth-library hands
 * out a token only while it has at least five minutes left, and the scripts fetch one right before
 * each pull and never cache it.
 */
const TOKEN_EXPIRES_IN = 300;

function send(res: ServerResponse, status: number, body: string, type = 'application/text'): void {
  res.writeHead(status, { 'Content-Type': type, 'Metadata-Flavor': 'Google', 'Cache-Control': 'no-store' });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size <= MAX_BODY ? Buffer.concat(chunks).toString('utf8') : undefined));
    req.on('error', reject);
  });
}

/**
 * The uid owning the other end of a loopback TCP connection: the socket in /proc/net/tcp whose local
 * port is the peer's and whose remote port is ours. undefined when it cannot be found.
 */
export async function loopbackPeerUid(socket: Socket): Promise<number | undefined> {
  const peerPort = socket.remotePort;
  const ourPort = socket.localPort;
  if (peerPort === undefined || ourPort === undefined) return undefined;
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const local = `:${hexPort(peerPort)}`;
  const remote = `:${hexPort(ourPort)}`;
  let table: string;
  try {
    table = await readFile('/proc/net/tcp', 'utf8');
  } catch {
    return undefined;
  }
  // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if (f[1]?.endsWith(local) && f[2]?.endsWith(remote) && f[3] === '01' /* ESTABLISHED */) {
      const uid = Number(f[7]);
      return Number.isInteger(uid) ? uid : undefined;
    }
  }
  return undefined;
}

export async function startLocalMetadataServer(opts: LocalMetadataServerOptions): Promise<LocalMetadataServer> {
  const attributes = new Map(Object.entries(opts.attributes));
  const owner = process.geteuid?.() ?? process.getuid?.();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (owner === undefined || (await loopbackPeerUid(req.socket)) !== owner) {
      return send(res, 403, 'This metadata server answers only processes of the user running the build.');
    }
    if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'] !== undefined) {
      return send(res, 403, 'Missing required header "Metadata-Flavor": "Google"');
    }
    const pathname = new URL(req.url ?? '/', 'http://metadata').pathname;
    if (!pathname.startsWith(PREFIX)) return send(res, 404, 'Not found');
    let path: string;
    try {
      path = decodeURIComponent(pathname.slice(PREFIX.length));
    } catch {
      return send(res, 400, 'Bad request');
    }

    if (path.startsWith('attributes/') && req.method === 'GET') {
      const value = attributes.get(path.slice('attributes/'.length));
      return value === undefined ? send(res, 404, 'Not found') : send(res, 200, value);
    }
    if (path === 'service-accounts/default/token' && req.method === 'GET') {
      if (!opts.token) return send(res, 404, 'No service account: this local build runs without a Google access token.');
      let token: string;
      try {
        token = await opts.token();
      } catch {
        // The reason is the caller's to report; nothing about credentials goes to the script.
        return send(res, 503, 'Could not get an access token.');
      }
      return send(
        res,
        200,
        JSON.stringify({ access_token: token, expires_in: TOKEN_EXPIRES_IN, token_type: 'Bearer' }),
        'application/json',
      );
    }
    if (path.startsWith('guest-attributes/') && req.method === 'PUT') {
      if (attributes.get('enable-guest-attributes')?.toUpperCase() !== 'TRUE') {
        return send(res, 403, 'Guest attributes endpoint access is disabled.');
      }
      const key = path.slice('guest-attributes/'.length);
      if (!/^[^/]+\/[^/]+$/.test(key)) return send(res, 400, 'Guest attribute key must be <namespace>/<key>');
      const value = await readBody(req);
      if (value === undefined) return send(res, 413, 'Guest attribute value too large');
      opts.onGuestAttribute?.(key, value);
      return send(res, 200, '');
    }
    return send(res, 404, 'Not found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'Internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;

  return {
    host: `127.0.0.1:${port}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
