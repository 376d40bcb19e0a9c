// A data disk built for real: the rendered bootstrap runs the agent as root against a loop device; the sources are
// the emulator's Cloud Storage (objects read with the VM's token) and the Hugging Face-shaped fake (a gated model,
// its token read from the emulator's Secret Manager, its LFS files redirected to the fake's CDN). The ground truth
// is the sources' bytes: the disk is mounted read-only afterwards and compared file by file; then `verify` passes,
// and fails once one byte of one file is flipped.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  DATA_LABEL,
  DATA_MANIFEST,
  dataDiskInodes,
  dataFingerprint,
  type DataFile,
  type DataManifest,
  type DataSource,
} from '../../src/vm/contract.js';
import { listDataSource } from '../../src/vm/data-sources.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { FakeHub } from '../fakes/hf-server.js';
import { LoopDisk, mount, unmount } from '../rig/disk.js';
import { randomToken } from '../rig/metadata-server.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';
import { runVmScript, type ScriptRun } from '../rig/run-script.js';
import type { MetadataInput } from '../../src/startup-script/render.js';

const SECRET = 'projects/test-project/secrets/hf';
const HF_TOKEN = `hf_${randomToken().slice(-24)}`;
const MiB = 1024 * 1024;
/** Bytes no two files share, so a file written at another's place or offset shows. */
const bytes = (n: number, seed: number): Buffer => {
  const out = Buffer.alloc(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
};

const objects: Record<string, Buffer> = {
  'models/llm/config.json': Buffer.from('{"layers": 32}\n'),
  'models/llm/weights/shard-00001.safetensors': bytes(3 * MiB + 12_345, 1),
  'models/llm/weights/shard-00002.safetensors': bytes(2 * MiB, 2),
  'models/llm/tokenizer/vocab.txt': bytes(40_000, 3),
  'models/llm/empty.txt': Buffer.alloc(0),
  'models/llm2/not-mine.bin': bytes(10, 4),
};
const hfFiles: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type": "tiny"}'),
  'model.safetensors': bytes(2 * MiB + 7, 5),
  'tokenizer.json': bytes(70_000, 6),
};

describeRig('a data disk, built for real', () => {
  let emu: Emulator;
  let hub: FakeHub;
  let dir: string;
  let disk: LoopDisk;
  let sources: DataSource[];
  let files: DataFile[];
  let res: ScriptRun;
  const view = () => join(dir, 'view');

  async function agent(
    mode: 'build' | 'verify',
    data: Pick<MetadataInput, 'dataPlan' | 'hfTokenSecret'>,
    name: string,
  ): Promise<ScriptRun> {
    return runVmScript({
      // As the CLI renders a data disk's metadata: the plan instead of the images, the data build's bootstrap.
      input: { mode, runId: 'data01', containerImages: [], imagePullAuth: 'None', storeChecksums: false, platform: 'linux/amd64', ...data },
      device: disk.device,
      dir: join(dir, name),
      env: { GDIB_SECRETMANAGER_ENDPOINT: emu.storageHost, GDIB_STORAGE_ENDPOINT: emu.storageHost, HF_ENDPOINT: hub.endpoint },
      // Ranged parts from 1 MiB, in parts of 256 KiB: the large files here go in parts.
      agentOptions: { dataRangedMin: MiB, dataPartSize: 256 * 1024 },
      metadata: {
        issueToken: () => {
          const token = randomToken();
          emu.acceptToken(token);
          return token;
        },
      },
    });
  }

  async function mounted<T>(fn: (root: string) => T | Promise<T>, options = 'ro,noload'): Promise<T> {
    mkdirSync(view(), { recursive: true });
    await mount(disk.device, view(), { options });
    try {
      return await fn(view());
    } finally {
      await unmount(view());
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-data-disk-'));
    emu = await startEmulator({ buckets: [{ name: 'weights' }] });
    for (const [name, data] of Object.entries(objects)) emu.putObject('weights', name, data);
    hub = await FakeHub.start();
    const commit = hub.addRepo('org/tiny', { gated: 'manual', files: hfFiles });
    hub.grant(HF_TOKEN, 'org/tiny');
    emu.secrets.add(SECRET, `${HF_TOKEN}\n`);
    sources = [
      { kind: 'gcs', bucket: 'weights', path: 'models/llm', prefix: true, dest: 'llm' },
      { kind: 'hf', repo: 'org/tiny', revision: commit, dest: 'hf/tiny' },
    ];
    const token = randomToken();
    emu.acceptToken(token);
    files = [];
    for (const [i, s] of sources.entries())
      files.push(
        ...(await listDataSource(s, i, {
          storageEndpoint: emu.storageHost,
          hfEndpoint: hub.endpoint,
          token: () => Promise.resolve(token),
          hfToken: HF_TOKEN,
        })),
      );
    disk = await LoopDisk.create(join(dir, 'disk.img'), 64);
    res = await agent(
      'build',
      {
        dataPlan: {
          sources,
          fingerprint: dataFingerprint(files),
          sourceFingerprints: [0, 1].map((i) => dataFingerprint(files.filter((f) => f.source === i))),
        },
        hfTokenSecret: `${SECRET}/versions/latest`,
      },
      'build',
    );
  }, 240_000);

  afterAll(async () => {
    await unmount(view());
    await disk?.detach();
    await hub?.close();
    await emu?.close();
    if (dir && !process.env.GDIB_KEEP_RIG) rmSync(dir, { recursive: true, force: true });
  });

  it('succeeds, through the data phases, and leaves nothing mounted', () => {
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.metadata.guestAttributes.get('gdib/state')).toBe('succeeded');
    expect(res.serialFacts.filter((f) => f.key === 'phase').map((f) => f.value)).toEqual([
      'installing',
      'listing',
      'formatting',
      'downloading',
      'done',
    ]);
    expect(disk.mountPoints()).toEqual([]);
  });

  it('is an ext4 filesystem labelled gdib-data', async () => {
    const { stdout } = await run('blkid', ['-o', 'export', disk.device]);
    expect(stdout).toContain('TYPE=ext4');
    expect(stdout).toContain(`LABEL=${DATA_LABEL}`);
  });

  it('has the inodes its files and directories need (mkfs -N), not ext4’s default count for the disk', async () => {
    const { stdout } = await run('dumpe2fs', ['-h', disk.device]);
    const inodes = Number(/^Inode count:\s*(\d+)/m.exec(stdout)?.[1]);
    expect(inodes).toBeGreaterThanOrEqual(dataDiskInodes(files));
    // By default 64 MiB gets one inode per 4 KiB (16,384; a "small" filesystem) or, in 4 KiB blocks, per 16 KiB.
    expect(inodes).toBeLessThan(4096);
  });

  it('holds every file of the sources byte for byte, at its place, and nothing else', async () => {
    await mounted((root) => {
      for (const [name, data] of Object.entries(objects)) {
        if (!name.startsWith('models/llm/')) continue;
        expect(readFileSync(join(root, 'llm', name.slice('models/llm/'.length))).equals(data), name).toBe(true);
      }
      for (const [name, data] of Object.entries(hfFiles)) expect(readFileSync(join(root, 'hf/tiny', name)).equals(data), name).toBe(true);
      expect(readdirSync(root).sort()).toEqual(['gdib-data.json', 'hf', 'llm', 'lost+found']);
      expect(readdirSync(join(root, 'llm')).sort()).toEqual(['config.json', 'empty.txt', 'tokenizer', 'weights']);
    });
  });

  it('has no write bit anywhere: files 0444, directories 0555', async () => {
    await mounted((root) => {
      for (const f of files) expect(statSync(join(root, f.path)).mode & 0o777, f.path).toBe(0o444);
      expect(statSync(join(root, DATA_MANIFEST)).mode & 0o777).toBe(0o444);
      for (const d of ['', 'llm', 'llm/weights', 'llm/tokenizer', 'hf', 'hf/tiny'])
        expect(statSync(join(root, d)).mode & 0o777, d).toBe(0o555);
    });
  });

  it('carries the manifest: every file, its size, checksum, source and generation', async () => {
    const m = await mounted((root) => JSON.parse(readFileSync(join(root, DATA_MANIFEST), 'utf8')) as DataManifest);
    expect(m).toMatchObject({
      tool: 'gke-disk-image-builder',
      formatVersion: 1,
      runId: 'data01',
      sources,
      fingerprint: dataFingerprint(files),
    });
    expect(m.files).toEqual([...files].sort((a, b) => (a.path < b.path ? -1 : 1)));
    expect(m.files.find((f) => f.path === 'hf/tiny/model.safetensors')?.checksum).toEqual({
      sha256: createHash('sha256').update(hfFiles['model.safetensors']!).digest('hex'),
    });
  });

  it('fetched the large files in ranged parts, the LFS ones from the CDN without the token', () => {
    const big = emu.requests.filter((r) => r.call === 'storage.objects.download' && r.path.includes('shard-00001'));
    expect(big.length).toBe(13); // 3 MiB + 12345 bytes in parts of 256 KiB
    expect(new Set(big.map((r) => r.headers.range)).size).toBe(13);
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(cdn.length).toBe(9); // 2 MiB + 7 bytes
    expect(cdn.every((r) => r.authorization === undefined && r.status === 206)).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === `Bearer ${HF_TOKEN}`)).toBe(true);
    expect(res.stdout).not.toContain(HF_TOKEN);
  });

  it('verify passes, then fails on a flipped byte, naming the file', async () => {
    const ok = await agent('verify', {}, 'verify-ok');
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`all ${files.length} files match the manifest`);

    // A byte of an object checked by its md5, and one of a Hugging Face file outside LFS, checked by its git blob id.
    await mounted(async (root) => {
      for (const [path, at] of [
        ['llm/weights/shard-00002.safetensors', MiB + 3],
        ['hf/tiny/config.json', 2],
      ] as const) {
        const victim = join(root, path);
        await run('chmod', ['u+w', victim]);
        const flipped = Buffer.from([readFileSync(victim)[at]! ^ 0x10]);
        await run('dd', [`of=${victim}`, 'bs=1', `seek=${at}`, 'count=1', 'conv=notrunc', 'status=none'], { input: flipped });
        await run('chmod', ['a-w', victim]);
      }
    }, 'rw');
    const bad = await agent('verify', {}, 'verify-bad');
    expect(bad.code).toBe(1);
    expect(bad.metadata.guestAttributes.get('gdib/error')).toMatch(
      /^verification failed: 2 of 8 files do not match the manifest: hf\/tiny\/config\.json \(does not match its git blob sha1 \(expected [0-9a-f]{40}, got [0-9a-f]{40}\)\), llm\/weights\/shard-00002\.safetensors \(does not match its md5 \(expected .+, got .+\)\)$/,
    );
  });
});
