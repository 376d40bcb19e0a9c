// The Hugging Face-shaped fake answers as the Hub does: what the data-disk code on both sides relies on.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub } from './hf-server.js';

let hub: FakeHub;
let sha: string;
const weights = Buffer.alloc(5000, 7);
const sha256 = createHash('sha256').update(weights).digest('hex');

beforeAll(async () => {
  hub = await FakeHub.start({ treePageSize: 2 });
  sha = hub.addRepo('org/model', {
    files: { 'config.json': '{"a":1}', 'model.safetensors': weights, 'sub/dir/tok.txt': 'hello' },
  });
  hub.addRepo('org/gated', { gated: 'manual', files: { 'w.bin': 'secret weights' } });
  hub.addRepo('org/private', { private: true, files: { 'a.txt': 'a' } });
  hub.grant('hf_good', 'org/gated');
  hub.addToken('hf_other');
});
afterAll(() => hub.close());

interface Info {
  id: string;
  sha: string;
  private: boolean;
  gated: false | string;
  siblings: { rfilename: string; size?: number; lfs?: { sha256: string; size: number } }[];
}
const info = async (res: Response | Promise<Response>): Promise<Info> => (await (await res).json()) as Info;

const get = (path: string, init?: RequestInit): Promise<Response> => fetch(`${hub.endpoint}${path}`, { redirect: 'manual', ...init });

describe('model info', () => {
  it('answers the commit and the siblings, with sizes and LFS sha256 when blobs=true', async () => {
    const plain = await info(get('/api/models/org/model/revision/main'));
    expect(plain).toMatchObject({ id: 'org/model', sha, private: false, gated: false });
    expect(plain.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(plain.siblings).toEqual([{ rfilename: 'config.json' }, { rfilename: 'model.safetensors' }, { rfilename: 'sub/dir/tok.txt' }]);
    const blobs = await info(get(`/api/models/org/model/revision/${sha}?blobs=true`));
    expect(blobs.siblings[1]).toMatchObject({ rfilename: 'model.safetensors', size: 5000, lfs: { sha256, size: 5000 } });
    expect(blobs.siblings[0]!.lfs).toBeUndefined();
    expect(blobs.siblings[0]!.size).toBe(7);
  });

  it('cuts the siblings short when told to, as the Hub’s cache of a large repository does; the tree stays whole', async () => {
    hub.siblingsLimit = 1;
    try {
      expect((await info(get(`/api/models/org/model/revision/${sha}?blobs=true`))).siblings.map((s) => s.rfilename)).toEqual([
        'config.json',
      ]);
      const tree = (await (await get(`/api/models/org/model/tree/${sha}?recursive=true`)).json()) as unknown[];
      expect(tree).toHaveLength(2); // the first page of two
    } finally {
      hub.siblingsLimit = undefined;
    }
  });

  it('a new commit moves the branch; the old commit stays readable', async () => {
    hub.addRepo('org/moving', { files: { 'a.txt': 'one' } });
    const first = hub.head('org/moving');
    const second = hub.commit('org/moving', { 'a.txt': 'two', 'b.txt': 'b' });
    expect(second).not.toBe(first);
    expect((await info(get('/api/models/org/moving/revision/main'))).sha).toBe(second);
    const old = await info(get(`/api/models/org/moving/revision/${first}`));
    expect(old.siblings).toEqual([{ rfilename: 'a.txt' }]);
  });

  it('errors as the Hub does', async () => {
    const missing = await get('/api/models/org/nope/revision/main');
    expect([missing.status, missing.headers.get('x-error-code')]).toEqual([401, 'RepoNotFound']);
    const missingAuthed = await get('/api/models/org/nope', { headers: { authorization: 'Bearer hf_other' } });
    expect([missingAuthed.status, missingAuthed.headers.get('x-error-code')]).toEqual([404, 'RepoNotFound']);
    const rev = await get('/api/models/org/model/revision/v9');
    expect([rev.status, rev.headers.get('x-error-code')]).toEqual([404, 'RevisionNotFound']);
    expect((await get('/api/models/org/private')).status).toBe(401);
    expect((await get('/api/models/org/model', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    // A gated repository's info is public; its files are not.
    expect((await info(get('/api/models/org/gated'))).gated).toBe('manual');
  });
});

describe('tree', () => {
  it('lists recursively, paged by Link headers', async () => {
    const entries: { type: string; path: string; lfs?: { oid: string } }[] = [];
    let next: string | undefined = `${hub.endpoint}/api/models/org/model/tree/main?recursive=true`;
    let pages = 0;
    while (next) {
      const res: Response = await fetch(next);
      entries.push(...((await res.json()) as typeof entries));
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      pages++;
    }
    expect(pages).toBe(3);
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      'file config.json',
      'file model.safetensors',
      'directory sub',
      'directory sub/dir',
      'file sub/dir/tok.txt',
    ]);
    expect(entries[1]!.lfs?.oid).toBe(sha256);
  });
});

describe('resolve', () => {
  it('serves a regular file with its git oid as ETag and the commit, Range included', async () => {
    const res = await get('/org/model/resolve/main/sub/dir/tok.txt');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-repo-commit')).toBe(sha);
    expect(res.headers.get('etag')).toBe(`"${createHash('sha1').update('blob 5\0hello').digest('hex')}"`);
    expect(await res.text()).toBe('hello');
    const part = await get('/org/model/resolve/main/sub/dir/tok.txt', { headers: { range: 'bytes=1-2' } });
    expect([part.status, await part.text()]).toEqual([206, 'el']);
  });

  it('redirects an LFS file to the CDN, which serves ranges and refuses an Authorization header', async () => {
    const head = await get('/org/model/resolve/main/model.safetensors', { method: 'HEAD' });
    expect(head.status).toBe(302);
    expect(head.headers.get('x-linked-etag')).toBe(`"${sha256}"`);
    expect(head.headers.get('x-linked-size')).toBe('5000');
    expect(head.headers.get('x-repo-commit')).toBe(sha);
    const location = head.headers.get('location')!;
    expect(new URL(location).origin).toBe(hub.cdnEndpoint);
    const part = await fetch(location, { headers: { range: 'bytes=4990-' } });
    expect([part.status, part.headers.get('content-range')]).toEqual([206, 'bytes 4990-4999/5000']);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(weights.subarray(4990));
    expect((await fetch(location, { headers: { authorization: 'Bearer hf_good' } })).status).toBe(400);
    expect((await fetch(location.replace(/Signature=[^&]+/, 'Signature=x'))).status).toBe(403);
  });

  it('gated files need a granted token', async () => {
    const anon = await get('/org/gated/resolve/main/w.bin');
    expect([anon.status, anon.headers.get('x-error-code')]).toEqual([401, 'GatedRepo']);
    const other = await get('/org/gated/resolve/main/w.bin', { headers: { authorization: 'Bearer hf_other' } });
    expect([other.status, other.headers.get('x-error-code')]).toEqual([403, 'GatedRepo']);
    const good = await get('/org/gated/resolve/main/w.bin', { headers: { authorization: 'Bearer hf_good' } });
    expect(good.status).toBe(302);
    const missing = await get('/org/model/resolve/main/nope.txt');
    expect([missing.status, missing.headers.get('x-error-code')]).toEqual([404, 'EntryNotFound']);
  });

  it('a renamed repository answers a relative redirect', async () => {
    hub.addRepo('org/old', { files: { 'x.txt': 'x' } });
    hub.rename('org/old', 'org/new');
    const res = await get('/org/old/resolve/main/x.txt');
    expect([res.status, res.headers.get('location')]).toEqual([307, '/org/new/resolve/main/x.txt']);
  });

  it('injects faults: a status, a page that is not JSON, a reset mid-body and a stall', async () => {
    hub.fault({ path: 'tok.txt', action: { status: 503 } });
    expect((await get('/org/model/resolve/main/sub/dir/tok.txt')).status).toBe(503);
    expect((await get('/org/model/resolve/main/sub/dir/tok.txt')).status).toBe(200);
    hub.fault({ path: '/api/models/org/model', action: { status: 200, body: '<html>proxy</html>' } });
    const page = await get('/api/models/org/model');
    expect([page.status, page.headers.get('content-type'), await page.text()]).toEqual([200, 'text/html', '<html>proxy</html>']);
    const location = (await get('/org/model/resolve/main/model.safetensors')).headers.get('location')!;
    hub.fault({ server: 'cdn', action: { resetAfterBytes: 100 } });
    const cut = await fetch(location);
    await expect(cut.arrayBuffer()).rejects.toThrow();
    hub.fault({ server: 'cdn', action: { stallAfterBytes: 10 } });
    const ac = new AbortController();
    const stalled = await fetch(location, { signal: ac.signal });
    const reader = stalled.body!.getReader();
    expect((await reader.read()).value?.length).toBe(10);
    ac.abort();
    await expect(reader.read()).rejects.toThrow();
  });

  it('records every request with its server and authorization', () => {
    expect(hub.requests.some((r) => r.server === 'cdn' && r.authorization === 'Bearer hf_good' && r.status === 400)).toBe(true);
  });
});
