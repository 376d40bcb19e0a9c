// The download engine of a data disk: byte ranges side by side, retries from the byte reached, stalls, redirects that
// leave the Authorization header behind off-origin, and every file checked against its listed checksum. Against the
// Hugging Face-shaped fake (a real HTTP server, the real fetch) and, for answers no sane server gives, a fake fetch.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataChecksum, DataFile } from '../../../src/vm/contract.js';
import { downloadFiles, splitRanges, type FileJob } from '../../../src/vm/agent/data-download.js';
import type { Transfer } from '../../../src/vm/agent/download.js';
import { Fail } from '../../../src/vm/agent/errors.js';
import { FakeHub } from '../../fakes/hf-server.js';

const base = mkdtempSync(join(tmpdir(), 'gdib-data-download-'));
let dirs = 0;
afterAll(() => {
  chmodSync(base, 0o755);
  rmSync(base, { recursive: true, force: true });
});

const pattern = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');
/** git's blob id: what `git hash-object` prints. */
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

function transfer(extra: Partial<Transfer> = {}): Transfer & { logs: string[] } {
  const logs: string[] = [];
  return { fetch, signal: new AbortController().signal, stallMs: 5000, backoffMs: () => 1, log: (l) => logs.push(l), logs, ...extra };
}

async function run(t: Transfer, jobs: FileJob[], o: { rangedMin?: number; partSize?: number; jobs?: number } = {}): Promise<string> {
  const root = join(base, String(++dirs));
  await downloadFiles(t, jobs, { root, jobs: o.jobs ?? 4, rangedMin: o.rangedMin ?? 100_000, partSize: o.partSize ?? 64 * 1024 });
  return root;
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Fail);
    return (err as Fail).message;
  }
  throw new Error('did not fail');
}

describe('splitRanges', () => {
  it.each([
    [0, []],
    [1, [[0, 0]]],
    [99, [[0, 98]]],
    [
      100,
      [
        [0, 39],
        [40, 79],
        [80, 99],
      ],
    ],
    [
      120,
      [
        [0, 39],
        [40, 79],
        [80, 119],
      ],
    ],
    [
      121,
      [
        [0, 39],
        [40, 79],
        [80, 119],
        [120, 120],
      ],
    ],
  ])('a file of %i bytes', (size, ranges) => {
    expect(splitRanges(size, 100, 40)).toEqual(ranges);
  });
});

describe('against the Hugging Face-shaped fake', () => {
  let hub: FakeHub;
  const big = pattern(300_000);
  const small = Buffer.from('{"hidden_size": 8}\n');
  let commit: string;
  beforeAll(async () => {
    hub = await FakeHub.start();
    commit = hub.addRepo('org/m', { gated: 'manual', files: { 'model.safetensors': big, 'config.json': small, 'empty.txt': '' } });
    hub.grant('hf_tok', 'org/m');
  });
  afterAll(() => hub.close());

  const job = (name: string, data: Buffer, checksum: DataChecksum, token = 'hf_tok', repo = 'org/m'): FileJob => ({
    file: { source: 0, name, path: `m/${name}`, size: data.length, checksum },
    label: `hf://org/m/${name}`,
    remote: {
      url: `${hub.endpoint}/${repo}/resolve/${commit}/${name}`,
      headers: () => Promise.resolve<Record<string, string>>(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  const all = () => [
    job('model.safetensors', big, { sha256: sha256(big) }),
    job('config.json', small, { gitSha1: gitSha1(small) }),
    job('empty.txt', Buffer.alloc(0), { size: true }),
  ];

  it('fetches a large file in ranged parts from the CDN, without the token there, and makes every file read-only', async () => {
    const from = hub.requests.length;
    const root = await run(transfer(), all());
    expect(readFileSync(join(root, 'm/model.safetensors')).equals(big)).toBe(true);
    expect(readFileSync(join(root, 'm/config.json')).equals(small)).toBe(true);
    expect(readFileSync(join(root, 'm/empty.txt')).length).toBe(0);
    for (const f of ['model.safetensors', 'config.json', 'empty.txt']) expect(statSync(join(root, 'm', f)).mode & 0o777).toBe(0o444);
    const seen = hub.requests.slice(from);
    const cdn = seen.filter((r) => r.server === 'cdn');
    expect(cdn.map((r) => r.range).sort()).toEqual([
      'bytes=0-65535',
      'bytes=131072-196607',
      'bytes=196608-262143',
      'bytes=262144-299999',
      'bytes=65536-131071',
    ]);
    expect(cdn.every((r) => r.authorization === undefined && r.status === 206)).toBe(true);
    expect(seen.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_tok')).toBe(true);
  });

  it('keeps the token on a redirect within the Hub (a renamed repository)', async () => {
    hub.addRepo('org/old', { files: { 'a.txt': 'abc' } });
    const sha = hub.head('org/old');
    hub.rename('org/old', 'org/new');
    hub.grant('hf_tok', 'org/new');
    const from = hub.requests.length;
    const j = {
      ...job('a.txt', Buffer.from('abc'), { size: true }),
      remote: { url: `${hub.endpoint}/org/old/resolve/${sha}/a.txt`, headers: () => Promise.resolve({ authorization: 'Bearer hf_tok' }) },
    };
    const root = await run(transfer(), [j]);
    expect(readFileSync(join(root, 'm/a.txt'), 'utf8')).toBe('abc');
    expect(hub.requests.slice(from).map((r) => [r.url.split('/resolve/')[0], r.authorization, r.status])).toEqual([
      ['/org/old', 'Bearer hf_tok', 307],
      ['/org/new', 'Bearer hf_tok', 206],
    ]);
  });

  it('retries a 503 and a connection cut short, resuming from the byte reached', async () => {
    hub.fault({ server: 'cdn', path: 'Signature', action: { status: 503 } });
    hub.fault({ server: 'cdn', path: 'Signature', action: { resetAfterBytes: 1000 } });
    const from = hub.requests.length;
    const t = transfer();
    const root = await run(t, [job('model.safetensors', big, { sha256: sha256(big) })], { jobs: 1 });
    expect(readFileSync(join(root, 'm/model.safetensors')).equals(big)).toBe(true);
    const ranges = hub.requests
      .slice(from)
      .filter((r) => r.server === 'cdn')
      .map((r) => r.range);
    expect(ranges.slice(0, 3)).toEqual(['bytes=0-65535', 'bytes=0-65535', 'bytes=1000-65535']);
    expect(t.logs.some((l) => l.startsWith('HTTP 503') && l.includes('trying again from byte 0'))).toBe(true);
    expect(t.logs.some((l) => l.includes('trying again from byte 1000'))).toBe(true);
  });

  it('fails a stalled request, naming the file and its source', async () => {
    hub.fault({ server: 'cdn', path: 'Signature', action: { stallAfterBytes: 10 } });
    const message = await failure(run(transfer({ stallMs: 1000 }), [job('model.safetensors', big, { sha256: sha256(big) })], { jobs: 1 }));
    expect(message).toBe(
      'downloading m/model.safetensors (from hf://org/m/model.safetensors) stalled: no bytes received for 1 s (--pull-stall-timeout)',
    );
  });

  it('fails a file whose content does not match its checksum', async () => {
    const message = await failure(run(transfer(), [job('model.safetensors', big, { sha256: 'f'.repeat(64) })]));
    expect(message).toBe(
      `m/model.safetensors (from hf://org/m/model.safetensors) does not match its sha256 (expected ${'f'.repeat(64)}, got ${sha256(big)})`,
    );
    const md5Message = await failure(run(transfer(), [job('config.json', small, { md5: md5(Buffer.from('other')) })]));
    expect(md5Message).toContain(`does not match its md5 (expected ${md5(Buffer.from('other'))}, got ${md5(small)})`);
    // The git blob id covers the header too: the sha1 of the bare content is not it.
    const bare = createHash('sha1').update(small).digest('hex');
    const gitMessage = await failure(run(transfer(), [job('config.json', small, { gitSha1: bare })]));
    expect(gitMessage).toContain(`does not match its git blob sha1 (expected ${bare}, got ${gitSha1(small)})`);
  });

  it('fails at once on a refusal (a gated model without a token), with the Hub’s reason', async () => {
    const from = hub.requests.length;
    const message = await failure(run(transfer(), [job('config.json', small, { size: true }, '')]));
    expect(message).toMatch(
      /^downloading m\/config\.json \(from hf:\/\/org\/m\/config\.json\) failed: HTTP 401: Access to model org\/m is restricted.* \(access denied\)$/,
    );
    expect(hub.requests.length - from).toBe(1);
  });

  it('stops the other requests when one file fails', async () => {
    hub.fault({ server: 'cdn', path: 'Signature', times: 100, action: { stallAfterBytes: 10 } });
    const message = await failure(
      run(
        transfer({ stallMs: 60_000 }),
        [job('model.safetensors', big, { sha256: sha256(big) }), job('config.json', small, { md5: 'AAAAAAAAAAAAAAAAAAAAAA==' })],
        { jobs: 8 },
      ),
    );
    expect(message).toContain('m/config.json (from hf://org/m/config.json) does not match its md5');
    hub.fault({ server: 'cdn', times: 0, action: { status: 200 } });
  });
});

describe('answers no sane server gives (a fake fetch)', () => {
  const data = pattern(1000);
  const file: DataFile = { source: 0, name: 'o', path: 'o', size: data.length, checksum: { md5: md5(data) }, generation: '1' };
  const one = (f: typeof fetch, size = data.length): Promise<string> =>
    run(
      transfer({ fetch: f }),
      [{ file: { ...file, size }, label: 'gs://b/o', remote: { url: 'https://storage.test/o', headers: () => Promise.resolve({}) } }],
      { rangedMin: 400, partSize: 400 },
    );

  it('a server that ignores Range for a part', async () => {
    const message = await failure(one(() => Promise.resolve(new Response(new Uint8Array(data), { status: 200 }))));
    expect(message).toBe('downloading o (from gs://b/o) failed: the server ignored the Range header (HTTP 200 to bytes=0-399)');
  });

  it('a compressed answer', async () => {
    const f = (_: unknown, init?: RequestInit) => {
      const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '')!;
      return Promise.resolve(
        new Response(new Uint8Array(data.subarray(+m[1]!, +m[2]! + 1)), {
          status: 206,
          headers: { 'content-range': `bytes ${m[1]}-${m[2]}/1000`, 'content-encoding': 'gzip' },
        }),
      );
    };
    expect(await failure(one(f as typeof fetch))).toContain('served with Content-Encoding: gzip');
  });

  it('more bytes than listed', async () => {
    const f = () => Promise.resolve(new Response(new Uint8Array(20), { status: 200 }));
    expect(await failure(one(f as typeof fetch, 10))).toContain(
      'failed: more bytes than the 10 listed (the source changed since preflight?)',
    );
  });

  it('connection resets until the tries run out, with the cause', async () => {
    let calls = 0;
    const f = () => {
      calls++;
      const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      return Promise.reject(new TypeError('fetch failed', { cause }));
    };
    expect(await failure(one(f as typeof fetch, 10))).toBe('downloading o (from gs://b/o) failed: read ECONNRESET');
    expect(calls).toBe(5);
  });

  it('a 404 is not retried and says the source may have changed', async () => {
    let calls = 0;
    const f = () => (
      calls++,
      Promise.resolve(new Response(JSON.stringify({ error: { message: 'No such object: b/o' } }), { status: 404 }))
    );
    expect(await failure(one(f as typeof fetch, 10))).toBe(
      'downloading o (from gs://b/o) failed: HTTP 404: No such object: b/o (the source changed since preflight?)',
    );
    expect(calls).toBe(1);
  });
});
