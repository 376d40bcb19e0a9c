// A data disk's whole agent run against a fake system seam (mkfs and mount recorded, the "disk" a directory): the
// sources are the emulator's Cloud Storage and the Hugging Face-shaped fake, reached over HTTP with the real fetch.
// What lands on the "disk", the manifest, the modes, the status facts, verify on the result, and the failures.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATA_LABEL,
  DATA_MANIFEST,
  dataDiskInodes,
  dataFingerprint,
  parseStatusLine,
  type DataFile,
  type DataManifest,
  type DataSource,
} from '../../../src/vm/contract.js';
import { listDataSource } from '../../../src/vm/data-sources.js';
import { runAgent } from '../../../src/vm/agent/run.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { FakeHub } from '../../fakes/hf-server.js';
import { fakeMetadataFetch } from '../../rig/agent-ctx.js';
import { FakeSystem } from './fake-system.js';

const TOKEN = 'ya29.data-build-test';
const SECRET = 'projects/test-project/secrets/hf-token';
const root = mkdtempSync(join(tmpdir(), 'gdib-data-build-'));
let runs = 0;
let emu: Emulator;
let hub: FakeHub;
let commit: string;

/** Writable again (directories are 0555 on a finished disk), then removed. */
function removeAll(dir: string): void {
  const open = (d: string) => {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) open(join(d, e.name));
  };
  open(dir);
  rmSync(dir, { recursive: true, force: true });
}

const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed + (i >> 9)) & 0xff));
const objects: Record<string, Buffer> = {
  'models/m1/config.json': Buffer.from('{"layers": 2}\n'),
  'models/m1/weights/shard-0.bin': pattern(200_000, 1),
  'models/m1/weights/shard-1.bin': pattern(150_001, 2),
  'models/m10/other.bin': Buffer.from('not mine'),
};
const hfFiles = { 'config.json': '{"a": 1}', 'model.safetensors': pattern(180_000, 3), 'tokenizer/vocab.txt': 'a\nb\n' };

beforeAll(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN], buckets: [{ name: 'weights' }] });
  for (const [name, data] of Object.entries(objects)) emu.putObject('weights', name, data);
  // Model info lists one file, as the Hub's does of a large repository: the listing must not rely on it.
  hub = await FakeHub.start({ siblingsLimit: 1 });
  commit = hub.addRepo('org/gated', { gated: 'manual', files: hfFiles });
  hub.grant('hf_secret_token', 'org/gated');
  emu.secrets.add(SECRET, 'hf_secret_token\n');
});
afterAll(async () => {
  await hub.close();
  await emu.close();
  removeAll(root);
});

const gcs: DataSource = { kind: 'gcs', bucket: 'weights', path: 'models/m1', prefix: true, dest: 'm1' };
const hf = (): DataSource => ({ kind: 'hf', repo: 'org/gated', revision: commit, dest: 'gated' });
const ends = () => ({ storageEndpoint: emu.storageHost, hfEndpoint: hub.endpoint });

/** The listing the CLI would have made at preflight. */
async function listing(sources: DataSource[]): Promise<DataFile[]> {
  const files: DataFile[] = [];
  for (const [i, s] of sources.entries())
    files.push(...(await listDataSource(s, i, { ...ends(), token: () => Promise.resolve(TOKEN), hfToken: 'hf_secret_token' })));
  return files;
}

function system(): FakeSystem {
  const sys = new FakeSystem((cmd) => (cmd === 'blockdev' ? { code: 0, stdout: '10737418240\n', stderr: '' } : undefined));
  sys.blockDevices.add('/dev/fake-disk');
  return sys;
}

async function agent(attributes: Record<string, string>, o: { sys?: FakeSystem; dir?: string; http?: typeof fetch } = {}) {
  const dir = o.dir ?? join(root, String(++runs));
  const sys = o.sys ?? system();
  const lines: string[] = [];
  const guest: [string, string][] = [];
  const res = await runAgent({
    mdHost: 'metadata.test',
    env: {
      device: '/dev/fake-disk',
      workDir: join(root, `work-${runs}`),
      mountDir: dir,
      secretManagerEndpoint: emu.storageHost,
      storageEndpoint: emu.storageHost,
      hfEndpoint: hub.endpoint,
      path: '/usr/bin:/bin',
    },
    opts: { dataRangedMin: 100_000, dataPartSize: 64 * 1024, dataJobs: 4, dataBackoffMs: () => 1 },
    version: '0.0.0-test',
    sys,
    ...(o.http ? { http: o.http } : {}),
    sink: (l) => lines.push(l),
    fetch: fakeMetadataFetch({
      guest,
      attributes: { 'enable-guest-attributes': 'TRUE', 'gdib-run-id': 'run-1', ...attributes },
      token: () => TOKEN,
    }),
  });
  const facts = lines.map((l) => parseStatusLine(l)).filter((f) => f !== undefined);
  return { ...res, dir, sys, lines, guest, facts };
}

const planOf = async (sources: DataSource[], extra: object = {}) => ({
  'gdib-data-plan': JSON.stringify({ sources, fingerprint: dataFingerprint(await listing(sources)), ...extra }),
  'gdib-hf-token-secret': `${SECRET}/versions/latest`,
});

describe('a data disk from Cloud Storage and a gated Hugging Face model', () => {
  let r: Awaited<ReturnType<typeof agent>>;
  beforeAll(async () => {
    r = await agent(await planOf([gcs, hf()]));
  });

  it('succeeds through listing, formatting and downloading, formatting with the data label', () => {
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);
    expect(r.facts.filter((f) => f.key === 'phase').map((f) => f.value)).toEqual([
      'installing',
      'listing',
      'formatting',
      'downloading',
      'done',
    ]);
    expect(r.facts.at(-1)).toEqual({ key: 'state', value: 'succeeded' });
    expect(r.facts.some((f) => f.key === 'progress' && /^6\/6 files, /.test(f.value))).toBe(true);
    const mkfs = r.sys.calls.find((c) => c.cmd === 'mkfs.ext4');
    expect(mkfs?.args.slice(-4)).toEqual(['-L', DATA_LABEL, '--', '/dev/fake-disk']);
  });

  it('formats with an inode for every file and directory (mkfs -N), not ext4’s one per 16 KiB', async () => {
    const files = await listing([gcs, hf()]);
    // 6 files; m1, m1/weights, gated, gated/tokenizer; 64 for ext4 and the manifest.
    expect(dataDiskInodes(files)).toBe(6 + 4 + 64);
    const mkfs = r.sys.calls.find((c) => c.cmd === 'mkfs.ext4')!;
    // 4 KiB blocks said outright: with them mkfs never rounds the count down.
    expect(mkfs.args.slice(mkfs.args.indexOf('-b'), mkfs.args.indexOf('-b') + 4)).toEqual(['-b', '4096', '-N', '74']);
    expect(r.lines.some((l) => l.includes('as ext4 with 74 inodes'))).toBe(true);
  });

  it('unmounts at the end', () => {
    expect(r.sys.calls.filter((c) => c.cmd === 'umount').length).toBeGreaterThan(0);
  });

  it('puts every file at its place, byte for byte (a prefix is a directory: models/m10 is not taken)', () => {
    for (const [name, data] of Object.entries(objects)) {
      if (!name.startsWith('models/m1/')) continue;
      expect(readFileSync(join(r.dir, 'm1', name.slice('models/m1/'.length))).equals(data)).toBe(true);
    }
    for (const [name, data] of Object.entries(hfFiles))
      expect(readFileSync(join(r.dir, 'gated', name)).equals(Buffer.from(data))).toBe(true);
    expect(readdirSync(r.dir).sort()).toEqual(['gated', DATA_MANIFEST, 'm1']);
  });

  it('leaves no write bit: files 0444, directories 0555', () => {
    for (const p of ['m1/config.json', 'm1/weights/shard-0.bin', 'gated/tokenizer/vocab.txt', DATA_MANIFEST])
      expect(statSync(join(r.dir, p)).mode & 0o777).toBe(0o444);
    for (const p of ['', 'm1', 'm1/weights', 'gated', 'gated/tokenizer']) expect(statSync(join(r.dir, p)).mode & 0o777).toBe(0o555);
  });

  it('writes the manifest: every file with its size, checksum, source and generation', async () => {
    const m = JSON.parse(readFileSync(join(r.dir, DATA_MANIFEST), 'utf8')) as DataManifest;
    const files = await listing([gcs, hf()]);
    expect(m).toMatchObject({
      tool: 'gke-disk-image-builder',
      formatVersion: 1,
      version: '0.0.0-test',
      runId: 'run-1',
      sources: [gcs, hf()],
      fingerprint: dataFingerprint(files),
    });
    expect(m.files.map((f) => f.path)).toEqual([...files.map((f) => f.path)].sort());
    const shard = m.files.find((f) => f.path === 'm1/weights/shard-0.bin');
    expect(shard).toMatchObject({
      source: 0,
      name: 'models/m1/weights/shard-0.bin',
      size: 200_000,
      checksum: { md5: createHash('md5').update(objects['models/m1/weights/shard-0.bin']!).digest('base64') },
    });
    expect(shard?.generation).toMatch(/^\d+$/);
    expect(m.files.find((f) => f.path === 'gated/model.safetensors')).toMatchObject({
      source: 1,
      checksum: { sha256: createHash('sha256').update(hfFiles['model.safetensors']).digest('hex') },
    });
    const config = Buffer.from(hfFiles['config.json']);
    expect(m.files.find((f) => f.path === 'gated/config.json')?.checksum).toEqual({
      gitSha1: createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex'),
    });
  });

  it('reads the Hugging Face token from Secret Manager, sends it to the Hub only, and never prints it', () => {
    expect(emu.requests.some((q) => q.call === 'secretmanager.versions.access' && q.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.authorization === 'Bearer hf_secret_token')).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'cdn').every((q) => q.authorization === undefined)).toBe(true);
    expect(r.lines.join('\n')).not.toContain('hf_secret_token');
    expect(emu.requests.filter((q) => q.call === 'storage.objects.download').every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
  });

  it('verify passes on it, then fails on a flipped byte, a missing file and a file the manifest does not list', async () => {
    const ok = await agent({ 'gdib-mode': 'verify' }, { dir: r.dir });
    expect(ok.error).toBeUndefined();
    expect(ok.lines.some((l) => l.includes('all 6 files match the manifest'))).toBe(true);

    const victim = join(r.dir, 'm1/weights/shard-1.bin');
    chmodSync(victim, 0o644);
    const bytes = readFileSync(victim);
    bytes[100_000] = bytes[100_000]! ^ 1;
    writeFileSync(victim, bytes);
    const flipped = await agent({ 'gdib-mode': 'verify' }, { dir: r.dir });
    expect(flipped.code).toBe(1);
    expect(flipped.error).toMatch(
      /^verification failed: 1 of 6 files do not match the manifest: m1\/weights\/shard-1\.bin \(does not match its md5 \(expected .+, got .+\)\)$/,
    );

    chmodSync(join(r.dir, 'gated'), 0o755);
    rmSync(join(r.dir, 'gated/config.json'));
    writeFileSync(join(r.dir, 'gated/extra.bin'), 'x');
    const more = await agent({ 'gdib-mode': 'verify' }, { dir: r.dir });
    expect(more.error).toContain('1 of 6 files are missing: gated/config.json');
    expect(more.error).toContain('1 file(s) on the disk are not in the manifest: gated/extra.bin');
  });
});

describe('failures', () => {
  it('names the source that changed since preflight', async () => {
    const attributes = await planOf([gcs, hf()], {});
    const plan = JSON.parse(attributes['gdib-data-plan']) as { fingerprint: string };
    const files = await listing([gcs, hf()]);
    const each = [0, 1].map((i) => dataFingerprint(files.filter((f) => f.source === i)));
    hub.commit('org/gated', { 'config.json': '{"a": 2}' });
    // The plan pins the old commit: the model is unchanged; the bucket changes.
    emu.putObject('weights', 'models/m1/new.bin', 'new', 'x');
    try {
      const r = await agent({
        ...attributes,
        'gdib-data-plan': JSON.stringify({ sources: [gcs, hf()], fingerprint: plan.fingerprint, sourceFingerprints: each }),
      });
      expect(r.error).toBe(
        'gs://weights/models/m1/: the source changed since preflight (its files are not the ones the CLI listed); build again',
      );
      expect(r.sys.calls.some((c) => c.cmd === 'mkfs.ext4')).toBe(false);
    } finally {
      emu.state.objects.delete('weights/models/m1/new.bin');
    }
  });

  it('fails a download whose bytes do not match, naming the file and the source, and unmounts', async () => {
    const attributes = await planOf([gcs]);
    const real = fetch;
    // A proxy that flips one byte of one object on its way.
    const corrupt: typeof fetch = async (input, init) => {
      const res = await real(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (!url.includes('shard-0.bin') || !url.includes('alt=media')) return res;
      const body = Buffer.from(await res.arrayBuffer());
      body[10] = body[10]! ^ 0xff;
      return new Response(new Uint8Array(body), { status: res.status, headers: res.headers });
    };
    const r = await agent(attributes, { http: corrupt });
    expect(r.code).toBe(1);
    expect(r.error).toMatch(
      /^m1\/weights\/shard-0\.bin \(from gs:\/\/weights\/models\/m1\/weights\/shard-0\.bin\) does not match its md5 \(expected .+, got .+\)$/,
    );
    expect(r.guest.at(-1)).toEqual(['gdib/state', 'failed']);
    expect(r.sys.calls.filter((c) => c.cmd === 'umount').length).toBeGreaterThan(0);
  });

  it('refuses a plan with a destination outside the disk before touching anything', async () => {
    const sys = system();
    const r = await agent(
      { 'gdib-data-plan': JSON.stringify({ sources: [{ ...gcs, dest: '../../etc' }], fingerprint: 'a'.repeat(64) }) },
      { sys },
    );
    expect(r.error).toBe(`invalid gdib-data-plan: sources[0].dest '../../etc': it has a ".." part`);
    expect(sys.calls).toEqual([]);
  });

  it('refuses a plan beside container images', async () => {
    const r = await agent({ ...(await planOf([gcs])), 'gdib-container-images': 'r.example/app:1' });
    expect(r.error).toBe(
      'metadata has both gdib-data-plan and gdib-container-images: a disk holds data files or container images, not both',
    );
  });

  it('never relays the Hugging Face token, even when the Hub echoes it in an error', async () => {
    const attributes = await planOf([hf()]);
    hub.fault({
      path: '/api/models/org/gated/revision/',
      action: { status: 400, headers: { 'x-error-message': 'Bad request for token hf_secret_token (hf_secret_token)' } },
    });
    const r = await agent(attributes);
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/^listing hf:\/\/org\/gated@[0-9a-f]{40} failed: .*Bad request for token \[REDACTED\] \(\[REDACTED\]\)$/);
    expect(r.lines.join('\n')).not.toContain('hf_secret_token');
    expect(r.guest.map(([, v]) => v).join('\n')).not.toContain('hf_secret_token');
  });

  it('fails listing a gated model when the secret cannot be read', async () => {
    const r = await agent({ ...(await planOf([hf()])), 'gdib-hf-token-secret': 'projects/test-project/secrets/nope/versions/latest' });
    expect(r.error).toBe('secret projects/test-project/secrets/nope/versions/latest (the Hugging Face token) does not exist (HTTP 404)');
  });
});
