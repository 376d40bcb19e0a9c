// The data-source parser and listing (src/vm/data-sources.ts): the parser as a table, the listing against a fake
// fetch (Hugging Face's answers, paging, errors) and against the emulator's Cloud Storage JSON API.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataFingerprint, diskPathProblem, type DataSource } from '../../src/vm/contract.js';
import {
  DataSourceError,
  formatDataSource,
  listDataSource,
  listingProblem,
  parseDataSource,
  resolveDataSource,
  type ListOptions,
} from '../../src/vm/data-sources.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { FakeHub } from '../fakes/hf-server.js';

describe('parseDataSource', () => {
  it.each<[string, DataSource]>([
    ['gs://bkt/models/m1', { kind: 'gcs', bucket: 'bkt', path: 'models/m1', prefix: false, dest: 'm1' }],
    ['gs://bkt/models/m1/', { kind: 'gcs', bucket: 'bkt', path: 'models/m1', prefix: true, dest: 'm1' }],
    ['gs://bkt', { kind: 'gcs', bucket: 'bkt', path: '', prefix: true, dest: 'bkt' }],
    ['gs://bkt/', { kind: 'gcs', bucket: 'bkt', path: '', prefix: true, dest: 'bkt' }],
    ['gs://bkt/a/config.json=cfg/c.json', { kind: 'gcs', bucket: 'bkt', path: 'a/config.json', prefix: false, dest: 'cfg/c.json' }],
    ['gs://bkt/t/year=2024=y2024', { kind: 'gcs', bucket: 'bkt', path: 't/year=2024', prefix: false, dest: 'y2024' }],
    ['gs://bkt/m/=.', { kind: 'gcs', bucket: 'bkt', path: 'm', prefix: true, dest: '' }],
    ['gs://bkt/m=./w//x/', { kind: 'gcs', bucket: 'bkt', path: 'm', prefix: false, dest: 'w/x' }],
    ['hf://org/model', { kind: 'hf', repo: 'org/model', revision: 'main', dest: 'model' }],
    ['hf://org/model@v1.0', { kind: 'hf', repo: 'org/model', revision: 'v1.0', dest: 'model' }],
    ['hf://gpt2@refs/pr/1=weights', { kind: 'hf', repo: 'gpt2', revision: 'refs/pr/1', dest: 'weights' }],
    ['hf://Org-1/Model_2.5', { kind: 'hf', repo: 'Org-1/Model_2.5', revision: 'main', dest: 'Model_2.5' }],
  ])('%s', (value, expected) => {
    expect(parseDataSource(value)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ['s3://bkt/x', /unknown scheme 's3:\/\/'/],
    ['bkt/x', /expected gs:\/\/BUCKET/],
    ['gs://', /needs a bucket name/],
    ['gs:///x', /needs a bucket name/],
    ['gs://Bad_Bucket/x', /not a bucket name/],
    ['gs://bkt/x*', /wildcards/],
    ['gs://bkt/x=/abs', /DEST '\/abs': it is absolute/],
    ['gs://bkt/x=a/../../b', /DEST 'a\/..\/..\/b': .*"\.\."/],
    ['gs://bkt/x=..', /"\.\."/],
    ['gs://bkt/x=', /DEST after "=" is empty/],
    ['gs://bkt/x=gdib-data.json', /keeps for itself/],
    ['gs://bkt/lost+found', /keeps for itself/],
    ['gs://bkt/x\n', /control characters/],
    ['hf://', /needs a model repository/],
    ['hf://a/b/c', /not a Hugging Face repository id/],
    ['hf://org/../x', /not a Hugging Face repository id/],
    ['hf://org/a--b', /not a Hugging Face repository id/],
    ['hf://datasets/org/x', /only model repositories/],
    ['hf://org/model@', /not a revision/],
    // A URL would read these as the default branch's info, or the bucket's: git and Cloud Storage refuse them.
    ['hf://org/model@..', /'\.\.' is not a revision .*git refuses/],
    ['hf://org/model@.', /'\.' is not a revision/],
    ['hf://org/model@refs/pr/..=m', /is not a revision/],
    ['hf://org/model@v1..v2', /is not a revision/],
    ['gs://bkt/..=x', /'\.\.' is not an object name or prefix/],
    ['gs://bkt/.=x', /'\.' is not an object name or prefix/],
    ['gs://bkt/../=x', /'\.\.' is not an object name or prefix/],
    ['gs://bkt/x=lost+found/y', /'lost\+found' is a name the disk keeps for itself/],
  ])('refuses %j', (value, problem) => {
    const out = parseDataSource(value);
    expect(typeof out).toBe('string');
    expect(out).toMatch(problem);
  });

  it('formats what it parses back', () => {
    for (const v of ['gs://bkt/models/m1/=m1', 'gs://bkt/a.bin=a.bin', 'hf://org/model@main=model', 'gs://bkt=.']) {
      const s = parseDataSource(v) as DataSource;
      expect(formatDataSource(s)).toBe(v);
    }
  });
});

const COMMIT = 'a'.repeat(40);
const SHA = createHash('sha256').update('weights').digest('hex');

/** A fetch answering from a table of `path?query` → response, recording what it was asked. */
function fakeFetch(routes: Record<string, () => Response>): { fetch: typeof fetch; calls: { url: string; auth: string | null }[] } {
  const calls: { url: string; auth: string | null }[] = [];
  const f = ((input: string | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push({ url: url.pathname + url.search, auth: new Headers(init?.headers).get('authorization') });
    const route = routes[url.pathname + url.search] ?? routes[url.pathname];
    return Promise.resolve(route ? route() : new Response('{"error":"no route"}', { status: 404 }));
  }) as typeof fetch;
  return { fetch: f, calls };
}

const base = (f: typeof fetch, extra: Partial<ListOptions> = {}): ListOptions => ({
  fetch: f,
  storageEndpoint: 'https://storage.test',
  hfEndpoint: 'https://hf.test',
  ...extra,
});

const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('Hugging Face listing', () => {
  const info = { id: 'org/model', sha: COMMIT, siblings: [] };
  const tree = [
    { type: 'file', path: 'model.safetensors', size: 7, oid: '1'.repeat(40), lfs: { oid: SHA, size: 7, pointerSize: 130 } },
    { type: 'file', path: 'config.json', size: 20, oid: '2'.repeat(40) },
    { type: 'directory', path: 'sub', size: 0, oid: '4'.repeat(40) },
    { type: 'file', path: 'sub/tokenizer.json', size: 5, oid: '3'.repeat(40) },
  ];
  const TREE = `/api/models/org/model/tree/${COMMIT}`;
  const src = parseDataSource('hf://org/model@main') as DataSource;

  it('pins the commit from the model info, lists the tree at that commit, sends the token', async () => {
    const { fetch, calls } = fakeFetch({ '/api/models/org/model/revision/main': json(info), [TREE]: json(tree) });
    const out = await resolveDataSource(src, 2, base(fetch, { hfToken: 'hf_secret' }));
    expect(out.source).toEqual({ ...src, revision: COMMIT });
    expect(out.files).toEqual([
      // Outside LFS its git blob id; inside, the LFS sha256 (its blob id is the pointer's).
      { source: 2, name: 'config.json', path: 'model/config.json', size: 20, checksum: { gitSha1: '2'.repeat(40) } },
      { source: 2, name: 'model.safetensors', path: 'model/model.safetensors', size: 7, checksum: { sha256: SHA } },
      { source: 2, name: 'sub/tokenizer.json', path: 'model/sub/tokenizer.json', size: 5, checksum: { gitSha1: '3'.repeat(40) } },
    ]);
    expect(calls).toEqual([
      { url: '/api/models/org/model/revision/main', auth: 'Bearer hf_secret' },
      { url: `${TREE}?recursive=true`, auth: 'Bearer hf_secret' },
    ]);
  });

  it('takes the files from the tree, never from the model info’s siblings (which the Hub cuts short)', async () => {
    const { fetch } = fakeFetch({
      '/api/models/org/model/revision/main': json({ ...info, siblings: [{ rfilename: 'config.json', size: 20 }] }),
      [TREE]: json(tree),
    });
    expect((await listDataSource(src, 0, base(fetch))).map((f) => f.name)).toEqual([
      'config.json',
      'model.safetensors',
      'sub/tokenizer.json',
    ]);
  });

  it('follows the tree’s Link rel="next" pages on the Hub, and refuses one on another host', async () => {
    const next = `https://hf.test${TREE}?recursive=true&cursor=abc`;
    const paged = fakeFetch({
      '/api/models/org/model/revision/main': json(info),
      [`${TREE}?recursive=true`]: json(tree.slice(0, 2), 200, { link: `<${next}>; rel="next"` }),
      [`${TREE}?recursive=true&cursor=abc`]: json(tree.slice(2)),
    });
    expect(await listDataSource(src, 0, base(paged.fetch, { hfToken: 'hf_t' }))).toHaveLength(3);
    expect(paged.calls.map((c) => c.url)).toEqual([
      '/api/models/org/model/revision/main',
      `${TREE}?recursive=true`,
      `${TREE}?recursive=true&cursor=abc`,
    ]);
    const away = fakeFetch({
      '/api/models/org/model/revision/main': json(info),
      [`${TREE}?recursive=true`]: json(tree.slice(0, 2), 200, { link: '<https://elsewhere.test/next>; rel="next"' }),
    });
    await expect(listDataSource(src, 0, base(away.fetch, { hfToken: 'hf_t' }))).rejects.toThrow(/next page is on another host/);
    expect(away.calls.map((c) => c.url)).not.toContain('/next');
  });

  it('encodes a revision with slashes as one path segment', async () => {
    const { fetch, calls } = fakeFetch({ '/api/models/org/model/revision/refs%2Fpr%2F1': json(info), [TREE]: json(tree) });
    await listDataSource({ kind: 'hf', repo: 'org/model', revision: 'refs/pr/1', dest: 'm' }, 0, base(fetch));
    expect(calls[0]?.url).toBe('/api/models/org/model/revision/refs%2Fpr%2F1');
  });

  it.each<[string, () => Response, (() => Response) | undefined, string | undefined, string, RegExp]>([
    [
      'RepoNotFound',
      json({ error: 'Repository not found' }, 401, { 'x-error-code': 'RepoNotFound' }),
      undefined,
      undefined,
      'RepoNotFound',
      /repository org\/model not found .*--hf-token-secret/,
    ],
    [
      'RevisionNotFound',
      json({ error: 'Invalid rev id: nope' }, 404, { 'x-error-code': 'RevisionNotFound' }),
      undefined,
      undefined,
      'RevisionNotFound',
      /no revision 'main'/,
    ],
    ['a bare 404', json({ error: 'Not Found' }, 404), undefined, undefined, 'RepoNotFound', /not found/],
    [
      'GatedRepo with a token',
      json({ error: 'Access to model org/model is restricted' }, 403, { 'x-error-code': 'GatedRepo' }),
      undefined,
      'hf_x',
      'GatedRepo',
      /token has no access/,
    ],
    [
      'GatedRepo on the tree',
      json(info),
      json({ error: 'Access to model org/model is restricted' }, 403, { 'x-error-code': 'GatedRepo' }),
      'hf_x',
      'GatedRepo',
      /token has no access/,
    ],
    ['a gated model without a token', json({ ...info, gated: 'manual' }), undefined, undefined, 'GatedRepo', /gated; .*--hf-token-secret/],
    ['no sha', json({ siblings: [] }), undefined, undefined, 'BadListing', /no commit sha/],
    [
      'no size',
      json(info),
      json([{ type: 'file', path: 'a', oid: '1'.repeat(40) }]),
      undefined,
      'BadListing',
      /a: the tree listing gives no size/,
    ],
    [
      'a malformed git blob id',
      json(info),
      json([{ type: 'file', path: 'a', size: 1, oid: 'b2' }]),
      undefined,
      'BadListing',
      /a: the git blob id is missing or malformed/,
    ],
    [
      'a malformed LFS sha256',
      json(info),
      json([{ type: 'file', path: 'a', size: 1, oid: '1'.repeat(40), lfs: { oid: 'nope', size: 1 } }]),
      undefined,
      'BadListing',
      /a: the LFS sha256 is missing or malformed/,
    ],
    [
      'a file escaping the disk',
      json(info),
      json([{ type: 'file', path: '../x', size: 1, oid: '1'.repeat(40) }]),
      undefined,
      'BadListing',
      /cannot be a path/,
    ],
    ['a tree that is not a list', json(info), json({ error: 'nope' }), undefined, 'BadListing', /not a list/],
    ['an empty repository', json(info), json([]), undefined, 'BadListing', /no files/],
    [
      'model info that is not JSON (a proxy’s page)',
      () => new Response('<html>Sign in to the proxy</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
      undefined,
      undefined,
      'BadListing',
      /^hf:\/\/org\/model@main: the answer of https:\/\/hf\.test was not JSON \(HTTP 200, text\/html\)/,
    ],
    [
      'a tree that is not JSON',
      json(info),
      () => new Response('<html/>', { status: 200, headers: { 'content-type': 'text/html' } }),
      undefined,
      'BadListing',
      /was not JSON/,
    ],
  ])('%s', async (_name, reply, treeReply, token, code, message) => {
    const { fetch } = fakeFetch({ '/api/models/org/model/revision/main': reply, [TREE]: treeReply ?? json(tree) });
    const err = await listDataSource(src, 0, base(fetch, token ? { hfToken: token } : {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataSourceError);
    expect((err as DataSourceError).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('hf_x');
  });

  it('a gated model with a token lists', async () => {
    const { fetch, calls } = fakeFetch({
      '/api/models/org/model/revision/main': json({ ...info, gated: 'auto' }),
      [TREE]: json(tree),
      [`/org/model/resolve/${COMMIT}/config.json`]: () => new Response(null, { status: 200 }),
    });
    expect(await listDataSource(src, 0, base(fetch, { hfToken: 't' }))).toHaveLength(3);
    expect(calls.map((c) => c.url)).toContain(`/org/model/resolve/${COMMIT}/config.json`);
  });

  it('retries a 503, then answers', async () => {
    let n = 0;
    const { fetch } = fakeFetch({
      '/api/models/org/model/revision/main': () => (n++ === 0 ? new Response('busy', { status: 503 }) : json(info)()),
      [TREE]: json(tree),
    });
    expect(await listDataSource(src, 0, base(fetch))).toHaveLength(3);
    expect(n).toBe(2);
  });
});

describe('paths on the disk: the rule the VM applies', () => {
  const long = (n: number, c: string) => Array.from({ length: n }, (_, i) => `${c}${i}`.padEnd(200, c)).join('/');
  const obj = (name: string) => ({ name, size: '1', md5Hash: 'bWQ1', generation: '1' });

  it('refuses a DEST and a name that pass alone but together are longer than the VM takes', async () => {
    const dest = long(15, 'd'); // 3014 bytes
    const name = `p/${long(5, 'n')}`; // 1006 bytes under p/
    expect(Buffer.byteLength(dest)).toBeLessThanOrEqual(4000);
    const source = parseDataSource(`gs://bkt/p/=${dest}`) as DataSource;
    const { fetch } = fakeFetch({ '/storage/v1/b/bkt/o': json({ items: [obj(name)] }) });
    const err = await listDataSource(source, 0, base(fetch)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BadListing' });
    expect((err as Error).message).toMatch(
      /^gs:\/\/bkt\/p\/n0n+.*: its name cannot be a path on the disk \('d0d+.*': it is longer than 4000 bytes\)$/,
    );
    // The VM's own check says the same of that path.
    expect(diskPathProblem(`${dest}/${name.slice(2)}`)).toBe('it is longer than 4000 bytes');
  });

  it('refuses a name with a part longer than 255 bytes', async () => {
    const { fetch } = fakeFetch({ '/storage/v1/b/bkt/o': json({ items: [obj(`p/${'é'.repeat(128)}`)] }) });
    await expect(listDataSource(parseDataSource('gs://bkt/p/') as DataSource, 0, base(fetch))).rejects.toThrow(
      /a part of it is longer than 255 bytes/,
    );
  });

  it('what the listing takes, the VM takes', async () => {
    const names = ['a', 'a b/c', 'x/'.repeat(100) + 'y', 'ü'.repeat(127), `${'z'.repeat(255)}/${'z'.repeat(255)}`];
    const { fetch } = fakeFetch({ '/storage/v1/b/bkt/o': json({ items: names.map((n) => obj(`p/${n}`)) }) });
    const files = await listDataSource(parseDataSource('gs://bkt/p/=deep/er') as DataSource, 0, base(fetch));
    expect(files).toHaveLength(names.length);
    for (const f of files) expect(diskPathProblem(f.path)).toBeUndefined();
  });
});

describe('Cloud Storage listing (fake fetch)', () => {
  const obj = (name: string, size = 3) => ({ name, size: String(size), md5Hash: 'bWQ1', crc32c: 'Y3Jj', generation: '17' });

  it('follows nextPageToken and keeps to the prefix (never models/m10)', async () => {
    const { fetch, calls } = fakeFetch({
      '/storage/v1/b/bkt/o/models%2Fm1': json({ error: { message: 'No such object: bkt/models/m1' } }, 404),
      '/storage/v1/b/bkt/o': () => {
        const last = calls.at(-1)!.url;
        return last.includes('pageToken=p2')
          ? json({ items: [obj('models/m1/z/b.bin'), obj('models/m1/dir/', 0)] })()
          : json({ items: [obj('models/m1/a.bin')], nextPageToken: 'p2' })();
      },
    });
    const out = await resolveDataSource(
      parseDataSource('gs://bkt/models/m1') as DataSource,
      0,
      base(fetch, { token: () => Promise.resolve('ya29.t') }),
    );
    expect(out.source).toMatchObject({ prefix: true, path: 'models/m1' });
    expect(out.files.map((f) => [f.name, f.path])).toEqual([
      ['models/m1/a.bin', 'm1/a.bin'],
      ['models/m1/z/b.bin', 'm1/z/b.bin'],
    ]);
    const lists = calls.filter((c) => c.url.startsWith('/storage/v1/b/bkt/o?'));
    expect(lists.map((c) => new URL(c.url, 'http://x').searchParams.get('prefix'))).toEqual(['models/m1/', 'models/m1/']);
    expect(calls.every((c) => c.auth === 'Bearer ya29.t')).toBe(true);
  });

  it('an object name that would escape the disk is refused, naming it', async () => {
    const { fetch } = fakeFetch({ '/storage/v1/b/bkt/o': json({ items: [obj('p/../../etc/x')] }) });
    await expect(listDataSource(parseDataSource('gs://bkt/p/') as DataSource, 0, base(fetch))).rejects.toThrow(
      /gs:\/\/bkt\/p\/\.\.\/\.\.\/etc\/x: its name cannot be a path/,
    );
  });

  it('a listing or an object that is not JSON (a proxy’s page) is BadListing, naming the source', async () => {
    const html = () => new Response('<html>proxy</html>', { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
    const list = fakeFetch({ '/storage/v1/b/bkt/o': html });
    await expect(listDataSource(parseDataSource('gs://bkt/p/') as DataSource, 0, base(list.fetch))).rejects.toMatchObject({
      code: 'BadListing',
      message:
        'gs://bkt/p/: the answer of https://storage.test was not JSON (HTTP 200, text/html; charset=utf-8): something else, a proxy perhaps, answered in its place',
    });
    const one = fakeFetch({ '/storage/v1/b/bkt/o/a.bin': html });
    const err = await listDataSource(parseDataSource('gs://bkt/a.bin') as DataSource, 0, base(one.fetch)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BadListing' });
    expect((err as Error).message).toMatch(/^gs:\/\/bkt\/a\.bin: the answer of https:\/\/storage\.test was not JSON/);
  });

  it('403 is AccessDenied', async () => {
    const { fetch } = fakeFetch({ '/storage/v1/b/bkt/o': json({ error: { message: 'caller does not have storage.objects.list' } }, 403) });
    await expect(listDataSource(parseDataSource('gs://bkt/p/') as DataSource, 0, base(fetch))).rejects.toMatchObject({
      code: 'AccessDenied',
    });
    await expect(listDataSource(parseDataSource('gs://bkt/p/') as DataSource, 0, base(fetch))).rejects.toThrow(/storage\.objects\.list/);
  });
});

describe('listingProblem', () => {
  const f = (source: number, name: string, path: string) => ({ source, name, path, size: 1, checksum: { size: true } as const });
  const sources: DataSource[] = [
    { kind: 'gcs', bucket: 'b', path: 'x', prefix: true, dest: 'x' },
    { kind: 'hf', repo: 'o/m', revision: COMMIT, dest: 'x' },
  ];
  it('two files at one path, a file where a directory goes', () => {
    expect(listingProblem([f(0, 'x/a', 'x/a'), f(1, 'a', 'x/a')], sources)).toMatch(/hf:\/\/o\/m\/a and gs:\/\/b\/x\/a both go to 'x\/a'/);
    expect(listingProblem([f(0, 'x/a', 'x/a'), f(1, 'a/b', 'x/a/b')], sources)).toMatch(/is a file at 'x\/a', where .* needs a directory/);
    expect(listingProblem([f(0, 'x/a', 'x/a'), f(1, 'b', 'x/b')], sources)).toBeUndefined();
  });
});

describe('Cloud Storage listing against the emulator', () => {
  const TOKEN = 'ya29.data-sources';
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ acceptTokens: [TOKEN], buckets: [{ name: 'weights' }] });
    const put = async (name: string, body: string) => {
      const res = await fetch(`${emu.storageHost}/upload/storage/v1/b/weights/o?uploadType=media&name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
        body,
      });
      expect(res.status).toBe(200);
    };
    await put('models/m1/config.json', '{"a":1}');
    await put('models/m1/shards/w-0001.bin', 'weights-one');
    await put('models/m10/other.bin', 'not mine');
    await put('single.bin', 'one object');
  });
  afterAll(() => emu.close());
  const opts = (): ListOptions => ({
    storageEndpoint: emu.storageHost,
    hfEndpoint: 'http://unused.invalid',
    token: () => Promise.resolve(TOKEN),
  });

  it('a prefix takes models/m1/** with the JSON API’s md5Hash and generation, never models/m10', async () => {
    const out = await resolveDataSource(parseDataSource('gs://weights/models/m1') as DataSource, 0, opts());
    const md5 = (s: string) => createHash('md5').update(s).digest('base64');
    expect(out.files).toEqual([
      expect.objectContaining({ name: 'models/m1/config.json', path: 'm1/config.json', size: 7, checksum: { md5: md5('{"a":1}') } }),
      expect.objectContaining({ name: 'models/m1/shards/w-0001.bin', path: 'm1/shards/w-0001.bin', size: 11 }),
    ]);
    expect(out.files.every((f) => /^[0-9]+$/.test(f.generation ?? ''))).toBe(true);
    expect(out.source).toMatchObject({ prefix: true });
  });

  it('one object: its path is DEST, its generation changes the fingerprint when rewritten', async () => {
    const src = parseDataSource('gs://weights/single.bin=data/one.bin') as DataSource;
    const before = await listDataSource(src, 0, opts());
    expect(before).toEqual([expect.objectContaining({ name: 'single.bin', path: 'data/one.bin', size: 10 })]);
    const gen = emu.state.object('weights', 'single.bin')!;
    gen.generation += 1;
    const after = await listDataSource(src, 0, opts());
    expect(dataFingerprint(after)).not.toBe(dataFingerprint(before));
  });

  it('an object stored compressed (Content-Encoding: gzip) is refused at listing, naming it and the way out', async () => {
    const res = await fetch(`${emu.storageHost}/upload/storage/v1/b/weights/o?uploadType=media&name=gz%2Fa.bin&contentEncoding=gzip`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
      body: gzipSync(Buffer.from('weights')),
    });
    expect(res.status).toBe(200);
    const refused = listDataSource(parseDataSource('gs://weights/gz/') as DataSource, 0, opts());
    await expect(refused).rejects.toMatchObject({ code: 'StoredCompressed' });
    await expect(refused).rejects.toThrow(
      /^gs:\/\/weights\/gz\/a\.bin: stored compressed \(Content-Encoding: gzip\).*upload it uncompressed/,
    );
    // Content-Encoding: identity is what an uncompressed upload says.
    emu.state.object('weights', 'gz/a.bin')!.contentEncoding = 'identity';
    expect(await listDataSource(parseDataSource('gs://weights/gz/') as DataSource, 0, opts())).toHaveLength(1);
  });

  it('missing object, missing bucket', async () => {
    await expect(listDataSource(parseDataSource('gs://weights/models/m2') as DataSource, 0, opts())).rejects.toMatchObject({
      code: 'ObjectNotFound',
      message: 'gs://weights/models/m2: no such object, and no objects under gs://weights/models/m2/',
    });
    await expect(listDataSource(parseDataSource('gs://nope-bucket/x/') as DataSource, 0, opts())).rejects.toMatchObject({
      code: 'BucketNotFound',
    });
    await expect(listDataSource(parseDataSource('gs://nope-bucket/x') as DataSource, 0, opts())).rejects.toMatchObject({
      code: 'BucketNotFound',
    });
  });

  it('pages through the emulator (maxResults 1000 holds more than one page of objects)', async () => {
    for (let i = 0; i < 1005; i++) {
      emu.state.objects.set(`weights/many/${String(i).padStart(4, '0')}`, {
        bucket: 'weights',
        name: `many/${String(i).padStart(4, '0')}`,
        data: Buffer.from('x'),
        contentType: 'application/octet-stream',
        generation: 1 + i,
        metageneration: 1,
        createdAt: 0,
        updatedAt: 0,
      });
    }
    const files = await listDataSource(parseDataSource('gs://weights/many/') as DataSource, 0, opts());
    expect(files).toHaveLength(1005);
    expect(emu.requests.filter((r) => r.call === 'storage.objects.list' && r.query['prefix'] === 'many/').length).toBe(2);
  });
});

describe('Hugging Face listing against the Hub-shaped fake', () => {
  let hub: FakeHub;
  let main: string;
  let v1: string;
  beforeAll(async () => {
    hub = await FakeHub.start();
    v1 = hub.addRepo('org/tiny', {
      files: { 'config.json': '{"layers":2}', 'model.safetensors': 'W'.repeat(1000), 'sub/vocab.txt': 'a\nb\n' },
    });
    hub.ref('org/tiny', 'v1', v1);
    main = hub.commit('org/tiny', { 'model.safetensors': 'X'.repeat(1200) });
    hub.addRepo('org/gated', { gated: 'manual', files: { 'w.bin': 'gated weights' } });
    hub.addRepo('org/private', { private: true, files: { 'w.bin': 'private weights' } });
    hub.grant('hf_granted', 'org/gated');
    hub.grant('hf_granted', 'org/private');
    hub.addToken('hf_other');
  });
  afterAll(() => hub.close());
  const opts = (hfToken?: string): ListOptions => ({
    storageEndpoint: 'http://unused.invalid',
    hfEndpoint: hub.endpoint,
    ...(hfToken ? { hfToken } : {}),
  });
  const src = (v: string) => parseDataSource(v) as DataSource;

  it('a branch pins to its head commit; sizes, LFS sha256 and git blob ids as the files hold them', async () => {
    // What `git hash-object` prints for the content.
    const gitSha1 = (s: string) =>
      createHash('sha1')
        .update(`blob ${Buffer.byteLength(s)}\0${s}`)
        .digest('hex');
    const out = await resolveDataSource(src('hf://org/tiny'), 0, opts());
    expect(out.source).toMatchObject({ revision: main });
    const sha = createHash('sha256').update('X'.repeat(1200)).digest('hex');
    expect(out.files).toEqual([
      { source: 0, name: 'config.json', path: 'tiny/config.json', size: 12, checksum: { gitSha1: gitSha1('{"layers":2}') } },
      { source: 0, name: 'model.safetensors', path: 'tiny/model.safetensors', size: 1200, checksum: { sha256: sha } },
      { source: 0, name: 'sub/vocab.txt', path: 'tiny/sub/vocab.txt', size: 4, checksum: { gitSha1: gitSha1('a\nb\n') } },
    ]);
  });

  it('a tag and a commit give the same listing, whose fingerprint differs from the newer commit', async () => {
    const tag = await resolveDataSource(src('hf://org/tiny@v1'), 0, opts());
    const commit = await resolveDataSource(src(`hf://org/tiny@${v1}`), 0, opts());
    expect(tag).toEqual(commit);
    expect(tag.source).toMatchObject({ revision: v1 });
    const head = await listDataSource(src('hf://org/tiny'), 0, opts());
    expect(dataFingerprint(tag.files)).not.toBe(dataFingerprint(head));
  });

  it.each<[string, string | undefined, string]>([
    ['hf://org/none', undefined, 'RepoNotFound'],
    ['hf://org/tiny@nope', undefined, 'RevisionNotFound'],
    ['hf://org/gated', undefined, 'GatedRepo'],
    ['hf://org/gated', 'hf_other', 'GatedRepo'],
    ['hf://org/private', undefined, 'RepoNotFound'],
    ['hf://org/private', 'hf_other', 'RepoNotFound'],
  ])('%s with token %s: %s', async (value, token, code) => {
    const err = await listDataSource(src(value), 0, opts(token)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect(String(err)).not.toMatch(/hf_other/);
  });

  it('a granted token lists a gated and a private model', async () => {
    expect(await listDataSource(src('hf://org/gated'), 0, opts('hf_granted'))).toHaveLength(1);
    expect(await listDataSource(src('hf://org/private'), 0, opts('hf_granted'))).toHaveLength(1);
  });

  it('a model of more files than the Hub’s siblings hold lists whole, through every page of the tree', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 2345; i++) files[`shards/${String(i).padStart(5, '0')}.json`] = `{"i":${i}}`;
    const sha = hub.addRepo('org/many', { files });
    hub.siblingsLimit = 1000;
    try {
      const out = await resolveDataSource(src('hf://org/many'), 0, opts());
      expect(out.source).toMatchObject({ revision: sha });
      expect(out.files).toHaveLength(2345);
      expect(out.files.at(-1)).toMatchObject({ name: 'shards/02344.json', path: 'many/shards/02344.json', size: 10 });
      // Three pages of 1000 entries (a directory among them), all at the pinned commit.
      const trees = hub.requests.filter((r) => r.url.startsWith('/api/models/org/many/tree/'));
      expect(trees).toHaveLength(3);
      expect(trees.every((r) => r.url.startsWith(`/api/models/org/many/tree/${sha}?recursive=true`))).toBe(true);
    } finally {
      hub.siblingsLimit = undefined;
    }
  });

  it('a renamed repository is followed', async () => {
    hub.addRepo('old/name', { files: { 'a.txt': 'a' } });
    hub.rename('old/name', 'new/name');
    expect(await listDataSource(src('hf://old/name'), 0, opts())).toEqual([expect.objectContaining({ name: 'a.txt', path: 'name/a.txt' })]);
  });
});
