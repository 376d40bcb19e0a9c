// build --local through the CLI: the very startup script, run on this machine against a loop-device disk, packed as
// a GCE-importable archive, uploaded to the emulator's GCS and imported with rawDisk; then verify --local of the
// archive, and of a corrupted copy.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { runCli } from '../helpers/cli.js';
import { describeRig, startRig, type Rig } from '../rig/rig.js';

const TOKEN = 'ya29.local-e2e-token-0123456789';

function loopsOf(dir: string): string {
  return execFileSync('losetup', ['-a'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(dir))
    .join('\n');
}

describeRig('build --local', () => {
  let rig: Rig;
  let emu: Emulator;
  let dir: string;
  beforeAll(async () => {
    rig = await startRig('local');
    emu = await startEmulator({ acceptTokens: [TOKEN] });
    dir = mkdtempSync(join(tmpdir(), 'gdib-loc-'));
  });
  afterAll(async () => {
    await emu?.close();
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
    GDIB_HOSTS_DIR: rig.hostsDir,
  });

  it('--output alone writes the archive and touches no cloud', { timeout: 180_000 }, async () => {
    const out = join(dir, 'only.tar.gz');
    const r = await runCli(['--local', `--output=${out}`, '--disk-size-gb=10', `--container-image=${rig.ref('app')}`], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Disk image archive written to: ${out}\n`);
    const listing = execFileSync('tar', ['-tvzf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.length).toBe(1);
    expect(listing[0]).toMatch(/ disk\.raw$/);
    const size = Number(/\s(\d+)\s\d{4}-\d\d-\d\d/.exec(listing[0]!)?.[1]);
    expect(size).toBe(10 * 1024 ** 3);
    expect(statSync(out).size).toBeLessThan(200 * 1024 ** 2); // sparse: a 10 GiB disk packs small
    expect(r.stderr).toContain('gdib: state=succeeded');
    expect(emu.requests.length).toBe(0);
    expect(loopsOf(dir)).toBe('');
    // verify --local of that archive.
    const v = await runCli(['verify', '--local', out], { env: env() });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe(`Disk verification succeeded: ${out}\n`);
  });

  it('uploads the archive, creates the image from it (rawDisk) and deletes the upload', { timeout: 180_000 }, async () => {
    const r = await runCli(
      [
        '--local',
        '--project-name=test-project',
        '--gcs-path=gs://test-bucket/local',
        '--image-name=local-img',
        '--disk-size-gb=10',
        '--image-labels=mode=local',
        `--container-image=${rig.ref('app')}`,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Image has successfully been created at: projects/test-project/global/images/local-img\n');
    const insert = emu.requests.find((q) => q.call === 'images.insert')!.body as Record<string, any>;
    expect(insert).toMatchObject({
      name: 'local-img',
      labels: { mode: 'local' },
      rawDisk: {
        source: expect.stringMatching(
          /^https:\/\/storage\.googleapis\.com\/test-bucket\/local\/secondary-disk-image-[a-z0-9]{6}\/disk\.tar\.gz$/,
        ),
      },
    });
    expect(insert.sourceDisk).toBeUndefined();
    // No VM, no disk; the uploaded archive is gone, the logs are there.
    expect(emu.requests.some((q) => /^(disks|instances)\./.test(q.call))).toBe(false);
    const objects = [...emu.state.objects.keys()];
    expect(objects.some((k) => k.endsWith('/disk.tar.gz'))).toBe(false);
    expect(objects.some((k) => k.endsWith('/serial-port-1.log'))).toBe(true);
    const result = JSON.parse(emu.state.objects.get(objects.find((k) => k.endsWith('/result.json'))!)!.data.toString());
    expect(result.state).toBe('succeeded');
    expect(Object.keys(result.vmPhases)).toEqual(expect.arrayContaining(['pulling', 'checksumming']));
    expect(emu.leftovers().images).toEqual(['test-project/local-img']);
  });

  it('verify --local fails on a corrupted copy, naming the snapshot', { timeout: 180_000 }, async () => {
    const good = join(dir, 'good.tar.gz');
    const r = await runCli(['--local', `--output=${good}`, '--disk-size-gb=10', `--container-image=${rig.ref('app')}`], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    // Unpack, change one byte of one file inside a snapshot, verify the raw disk file.
    const work = mkdtempSync(join(dir, 'bad-'));
    execFileSync('tar', ['-xzSf', good, '-C', work]);
    const raw = join(work, 'disk.raw');
    const mnt = join(work, 'mnt');
    execFileSync('mkdir', ['-p', mnt]);
    const loop = execFileSync('losetup', ['--find', '--show', raw], { encoding: 'utf8' }).trim();
    try {
      execFileSync('mount', [loop, mnt]);
      const meta = readFileSync(join(mnt, 'snapshots.metadata'), 'utf8').trim().split('\n');
      const snap = meta[0]!.split(' ')[1]!;
      // NUL-separated: the rig's images hold file names with a newline in them.
      const victim = execFileSync('find', [join(mnt, snap), '-type', 'f', '-size', '+0', '-print0'], {
        encoding: 'utf8',
      }).split('\0')[0]!;
      const bytes = readFileSync(victim);
      bytes[0] = bytes[0]! ^ 0xff;
      writeFileSync(victim, bytes);
      execFileSync('umount', [mnt]);
      const v = await runCli(['verify', '--local', raw], { env: env() });
      expect(v.code).toBe(1);
      expect(v.stderr).toContain(snap);
      expect(v.stderr).toMatch(/error: the local verification failed: .*checksum/);
    } finally {
      if (existsSync(join(mnt, 'snapshots.metadata'))) execFileSync('umount', [mnt]);
      execFileSync('losetup', ['-d', loop]);
    }
    expect(loopsOf(dir)).toBe('');
  });
});
