/**
 * A Hugging Face Hub-shaped server for tests: model repositories with commits, branches and tags, gated and
 * private repositories, LFS files served by a "CDN" on another port (another origin) through signed redirects.
 * Point HF_ENDPOINT at `hub.endpoint`.
 *
 * What it answers, as the Hub does (shapes read from huggingface_hub's HfApi.model_info / list_repo_tree,
 * file_download's metadata headers and its error mapping):
 * - `GET /api/models/{repo}[/revision/{rev}]` → `{ _id, id, modelId, author, sha, private, gated, disabled,
 *   lastModified, tags, siblings: [{ rfilename }] }`; with `?blobs=true` each sibling also has `blobId`, `size` and,
 *   for LFS files, `lfs: { sha256, size, pointerSize }`. Model info of a gated repository is public. Like the Hub,
 *   whose cached `siblings` of a large repository can leave files out (huggingface_hub trusts them only up to 1,000
 *   files and otherwise lists the tree), it gives only the first `siblingsLimit` files when that is set.
 * - `GET /api/models/{repo}/tree/{rev}[/{path}]` (`?recursive=true`): `[{ type: 'file', oid, size, path,
 *   lfs? { oid, size, pointerSize } } | { type: 'directory', oid, size: 0, path }]` (as huggingface.js's listFiles
 *   reads them; `?expand=true` would add lastCommit and security fields), paged by an absolute `Link: <…>;
 *   rel="next"` header (`treePageSize`).
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}`: a regular file answers 200 (Range → 206) with `ETag: "<git blob
 *   oid>"`; an LFS file answers 302 to a signed URL on the CDN with `ETag` and `X-Linked-Etag` `"<sha256>"` and
 *   `X-Linked-Size`. Both carry `X-Repo-Commit`. The CDN serves Range requests and, like a signed object-store URL,
 *   refuses a request that also carries an `Authorization` header (400) or a bad signature (403).
 * - Errors carry `X-Error-Code` / `X-Error-Message` and a JSON `{ error }` body: an unknown or private repository is
 *   401 RepoNotFound without a (valid) token and 404 RepoNotFound with one; an unknown revision 404
 *   RevisionNotFound; a missing file 404 EntryNotFound; a gated repository's files 401 GatedRepo without a token,
 *   403 GatedRepo with a token that was not granted access; an unknown token 401 "Invalid credentials in
 *   Authorization header". A renamed repository answers a relative 307 to its new name.
 *
 * Revisions in URLs are one path segment (`refs%2Fpr%2F1`), as huggingface_hub quotes them.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type HubFileContent = string | Uint8Array;
/** A file to commit: its content, and whether it is stored in LFS (default: by extension, as .gitattributes does). */
export type HubFile = HubFileContent | { content: HubFileContent; lfs?: boolean };

export interface HubRepoOptions {
  /** Model info stays public; files need a token granted access (`grant`). */
  gated?: false | 'auto' | 'manual';
  /** Everything answers RepoNotFound unless the token was granted access. */
  private?: boolean;
  files: Record<string, HubFile>;
  /** The branch the first commit goes on (default `main`). */
  branch?: string;
}

export interface HubRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization?: string;
  range?: string;
  status: number;
}

export type HubFaultAction =
  /** Answer this status with a JSON error body, or with `body` as `contentType` (a proxy's HTML page). */
  | { status: number; headers?: Record<string, string>; body?: string; contentType?: string }
  /** Close the connection before answering. */
  | { reset: true }
  /** Send the headers and this many bytes of the body, then close the connection. */
  | { resetAfterBytes: number }
  /** Send the headers and this many bytes of the body, then send nothing more until the client gives up. */
  | { stallAfterBytes: number };

export interface HubFault {
  server?: 'hub' | 'cdn';
  method?: string;
  /** Tested against the path and query. */
  path?: string | RegExp;
  /** How many times it fires (default 1). */
  times?: number;
  action: HubFaultAction;
}

interface Blob {
  data: Buffer;
  lfs: boolean;
  /** git's blob oid of what git stores: the content, or the LFS pointer. */
  oid: string;
  sha256: string;
  pointerSize: number;
  /** The CDN's ETag, computed once (hashing a large file on every request would make each one slow). */
  md5?: string;
}

interface Commit {
  sha: string;
  files: Map<string, Blob>;
  date: Date;
}

interface Repo {
  id: string;
  objectId: string;
  gated: false | 'auto' | 'manual';
  private: boolean;
  refs: Map<string, string>;
  commits: Map<string, Commit>;
  granted: Set<string>;
}

const LFS_BY_DEFAULT = /\.(safetensors|bin|gguf|pt|pth|ckpt|onnx|h5|msgpack|tflite|ot|npz|arrow|parquet|zip|tar|gz)$/i;
const REPO = '([^/]+(?:/[^/]+)?)';
const INFO_PATH = new RegExp(`^/api/models/${REPO}(?:/revision/([^/]+))?$`);
const TREE_PATH = new RegExp(`^/api/models/${REPO}/tree/([^/]+)(?:/(.*))?$`);
const RESOLVE_PATH = new RegExp(`^/${REPO}/resolve/([^/]+)/(.+)$`);

const gitOid = (data: Buffer): string => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

function toBlob(path: string, file: HubFile): Blob {
  const spec = typeof file === 'string' || file instanceof Uint8Array ? { content: file } : file;
  const data = Buffer.from(spec.content);
  const lfs = spec.lfs ?? LFS_BY_DEFAULT.test(path);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${data.length}\n`);
  return { data, lfs, oid: gitOid(lfs ? pointer : data), sha256, pointerSize: pointer.length };
}

export class FakeHub {
  readonly requests: HubRequest[] = [];
  private readonly repos = new Map<string, Repo>();
  private readonly renames = new Map<string, string>();
  private readonly tokens = new Set<string>();
  private readonly faults: (HubFault & { remaining: number })[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly signingKey = randomBytes(16);
  private clock = Date.parse('2026-01-01T00:00:00Z');
  /** The most files model info lists in `siblings` (undefined: all), as the Hub's cache of a large repository. */
  siblingsLimit: number | undefined;

  private constructor(
    private readonly hub: Server,
    private readonly cdn: Server,
    private readonly treePageSize: number,
  ) {}

  /** Starts both servers on 127.0.0.1 (two ports: two origins). */
  static async start(opts: { treePageSize?: number; siblingsLimit?: number } = {}): Promise<FakeHub> {
    const hub = createServer();
    const cdn = createServer();
    const fake = new FakeHub(hub, cdn, opts.treePageSize ?? 1000);
    fake.siblingsLimit = opts.siblingsLimit;
    for (const [server, name] of [
      [hub, 'hub'],
      [cdn, 'cdn'],
    ] as const) {
      server.on('connection', (s: Socket) => {
        fake.sockets.add(s);
        s.on('close', () => fake.sockets.delete(s));
      });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        try {
          fake.handle(name, req, res);
        } catch (err) {
          if (!res.headersSent) fake.error(res, 500, 'InternalError', String(err));
          else res.destroy();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    return fake;
  }

  /** The Hub's base URL (HF_ENDPOINT). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
  }

  /** The CDN's base URL (where LFS files are redirected). */
  get cdnEndpoint(): string {
    return `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  /** A token the Hub accepts (`Authorization: Bearer <token>`); gated and private repositories also need `grant`. */
  addToken(token: string): void {
    this.tokens.add(token);
  }

  grant(token: string, repo: string): void {
    this.tokens.add(token);
    this.mustRepo(repo).granted.add(token);
  }

  /** Creates a repository with one commit; returns the commit's sha. */
  addRepo(id: string, opts: HubRepoOptions): string {
    if (this.repos.has(id)) throw new Error(`repo ${id} exists`);
    this.repos.set(id, {
      id,
      objectId: createHash('sha1').update(id).digest('hex').slice(0, 24),
      gated: opts.gated ?? false,
      private: opts.private ?? false,
      refs: new Map(),
      commits: new Map(),
      granted: new Set(),
    });
    return this.commit(id, opts.files, { branch: opts.branch ?? 'main' });
  }

  /**
   * A new commit on `branch` (default `main`): its files are the branch head's with `changes` applied (`null`
   * deletes a file). Returns the new commit's sha.
   */
  commit(id: string, changes: Record<string, HubFile | null>, opts: { branch?: string } = {}): string {
    const repo = this.mustRepo(id);
    const branch = opts.branch ?? 'main';
    const parent = repo.refs.get(branch);
    const files = new Map(parent ? repo.commits.get(parent)!.files : []);
    for (const [path, file] of Object.entries(changes)) {
      if (file === null) files.delete(path);
      else files.set(path, toBlob(path, file));
    }
    this.clock += 60_000;
    const sha = createHash('sha1')
      .update(`${id}\n${parent ?? ''}\n${this.clock}\n${[...files].map(([p, b]) => `${p} ${b.oid}`).join('\n')}`)
      .digest('hex');
    repo.commits.set(sha, { sha, files, date: new Date(this.clock) });
    repo.refs.set(branch, sha);
    return sha;
  }

  /** Points a tag or branch at a commit. */
  ref(id: string, name: string, sha: string): void {
    const repo = this.mustRepo(id);
    if (!repo.commits.has(sha)) throw new Error(`no commit ${sha} in ${id}`);
    repo.refs.set(name, sha);
  }

  /** Renames a repository: the old name answers a relative 307 to the new one, as the Hub does. */
  rename(from: string, to: string): void {
    const repo = this.mustRepo(from);
    this.repos.delete(from);
    repo.id = to;
    this.repos.set(to, repo);
    this.renames.set(from, to);
  }

  /** The sha of a branch or tag. */
  head(id: string, ref = 'main'): string {
    const sha = this.mustRepo(id).refs.get(ref);
    if (!sha) throw new Error(`no ref ${ref} in ${id}`);
    return sha;
  }

  fault(rule: HubFault): void {
    this.faults.push({ ...rule, remaining: rule.times ?? 1 });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  // ---- routing ------------------------------------------------------------------------------------------------

  private mustRepo(id: string): Repo {
    const repo = this.repos.get(id);
    if (!repo) throw new Error(`no repo ${id}`);
    return repo;
  }

  private handle(server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const record: HubRequest = {
      server,
      method,
      url: rawUrl,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
      status: 0,
    };
    this.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    req.resume();
    const fault = this.takeFault(server, method, rawUrl);
    if (fault && 'reset' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      if (fault.body !== undefined)
        res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'text/html', ...fault.headers }).end(fault.body);
      else this.error(res, fault.status, 'Fault', `injected ${fault.status}`, fault.headers);
      return;
    }
    const partial = fault && ('resetAfterBytes' in fault || 'stallAfterBytes' in fault) ? fault : undefined;
    const url = new URL(rawUrl, 'http://hub');
    if (method !== 'GET' && method !== 'HEAD') {
      this.error(res, 405, 'MethodNotAllowed', 'Method not allowed');
      return;
    }
    if (server === 'cdn') return this.serveCdn(req, res, url, partial);
    const path = decodeURI(url.pathname);
    const tree = TREE_PATH.exec(url.pathname);
    if (tree) return this.serveTree(req, res, url, tree);
    const info = INFO_PATH.exec(url.pathname);
    if (info) return this.serveInfo(req, res, url, info);
    const resolve = RESOLVE_PATH.exec(url.pathname);
    if (resolve) return this.serveResolve(req, res, url, resolve, partial);
    this.error(res, 404, undefined, `Sorry, we can't find the page you are looking for: ${path}`);
  }

  private takeFault(server: 'hub' | 'cdn', method: string, url: string): HubFaultAction | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.server && f.server !== server) continue;
      if (f.method && f.method !== method) continue;
      if (f.path !== undefined && !(typeof f.path === 'string' ? url.includes(f.path) : f.path.test(url))) continue;
      f.remaining--;
      return f.action;
    }
    return undefined;
  }

  /** The repository a request may see, or the answer already sent; a renamed one is redirected. */
  private access(req: IncomingMessage, res: ServerResponse, url: URL, repoId: string, files: boolean): Repo | undefined {
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = auth?.[1];
    if (req.headers.authorization !== undefined && (!token || !this.tokens.has(token))) {
      this.error(res, 401, undefined, 'Invalid credentials in Authorization header');
      return undefined;
    }
    const renamed = this.renames.get(repoId);
    if (renamed) {
      const location = url.pathname.replace(`/${repoId}/`, `/${renamed}/`) + url.search;
      res.writeHead(307, { location, 'content-type': 'text/plain' }).end(`Temporary Redirect. Redirecting to ${location}`);
      return undefined;
    }
    const repo = this.repos.get(repoId);
    const mayRead = (r: Repo): boolean => token !== undefined && r.granted.has(token);
    if (!repo || (repo.private && !mayRead(repo))) {
      this.error(res, token ? 404 : 401, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (files && repo.gated && !mayRead(repo)) {
      const message = token
        ? `Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${this.endpoint}/${repo.id} to ask for access.`
        : `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
      this.error(res, token ? 403 : 401, 'GatedRepo', message);
      return undefined;
    }
    return repo;
  }

  private commitAt(res: ServerResponse, repo: Repo, rawRev: string | undefined): Commit | undefined {
    const rev = rawRev === undefined ? 'main' : decodeURIComponent(rawRev);
    const sha = repo.refs.get(rev) ?? (repo.commits.has(rev) ? rev : undefined);
    if (!sha) {
      this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return undefined;
    }
    return repo.commits.get(sha)!;
  }

  private serveInfo(req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray): void {
    const repo = this.access(req, res, url, m[1]!, false);
    if (!repo) return;
    const commit = this.commitAt(res, repo, m[2]);
    if (!commit) return;
    const blobs = url.searchParams.get('blobs') === 'true';
    const siblings = [...commit.files].slice(0, this.siblingsLimit).map(([rfilename, b]) =>
      blobs
        ? {
            rfilename,
            blobId: b.oid,
            size: b.data.length,
            ...(b.lfs ? { lfs: { sha256: b.sha256, size: b.data.length, pointerSize: b.pointerSize } } : {}),
          }
        : { rfilename },
    );
    this.json(req, res, 200, {
      _id: repo.objectId,
      id: repo.id,
      modelId: repo.id,
      author: repo.id.includes('/') ? repo.id.split('/')[0] : undefined,
      sha: commit.sha,
      lastModified: commit.date.toISOString(),
      private: repo.private,
      gated: repo.gated,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: [],
      siblings,
      createdAt: '2025-01-01T00:00:00.000Z',
    });
  }

  private serveTree(req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray): void {
    const repo = this.access(req, res, url, m[1]!, false);
    if (!repo) return;
    const commit = this.commitAt(res, repo, m[2]);
    if (!commit) return;
    const base = m[3] ? decodeURIComponent(m[3]).replace(/\/+$/, '') : '';
    const recursive = ['true', '1'].includes(url.searchParams.get('recursive') ?? '');
    const entries = new Map<string, object>();
    const prefix = base ? `${base}/` : '';
    for (const [path, b] of [...commit.files].sort(([a], [c]) => (a < c ? -1 : 1))) {
      if (!path.startsWith(prefix)) continue;
      const parts = path.slice(prefix.length).split('/');
      const dirs = recursive ? parts.length - 1 : Math.min(1, parts.length - 1);
      for (let i = 1; i <= dirs; i++) {
        const dir = prefix + parts.slice(0, i).join('/');
        if (!entries.has(dir)) entries.set(dir, { type: 'directory', oid: gitOid(Buffer.from(dir)), size: 0, path: dir });
      }
      if (!recursive && parts.length > 1) continue;
      entries.set(path, {
        type: 'file',
        oid: b.oid,
        size: b.data.length,
        path,
        ...(b.lfs ? { lfs: { oid: b.sha256, size: b.data.length, pointerSize: b.pointerSize } } : {}),
      });
    }
    if (base && entries.size === 0) {
      this.error(res, 404, 'EntryNotFound', `${base} does not exist on "${m[2]}"`);
      return;
    }
    const all = [...entries.values()];
    const start = Number(url.searchParams.get('cursor') ?? '0') || 0;
    const page = all.slice(start, start + this.treePageSize);
    const headers: Record<string, string> = {};
    if (start + this.treePageSize < all.length) {
      const next = new URL(url.pathname + url.search, this.endpoint);
      next.searchParams.set('cursor', String(start + this.treePageSize));
      headers.link = `<${next.toString()}>; rel="next"`;
    }
    this.json(req, res, 200, page, headers);
  }

  private serveResolve(req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray, partial: HubFaultAction | undefined): void {
    const repo = this.access(req, res, url, m[1]!, true);
    if (!repo) return;
    const commit = this.commitAt(res, repo, m[2]);
    if (!commit) return;
    const path = m[3]!.split('/').map(decodeURIComponent).join('/');
    const blob = commit.files.get(path);
    if (!blob) {
      this.error(res, 404, 'EntryNotFound', 'Entry not found');
      return;
    }
    const common = { 'x-repo-commit': commit.sha, 'accept-ranges': 'bytes' };
    if (!blob.lfs) {
      this.sendBytes(req, res, blob.data, { ...common, etag: `"${blob.oid}"` }, partial);
      return;
    }
    const expires = Math.floor(this.clock / 1000) + 3600;
    const key = `repos/${repo.objectId.slice(0, 2)}/${repo.objectId.slice(2, 4)}/${repo.objectId}/${blob.sha256}`;
    const name = path.split('/').at(-1)!;
    const disposition = `attachment; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name.replace(/"/g, '')}";`;
    const signed = new URLSearchParams({ 'response-content-disposition': disposition, Expires: String(expires) });
    signed.set('Signature', this.sign(`/${key}?${signed.toString()}`));
    res
      .writeHead(302, {
        ...common,
        etag: `"${blob.sha256}"`,
        'x-linked-etag': `"${blob.sha256}"`,
        'x-linked-size': String(blob.data.length),
        location: `${this.cdnEndpoint}/${key}?${signed.toString()}`,
        'content-type': 'text/plain; charset=utf-8',
      })
      .end(req.method === 'HEAD' ? undefined : 'Found. Redirecting');
  }

  private sign(what: string): string {
    return createHmac('sha256', this.signingKey).update(what).digest('base64url');
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse, url: URL, partial: HubFaultAction | undefined): void {
    // A signed URL is its own credential: object stores refuse a second mechanism.
    if (req.headers.authorization !== undefined) {
      this.cdnError(
        res,
        400,
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
      return;
    }
    const sig = url.searchParams.get('Signature') ?? '';
    const unsigned = new URLSearchParams(url.search);
    unsigned.delete('Signature');
    if (sig !== this.sign(`${url.pathname}?${unsigned.toString()}`)) {
      this.cdnError(res, 403, 'AccessDenied', 'Access denied');
      return;
    }
    const sha256 = url.pathname.split('/').at(-1)!;
    const blob = this.findLfs(sha256);
    if (!blob) {
      this.cdnError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    const disposition = url.searchParams.get('response-content-disposition');
    this.sendBytes(
      req,
      res,
      blob.data,
      {
        etag: `"${(blob.md5 ??= createHash('md5').update(blob.data).digest('hex'))}"`,
        'accept-ranges': 'bytes',
        'content-type': 'binary/octet-stream',
        ...(disposition ? { 'content-disposition': disposition } : {}),
      },
      partial,
    );
  }

  private findLfs(sha256: string): Blob | undefined {
    for (const repo of this.repos.values())
      for (const c of repo.commits.values()) for (const b of c.files.values()) if (b.lfs && b.sha256 === sha256) return b;
    return undefined;
  }

  // ---- answers ------------------------------------------------------------------------------------------------

  /** Bytes with Range support (one range, `bytes=a-b`, `bytes=a-` or `bytes=-n`), then a fault if one fired. */
  private sendBytes(
    req: IncomingMessage,
    res: ServerResponse,
    data: Buffer,
    headers: Record<string, string>,
    partial: HubFaultAction | undefined,
  ): void {
    let status = 200;
    let body = data;
    const range = req.headers.range;
    if (range !== undefined) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range);
      let from = m?.[1] ? Number(m[1]) : undefined;
      let to = m?.[2] ? Number(m[2]) : undefined;
      if (m && from === undefined && to !== undefined) {
        from = Math.max(0, data.length - to);
        to = data.length - 1;
      }
      if (!m || from === undefined || from >= data.length || (to !== undefined && to < from)) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      const end = Math.min(to ?? data.length - 1, data.length - 1);
      status = 206;
      body = data.subarray(from, end + 1);
      headers = { ...headers, 'content-range': `bytes ${from}-${end}/${data.length}` };
    }
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (partial && 'resetAfterBytes' in partial) {
      res.write(body.subarray(0, partial.resetAfterBytes), () => res.destroy());
      return;
    }
    if (partial && 'stallAfterBytes' in partial) {
      res.write(body.subarray(0, partial.stallAfterBytes));
      return; // held open until the client gives up or the fake closes
    }
    res.end(body);
  }

  private json(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string | undefined,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify({ error: message });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      ...(code ? { 'x-error-code': code } : {}),
      'x-error-message': message,
      ...headers,
    });
    res.end(text);
  }

  private cdnError(res: ServerResponse, status: number, code: string, message: string): void {
    res
      .writeHead(status, { 'content-type': 'application/xml' })
      .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
  }
}
