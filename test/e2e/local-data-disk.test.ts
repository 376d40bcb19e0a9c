// build --local --data-source through the real bin/: the CLI lists the sources (the emulator's Cloud Storage and
// the Hugging Face-shaped fake, a gated model whose token is in the emulator's Secret Manager), the agent on this
// machine downloads them onto a loop-device disk, the disk is packed; verify --local passes on the archive, then fails
// on a copy with one flipped byte, naming the file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DATA_MANIFEST, type DataManifest } from '../../src/vm/contract.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { FakeHub } from '../fakes/hf-server.js';
import { describeRig } from '../rig/rig.js';
import { spawnCli } from '../helpers/spawn-cli.js';

const TOKEN = 'ya29.local-data-disk-token-0123456789';
const HF_TOKEN = 'hf_local_data_disk_token_0123456789';
const SECRET = 'projects/test-project/secrets/hf';
const big = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 7 + (i >> 11)) & 0xff));
const objects: Record<string, Buffer> = {
  'models/m1/config.json': Buffer.from('{"layers": 2}\n'),
  'models/m1/weights/w-0001.bin': big,
  'models/m10/other.bin': Buffer.from('not this one'),
};
const hfFiles: Record<string, Buffer> = { 'config.json': Buffer.from('{"a": 1}'), 'model.safetensors': Buffer.alloc(200_000, 9) };

describeRig('build --local --data-source, through bin/', () => {
  let emu: Emulator;
  let hub: FakeHub;
  let dir: string;
  let commit: string;
  beforeAll(async () => {
    emu = await startEmulator({ acceptTokens: [TOKEN], buckets: [{ name: 'weights' }] });
    for (const [name, data] of Object.entries(objects)) emu.putObject('weights', name, data);
    emu.secrets.add(SECRET, HF_TOKEN);
    hub = await FakeHub.start();
    commit = hub.addRepo('org/tiny', { gated: 'manual', files: hfFiles });
    hub.grant(HF_TOKEN, 'org/tiny');
    dir = mkdtempSync(join(tmpdir(), 'gdib-loc-data-'));
  });
  afterAll(async () => {
    await hub?.close();
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: emu.storageHost,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
    HF_ENDPOINT: hub.endpoint,
  });

  it('builds the archive, verify --local passes, then fails on a flipped byte naming the file', { timeout: 300_000 }, async () => {
    const out = join(dir, 'data.tar.gz');
    const r = await spawnCli(
      [
        '--local',
        `--output=${out}`,
        '--disk-size-gb=10',
        '--data-source=gs://weights/models/m1',
        `--data-source=hf://org/tiny=models/tiny`,
        `--hf-token-secret=${SECRET}`,
      ],
      env(),
    ).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('gdib: state=succeeded');
    expect(r.stderr).not.toContain(HF_TOKEN);
    // The sources went to the disk through the agent's requests: objects with the caller's token, the model's LFS
    // file from the CDN without the Hugging Face token.
    expect(emu.requests.filter((q) => q.call === 'storage.objects.download').every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
    expect(hub.requests.some((q) => q.server === 'cdn')).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'cdn').every((q) => q.authorization === undefined)).toBe(true);

    const v = await spawnCli(['verify', '--local', out], env()).done;
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toContain('all 4 files match the manifest');

    // Unpack, look, flip one byte of one file, verify the raw disk.
    const work = join(dir, 'bad');
    mkdirSync(work);
    execFileSync('tar', ['-xzSf', out, '-C', work]);
    const raw = join(work, 'disk.raw');
    const mnt = join(work, 'mnt');
    mkdirSync(mnt);
    const loop = execFileSync('losetup', ['--find', '--show', raw], { encoding: 'utf8' }).trim();
    try {
      execFileSync('mount', [loop, mnt]);
      try {
        const m = JSON.parse(readFileSync(join(mnt, DATA_MANIFEST), 'utf8')) as DataManifest;
        expect(m.files.map((f) => f.path).sort()).toEqual([
          'm1/config.json',
          'm1/weights/w-0001.bin',
          'models/tiny/config.json',
          'models/tiny/model.safetensors',
        ]);
        expect(m.sources[1]).toEqual({ kind: 'hf', repo: 'org/tiny', revision: commit, dest: 'models/tiny' });
        expect(readFileSync(join(mnt, 'm1/weights/w-0001.bin')).equals(big)).toBe(true);
        expect(readFileSync(join(mnt, 'models/tiny/model.safetensors')).equals(hfFiles['model.safetensors']!)).toBe(true);
        expect(statSync(join(mnt, 'm1/weights/w-0001.bin')).mode & 0o777).toBe(0o444);
        const victim = join(mnt, 'm1/weights/w-0001.bin');
        const flipped = Buffer.from([big[2_000_000]! ^ 0x01]);
        execFileSync('dd', [`of=${victim}`, 'bs=1', 'seek=2000000', 'count=1', 'conv=notrunc', 'status=none'], { input: flipped });
      } finally {
        execFileSync('umount', [mnt]);
      }
      const bad = await spawnCli(['verify', '--local', raw], env()).done;
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(
        /error: the local verification failed: verification failed: 1 of 4 files do not match the manifest: m1\/weights\/w-0001\.bin \(does not match its md5/,
      );
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });
});
