// A fake GCE metadata server (docs/architecture.md, Test seams), enough for the VM scripts: instance attributes, the default
// service account's access token, and guest attributes. It behaves like the real one where the scripts
// could notice: `Metadata-Flavor: Google` is required, a missing key is a 404, guest attributes are
// refused unless the instance has `enable-guest-attributes=TRUE`. Every token handed out is recorded
// so a test can prove it appears in no output. Reusable by anything that plays a VM locally.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetadataServerOptions {
  /** Instance attributes (`/computeMetadata/v1/instance/attributes/<key>`), e.g. from `renderMetadata`. */
  attributes: Record<string, string>;
  /** Makes the token for one token request; default: a fresh random token each call. */
  issueToken?: () => string | Promise<string>;
  /** Called after each guest attribute write, with the key as `<namespace>/<name>` (e.g. `gdib/state`). */
  onAttribute?: (key: string, value: string) => void;
  /** Port to listen on (127.0.0.1); default: any free one. */
  port?: number;
}

export interface MetadataServer {
  /** `127.0.0.1:<port>`: the value for GCE_METADATA_HOST. */
  host: string;
  /** Every access token handed out, in order. */
  readonly tokens: string[];
  /** Current guest attributes, `<namespace>/<name>` → value. */
  readonly guestAttributes: Map<string, string>;
  /** Every guest attribute write, in order. */
  readonly attributeLog: { key: string; value: string }[];
  /** Adds or replaces an instance attribute. */
  setAttribute(key: string, value: string): void;
  close(): Promise<void>;
}

const PREFIX = '/computeMetadata/v1/instance/';

/** A token shaped like a Google OAuth access token, random enough to grep for. */
export function randomToken(): string {
  return `ya29.rig-${randomBytes(24).toString('base64url')}`;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/text'): void {
  res.writeHead(status, { 'Content-Type': type, 'Metadata-Flavor': 'Google' });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startMetadataServer(opts: MetadataServerOptions): Promise<MetadataServer> {
  const attributes = new Map(Object.entries(opts.attributes));
  const tokens: string[] = [];
  const guestAttributes = new Map<string, string>();
  const attributeLog: { key: string; value: string }[] = [];
  const issue = opts.issueToken ?? randomToken;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://metadata');
    if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'] !== undefined) {
      return send(res, 403, 'Missing required header "Metadata-Flavor": "Google"');
    }
    if (!url.pathname.startsWith(PREFIX)) return send(res, 404, 'Not found');
    const path = url.pathname.slice(PREFIX.length);

    if (path.startsWith('attributes/') && req.method === 'GET') {
      const key = decodeURIComponent(path.slice('attributes/'.length));
      if (key === '') return send(res, 200, [...attributes.keys()].map((k) => `${k}\n`).join(''));
      const value = attributes.get(key);
      return value === undefined ? send(res, 404, 'Not found') : send(res, 200, value);
    }
    if (path === 'service-accounts/default/token' && req.method === 'GET') {
      const token = await issue();
      tokens.push(token);
      return send(res, 200, JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }), 'application/json');
    }
    if (path.startsWith('guest-attributes/')) {
      if (attributes.get('enable-guest-attributes')?.toUpperCase() !== 'TRUE') {
        return send(res, 403, 'Guest attributes endpoint access is disabled.');
      }
      const key = decodeURIComponent(path.slice('guest-attributes/'.length));
      if (req.method === 'PUT') {
        if (!/^[^/]+\/[^/]+$/.test(key)) return send(res, 400, 'Guest attribute key must be <namespace>/<key>');
        const value = await readBody(req);
        guestAttributes.set(key, value);
        attributeLog.push({ key, value });
        opts.onAttribute?.(key, value);
        return send(res, 200, '');
      }
      if (req.method === 'GET') {
        const value = guestAttributes.get(key);
        return value === undefined ? send(res, 404, 'Not found') : send(res, 200, value);
      }
    }
    return send(res, 404, 'Not found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, String(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    tokens,
    guestAttributes,
    attributeLog,
    setAttribute: (key, value) => void attributes.set(key, value),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
