// A data disk's sources (docs/architecture.md, Data disks): the parser of a `--data-source` value and the listing
// of what a source holds. The CLI lists every source at preflight with the caller's credentials, the VM agent lists
// them again with its own, and both compare dataFingerprint() of the two listings. Bundled into the agent: only
// Node's built-in modules and the global fetch, no Google client, no zod.
import type { DataChecksum, DataFile, DataSource } from './contract.js';
import { DATA_MANIFEST, diskPathProblem, MAX_DATA_FILES } from './contract.js';

// ---- parsing `SOURCE[=DEST]` ----------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Cloud Storage's bucket names (the full rules are config/gcs-path.ts's; this is the shape both sides need). */
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
/** A Hugging Face repository id, as huggingface_hub validates it: `[ORG/]NAME`, no `--` or `..`, at most 96 characters. */
const HF_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Names a data disk's root keeps for itself. */
const RESERVED_AT_ROOT = new Set([DATA_MANIFEST, 'lost+found']);

/**
 * A relative path on the disk, normalised (`./a//b/` → `a/b`; `.` → '' for the root), or what is wrong with it by
 * the one rule of a path on a data disk (diskPathProblem): never absolute, never a `..` part, no control characters
 * or backslashes, no name the root keeps for itself, within the length limits.
 */
export function diskPath(text: string): string | { problem: string } {
  if (text.startsWith('/')) return { problem: 'it is absolute (it must be relative to the disk root)' };
  const path = text
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
  const problem = diskPathProblem(path, true);
  return problem === undefined ? path : { problem };
}

/**
 * `gs://BUCKET[/PATH][=DEST]` or `hf://[ORG/]MODEL[@REVISION][=DEST]` → a DataSource, or what is wrong with it.
 * The value is split at its last `=`: a source whose own name holds a `=` (`gs://b/t/year=2024`) needs an explicit
 * `=DEST`. A gs:// path ending in `/` (or none) is a prefix; without one it is an object, or the prefix `PATH/` when
 * no such object exists (decided by the listing, resolveDataSource). DEST defaults to the last name of the path
 * (the bucket's name for a whole bucket) or MODEL; `.` is the disk's root.
 */
export function parseDataSource(value: string): DataSource | string {
  if (CONTROL.test(value)) return 'it contains control characters';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1];
  if (scheme === undefined) return `expected gs://BUCKET[/PATH][=DEST] or hf://ORG/MODEL[@REVISION][=DEST], got '${value}'`;
  if (scheme !== 'gs' && scheme !== 'hf') return `unknown scheme '${scheme}://' (expected gs:// or hf://)`;
  const rest = value.slice(scheme.length + 3);
  const eq = rest.lastIndexOf('=');
  const body = eq < 0 ? rest : rest.slice(0, eq);
  let dest: string | undefined;
  if (eq >= 0) {
    const d = diskPath(rest.slice(eq + 1));
    if (rest.slice(eq + 1) === '') return 'DEST after "=" is empty (use "." for the disk root)';
    if (typeof d !== 'string') return `DEST '${rest.slice(eq + 1)}': ${d.problem}`;
    dest = d;
  }
  const source = scheme === 'gs' ? parseGcs(body, dest) : parseHf(body, dest);
  if (typeof source === 'string') return source;
  if (RESERVED_AT_ROOT.has(source.dest)) return `DEST '${source.dest}' is a name the disk keeps for itself`;
  return source;
}

function parseGcs(body: string, dest: string | undefined): DataSource | string {
  const slash = body.indexOf('/');
  const bucket = slash < 0 ? body : body.slice(0, slash);
  const raw = slash < 0 ? '' : body.slice(slash + 1);
  if (bucket === '') return 'gs:// needs a bucket name (gs://BUCKET[/PATH])';
  if (!BUCKET.test(bucket))
    return `'${bucket}' is not a bucket name (3-222 lowercase letters, digits, "-", "_" and ".", starting and ending with a letter or digit)`;
  if (/[*?[\]]/.test(raw)) return 'wildcards ("*", "?", "[", "]") are not supported; name a prefix or an object';
  if (Buffer.byteLength(raw) > 1024) return 'the object name is longer than 1024 bytes';
  const prefix = raw === '' || raw.endsWith('/');
  const path = raw.replace(/\/+$/, '');
  const last = path === '' ? bucket : (path.split('/').at(-1) ?? bucket);
  // Cloud Storage names no object `.` or `..` (and a URL would read them as the bucket or its parent).
  if (path === '.' || path === '..') return `'${path}' is not an object name or prefix (Cloud Storage names none "." or "..")`;
  const fallback = diskPath(last);
  if (dest === undefined && (typeof fallback !== 'string' || fallback === ''))
    return `the default DEST '${last}' is not a usable directory name${typeof fallback === 'string' ? '' : ` (${fallback.problem})`}; give one with =DEST`;
  return { kind: 'gcs', bucket, path, prefix, dest: dest ?? (fallback as string) };
}

function parseHf(body: string, dest: string | undefined): DataSource | string {
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const parts = repo.split('/');
  if (repo === '') return 'hf:// needs a model repository (hf://ORG/MODEL[@REVISION])';
  if (parts[0] === 'datasets' || parts[0] === 'spaces') return 'only model repositories are supported (hf://ORG/MODEL)';
  if (parts.length > 2 || !parts.every((p) => HF_PART.test(p)) || /--|\.\./.test(repo) || repo.length > 96 || /\.$/.test(repo))
    return `'${repo}' is not a Hugging Face repository id (ORG/MODEL: letters, digits, "-", "_" and ".", at most 96 characters)`;
  if (revision === '' || /\s/.test(revision) || revision.length > 256) return `'${revision}' is not a revision (a branch, tag or commit)`;
  // As git refuses in a ref name (git check-ref-format): a `..`, a part starting with `.` — `.` and `..` among them,
  // which a URL would read as the repository's default branch.
  if (revision.includes('..') || revision.split('/').some((p) => p.startsWith('.')))
    return `'${revision}' is not a revision (a branch, tag or commit; git refuses ".." and a part starting with ".")`;
  return { kind: 'hf', repo, revision, dest: dest ?? (parts.at(-1) as string) };
}

/** A source as the user would write it: `gs://b/p/`, `hf://org/m@rev`, and `=DEST`. */
export function formatDataSource(s: DataSource): string {
  const src =
    s.kind === 'gcs' ? `gs://${s.bucket}${s.path ? `/${s.path}` : ''}${s.prefix && s.path ? '/' : ''}` : `hf://${s.repo}@${s.revision}`;
  return `${src}=${s.dest === '' ? '.' : s.dest}`;
}

// ---- listing --------------------------------------------------------------------------------------------------

export type DataSourceErrorCode =
  | 'BucketNotFound'
  | 'ObjectNotFound'
  | 'AccessDenied'
  | 'RepoNotFound'
  | 'RevisionNotFound'
  | 'GatedRepo'
  | 'BadListing'
  | 'StoredCompressed'
  | 'TooManyFiles'
  | 'Http';

/** Why a source cannot be listed; `message` names the source and says what to do. */
export class DataSourceError extends Error {
  constructor(
    readonly code: DataSourceErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DataSourceError';
  }
}

export interface ListOptions {
  fetch?: typeof fetch;
  /** An OAuth access token for Cloud Storage; undefined sends none (a public bucket, or the emulator). */
  token?: () => Promise<string | undefined>;
  /** Cloud Storage's JSON API base URL, e.g. `https://storage.googleapis.com`. */
  storageEndpoint: string;
  /** Hugging Face's base URL, e.g. `https://huggingface.co`. */
  hfEndpoint: string;
  hfToken?: string;
  signal?: AbortSignal;
}

/** Every file of one source, in name order. */
export async function listDataSource(source: DataSource, index: number, opts: ListOptions): Promise<DataFile[]> {
  return (await resolveDataSource(source, index, opts)).files;
}

/**
 * The source as resolved (a gs:// path without a trailing slash that names no object becomes a prefix; an hf://
 * revision becomes its 40-hex commit) and every file of it.
 */
export async function resolveDataSource(
  source: DataSource,
  index: number,
  opts: ListOptions,
): Promise<{ source: DataSource; files: DataFile[] }> {
  const resolved = source.kind === 'gcs' ? await resolveGcs(source, index, opts) : await resolveHf(source, index, opts);
  checkPaths(resolved.files, [resolved.source]);
  return resolved;
}

/**
 * The problem with a whole listing, or undefined: two files at one path, a file where another needs a directory,
 * a name the disk keeps for itself.
 */
export function listingProblem(files: readonly DataFile[], sources: readonly DataSource[]): string | undefined {
  const byPath = new Map<string, DataFile>();
  for (const f of files) {
    const other = byPath.get(f.path);
    if (other) return `${describe(f, sources)} and ${describe(other, sources)} both go to '${f.path}' on the disk`;
    byPath.set(f.path, f);
  }
  for (const f of files) {
    if (RESERVED_AT_ROOT.has(f.path.split('/')[0] ?? ''))
      return `${describe(f, sources)} would go to '${f.path}', a name the disk keeps for itself`;
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = byPath.get(parts.slice(0, i).join('/'));
      if (dir) return `${describe(dir, sources)} is a file at '${dir.path}', where ${describe(f, sources)} needs a directory`;
    }
  }
  return undefined;
}

function checkPaths(files: readonly DataFile[], sources: readonly DataSource[]): void {
  const problem = listingProblem(
    files.map((f) => ({ ...f, source: 0 })),
    sources,
  );
  if (problem) throw new DataSourceError('BadListing', problem);
}

function describe(f: DataFile, sources: readonly DataSource[]): string {
  const s = sources[f.source];
  if (!s) return `'${f.name}'`;
  return s.kind === 'gcs' ? `gs://${s.bucket}/${f.name}` : `hf://${s.repo}/${f.name}`;
}

/**
 * The on-disk path of `relative` (a name inside a source) under `dest`, or a BadListing error naming it: the whole
 * path must pass the rule the VM applies again (diskPathProblem), its length limits among it.
 */
function pathUnder(dest: string, relative: string, where: string): string {
  const path = dest === '' ? relative : `${dest}/${relative}`;
  const problem = relative === '' ? 'it is empty' : diskPathProblem(path);
  if (problem !== undefined)
    throw new DataSourceError('BadListing', `${where}: its name cannot be a path on the disk ('${path.slice(0, 200)}': ${problem})`);
  return path;
}

/** A source holding more files than a data disk takes (MAX_DATA_FILES). */
function checkCount(files: readonly DataFile[], what: string): void {
  if (files.length > MAX_DATA_FILES)
    throw new DataSourceError(
      'TooManyFiles',
      `${what}: more than ${MAX_DATA_FILES} files, the most a data disk takes; split the files across data disks (one --data-source each)`,
    );
}

// ---- HTTP -----------------------------------------------------------------------------------------------------

const RETRIES = 4;

async function get(url: string, headers: Record<string, string>, opts: ListOptions): Promise<Response> {
  const f = opts.fetch ?? fetch;
  let last: Response | undefined;
  let lastErr: unknown;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    if (attempt > 0) await pause(250 * 2 ** attempt, opts.signal);
    try {
      const res = await f(url, { headers, ...(opts.signal ? { signal: opts.signal } : {}) });
      if (res.status !== 429 && res.status < 500) return res;
      last = res;
      await res.body?.cancel();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      lastErr = err;
    }
  }
  if (last) return last;
  const origin = new URL(url).origin;
  throw new DataSourceError('Http', `cannot reach ${origin}: ${(lastErr as Error)?.message ?? String(lastErr)}`);
}

/** A HEAD request that follows no redirect (a redirect to the file's storage is an answer). */
async function head(url: string, headers: Record<string, string>, opts: ListOptions): Promise<Response> {
  const f = opts.fetch ?? fetch;
  const res = await f(url, { method: 'HEAD', headers, redirect: 'manual', ...(opts.signal ? { signal: opts.signal } : {}) });
  await res.body?.cancel();
  return res;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });
}

/** The JSON of a successful answer; a BadListing error naming the source when it is not JSON (a proxy's page). */
async function jsonOf(res: Response, url: string, what: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const type = res.headers.get('content-type') ?? 'no content type';
    throw new DataSourceError(
      'BadListing',
      `${what}: the answer of ${new URL(url).origin} was not JSON (HTTP ${res.status}, ${type}): something else, a proxy perhaps, answered in its place`,
      res.status,
    );
  }
}

async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const json = JSON.parse(text) as { error?: { message?: string } | string };
    const m = typeof json.error === 'string' ? json.error : json.error?.message;
    if (m) return m.replace(/\s+/g, ' ').slice(0, 300);
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}`;
}

// ---- Cloud Storage --------------------------------------------------------------------------------------------

interface GcsObject {
  name?: string;
  size?: string;
  md5Hash?: string;
  crc32c?: string;
  generation?: string;
  contentEncoding?: string;
}

const FIELDS = 'name,size,md5Hash,crc32c,generation,contentEncoding';

async function gcsHeaders(opts: ListOptions): Promise<Record<string, string>> {
  const token = opts.token ? await opts.token() : undefined;
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function gcsGet(url: string, what: string, opts: ListOptions): Promise<GcsObject | undefined> {
  const res = await get(url, await gcsHeaders(opts), opts);
  if (res.status === 404) {
    const text = await errorText(res);
    if (/specified bucket does not exist/i.test(text))
      throw new DataSourceError('BucketNotFound', `${what}: the bucket does not exist (${text})`, 404);
    return undefined;
  }
  if (res.status === 401 || res.status === 403)
    throw new DataSourceError('AccessDenied', `${what}: access denied (${await errorText(res)})`, res.status);
  if (!res.ok) throw new DataSourceError('Http', `${what}: ${await errorText(res)}`, res.status);
  return (await jsonOf(res, url, what)) as GcsObject;
}

function gcsFile(o: GcsObject, index: number, path: string, what: string): DataFile {
  const size = Number(o.size);
  if (!o.name || !Number.isSafeInteger(size) || size < 0 || !o.generation)
    throw new DataSourceError('BadListing', `${what}: the listing has an object without a name, size or generation`);
  // Stored compressed (`gcloud storage cp --gzip-local-all`, `gsutil cp -Z`): Cloud Storage serves it decompressed,
  // whole (no ranges), with no checksum of what it sends; a data disk holds files as they are to be read.
  const encoding = o.contentEncoding?.trim().toLowerCase();
  if (encoding && encoding !== 'identity')
    throw new DataSourceError(
      'StoredCompressed',
      `${what}: stored compressed (Content-Encoding: ${o.contentEncoding}), which Cloud Storage serves decompressed and unverifiable against its checksums; upload it uncompressed (not with --gzip-local-all or -Z), or set its Content-Encoding to identity to put the compressed bytes on the disk`,
    );
  const checksum: DataChecksum = o.md5Hash ? { md5: o.md5Hash } : o.crc32c ? { crc32c: o.crc32c } : { size: true };
  return { source: index, name: o.name, path, size, checksum, generation: o.generation };
}

async function resolveGcs(
  source: Extract<DataSource, { kind: 'gcs' }>,
  index: number,
  opts: ListOptions,
): Promise<{ source: DataSource; files: DataFile[] }> {
  const base = `${opts.storageEndpoint.replace(/\/+$/, '')}/storage/v1/b/${encodeURIComponent(source.bucket)}/o`;
  const url = `gs://${source.bucket}/${source.path}`;
  if (!source.prefix) {
    const o = await gcsGet(`${base}/${encodeURIComponent(source.path)}?fields=${FIELDS}`, url, opts);
    if (o !== undefined) {
      const name = o.name ?? source.path;
      const file = source.dest === '' ? pathUnder('', name.split('/').at(-1) ?? '', url) : source.dest;
      return { source, files: [gcsFile(o, index, file, url)] };
    }
  }
  const prefix = source.path === '' ? '' : `${source.path}/`;
  const files: DataFile[] = [];
  let pageToken: string | undefined;
  do {
    const q = new URLSearchParams({ prefix, fields: `items(${FIELDS}),nextPageToken`, maxResults: '1000' });
    if (pageToken) q.set('pageToken', pageToken);
    const pageUrl = `${base}?${q}`;
    const res = await get(pageUrl, await gcsHeaders(opts), opts);
    if (res.status === 404) throw new DataSourceError('BucketNotFound', `gs://${source.bucket}: the bucket does not exist`, 404);
    if (res.status === 401 || res.status === 403)
      throw new DataSourceError(
        'AccessDenied',
        `gs://${source.bucket}/${prefix}: cannot list objects (${await errorText(res)})`,
        res.status,
      );
    if (!res.ok) throw new DataSourceError('Http', `gs://${source.bucket}/${prefix}: ${await errorText(res)}`, res.status);
    const page = (await jsonOf(res, pageUrl, `gs://${source.bucket}/${prefix}`)) as { items?: GcsObject[]; nextPageToken?: string };
    for (const o of page.items ?? []) {
      const name = o.name ?? '';
      if (!name.startsWith(prefix)) continue;
      // A "folder" the Cloud console makes: an empty object named like a directory.
      if (name.endsWith('/') && Number(o.size) === 0) continue;
      files.push(
        gcsFile(
          o,
          index,
          pathUnder(source.dest, name.slice(prefix.length), `gs://${source.bucket}/${name}`),
          `gs://${source.bucket}/${name}`,
        ),
      );
    }
    checkCount(files, `gs://${source.bucket}/${prefix}`);
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  if (files.length === 0)
    throw new DataSourceError(
      'ObjectNotFound',
      source.prefix || source.path === ''
        ? `gs://${source.bucket}/${prefix}: no objects under this prefix`
        : `${url}: no such object, and no objects under ${url}/`,
      404,
    );
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { source: { ...source, prefix: true }, files };
}

// ---- Hugging Face ---------------------------------------------------------------------------------------------

interface HfModelInfo {
  sha?: string;
  gated?: boolean | string;
}

/** An entry of the tree API (`/api/models/REPO/tree/REV?recursive=true`), as huggingface_hub's list_repo_tree reads it. */
interface HfTreeEntry {
  type?: string;
  path?: string;
  size?: number;
  /** git's blob id of what git stores: the content, or for an LFS file its pointer. */
  oid?: string;
  lfs?: { oid?: string; size?: number };
}

const COMMIT = /^[0-9a-f]{40}$/;

async function resolveHf(
  source: Extract<DataSource, { kind: 'hf' }>,
  index: number,
  opts: ListOptions,
): Promise<{ source: DataSource; files: DataFile[] }> {
  const base = opts.hfEndpoint.replace(/\/+$/, '');
  const what = `hf://${source.repo}@${source.revision}`;
  const repoPath = source.repo.split('/').map(encodeURIComponent).join('/');
  // The model info pins the revision to its commit and says whether the model is gated; its `siblings` are not the
  // listing: the Hub leaves files out of them for large repositories.
  const url = `${base}/api/models/${repoPath}/revision/${encodeURIComponent(source.revision)}`;
  const headers: Record<string, string> = opts.hfToken ? { authorization: `Bearer ${opts.hfToken}` } : {};
  const res = await get(url, headers, opts);
  if (!res.ok) throw await hfError(res, what, source, opts.hfToken !== undefined);
  const info = (await jsonOf(res, url, what)) as HfModelInfo | null;
  if (!info?.sha || !COMMIT.test(info.sha)) throw new DataSourceError('BadListing', `${what}: the model info has no commit sha`);
  if (info.gated && info.gated !== 'false' && !opts.hfToken)
    throw new DataSourceError(
      'GatedRepo',
      `${what}: the model is gated; give a token of an account that has accepted its terms (--hf-token-secret)`,
      401,
    );
  const files: DataFile[] = [];
  for await (const e of hfTree(`${base}/api/models/${repoPath}/tree/${info.sha}?recursive=true`, headers, what, source, opts)) {
    if (e.type !== 'file') continue;
    const name = e.path ?? '';
    const where = `${what}: ${name}`;
    const size = e.lfs?.size ?? e.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new DataSourceError('BadListing', `${where}: the tree listing gives no size`);
    const sha = e.lfs?.oid;
    if (e.lfs && (sha === undefined || !/^[0-9a-f]{64}$/.test(sha)))
      throw new DataSourceError('BadListing', `${where}: the LFS sha256 is missing or malformed`);
    if (!e.lfs && (e.oid === undefined || !COMMIT.test(e.oid)))
      throw new DataSourceError('BadListing', `${where}: the git blob id is missing or malformed`);
    // Inside LFS its sha256; outside, the blob id is git's hash of the content itself.
    const checksum: DataChecksum = sha ? { sha256: sha } : { gitSha1: e.oid! };
    files.push({ source: index, name, path: pathUnder(source.dest, name, where), size, checksum });
    checkCount(files, what);
  }
  if (files.length === 0) throw new DataSourceError('BadListing', `${what}: the repository has no files at this revision`);
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < files.length; i++)
    if (files[i]!.name === files[i - 1]!.name) throw new DataSourceError('BadListing', `${what}: the tree lists ${files[i]!.name} twice`);
  // A gated model's info is public: whether the token was granted access shows only on a file (no redirect followed).
  if (info.gated && info.gated !== 'false') {
    const first = files[0]!;
    const fileUrl = `${base}/${repoPath}/resolve/${info.sha}/${first.name.split('/').map(encodeURIComponent).join('/')}`;
    const probe = await head(fileUrl, headers, opts);
    if (probe.status === 401 || probe.status === 403 || probe.status === 404)
      throw await hfError(probe, what, source, opts.hfToken !== undefined);
  }
  return { source: { ...source, revision: info.sha }, files };
}

/**
 * Every entry of the tree API at a commit, page after page: each answer's `Link: <…>; rel="next"` names the next
 * page, which must be on the Hub itself (the token goes with it).
 */
async function* hfTree(
  first: string,
  headers: Record<string, string>,
  what: string,
  source: Extract<DataSource, { kind: 'hf' }>,
  opts: ListOptions,
): AsyncGenerator<HfTreeEntry> {
  const origin = new URL(first).origin;
  const seen = new Set<string>();
  for (let url: string | undefined = first; url !== undefined;) {
    if (seen.has(url)) throw new DataSourceError('BadListing', `${what}: the tree listing names a page it already gave`);
    seen.add(url);
    const res = await get(url, headers, opts);
    if (!res.ok) throw await hfError(res, what, source, opts.hfToken !== undefined);
    const page = await jsonOf(res, url, what);
    if (!Array.isArray(page)) throw new DataSourceError('BadListing', `${what}: the tree listing is not a list`);
    yield* page as HfTreeEntry[];
    const next = nextLink(res.headers.get('link'), url);
    if (next !== undefined && new URL(next).origin !== origin)
      throw new DataSourceError('BadListing', `${what}: the tree listing's next page is on another host (${new URL(next).origin})`);
    url = next;
  }
}

/** The `rel="next"` URL of a Link header (RFC 8288), resolved against the page's URL. */
function nextLink(link: string | null, base: string): string | undefined {
  for (const m of (link ?? '').matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g))
    if (/;\s*rel\s*=\s*"?(?:[^";,]*\s)?next(?:\s[^";,]*)?"?/i.test(m[2] ?? '')) return new URL(m[1] ?? '', base).href;
  return undefined;
}

/** Hugging Face's `X-Error-Code` (RepoNotFound, RevisionNotFound, GatedRepo) as a typed error; its text otherwise. */
async function hfError(
  res: Response,
  what: string,
  source: Extract<DataSource, { kind: 'hf' }>,
  hadToken: boolean,
): Promise<DataSourceError> {
  const code = res.headers.get('x-error-code') ?? '';
  const message = (res.headers.get('x-error-message') ?? (await errorText(res))).replace(/\s+/g, ' ').slice(0, 300);
  if (code === 'GatedRepo' || (res.status === 403 && /gated|restricted/i.test(message)))
    return new DataSourceError(
      'GatedRepo',
      hadToken
        ? `${what}: the token has no access to this gated model (accept its terms on Hugging Face with the token's account)`
        : `${what}: the model is gated; give a token of an account that has accepted its terms (--hf-token-secret)`,
      res.status,
    );
  if (code === 'RevisionNotFound' || (res.status === 404 && /revision/i.test(message)))
    return new DataSourceError('RevisionNotFound', `${what}: no revision '${source.revision}' in ${source.repo}`, res.status);
  if (code === 'RepoNotFound' || res.status === 401 || res.status === 404)
    return new DataSourceError(
      'RepoNotFound',
      `${what}: repository ${source.repo} not found${hadToken ? ' (or the token cannot read it)' : ' (a private model needs --hf-token-secret)'}`,
      res.status,
    );
  return new DataSourceError('Http', `${what}: ${message}`, res.status);
}
