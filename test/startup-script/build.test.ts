// The build and verify scripts, run for real — exactly the `startup-script` value renderMetadata
// produces — against containerd, local registries and a loop-device data disk.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopDisk, isMountPoint, mount, unmount } from '../rig/disk.js';
import { applyLayers, diffTrees, readTree } from '../rig/fs-model.js';
import { goToolChecksum } from '../rig/checksum.js';
import { CAP_NET_RAW } from '../rig/images.js';
import { mountOverlay, parseSnapshotsMetadata, processesMentioning, type SnapshotLine } from '../rig/inspect.js';
import { chainIds, fetchImage, type RegistryImage } from '../rig/registry-client.js';
import { describeRig, REPO, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun } from '../rig/run-script.js';
import { run } from '../rig/proc.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function phases(facts: { key: string; value: string }[]): string[] {
  return facts.filter((f) => f.key === 'phase').map((f) => f.value);
}

describeRig('build script on the rig', () => {
  let rig: Rig;
  let disk: LoopDisk;
  let build: ScriptRun;
  let mountedAfterBuild: string[];
  let fsck: { code: number; stdout: string; stderr: string };
  let inspect: string;
  let lines: SnapshotLine[];
  const images: Record<'app' | 'app2' | 'multi', RegistryImage> = {} as never;
  const disks: LoopDisk[] = [];
  const mounts: string[] = [];

  const refs = () => ({ app: rig.ref('app'), app2: rig.ref('app2'), multi: rig.ref('multi') });

  beforeAll(async () => {
    rig = await startRig('build');
    disk = await LoopDisk.create(join(rig.dir, 'disk.img'), 128);
    disks.push(disk);
    build = await runVmScript({
      input: {
        mode: 'build',
        runId: 'rig001',
        containerImages: [refs().app, refs().app2, refs().multi],
        imagePullAuth: 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      device: disk.device,
      dir: rig.runDir('build'),
      hostsDir: rig.hostsDir,
    });
    mountedAfterBuild = disk.mountPoints();
    fsck = await run('e2fsck', ['-f', '-n', disk.device], { allowFailure: true });
    images.app = await fetchImage(rig.open.host, REPO, 'app');
    images.app2 = await fetchImage(rig.open.host, REPO, 'app2');
    images.multi = await fetchImage(rig.open.host, REPO, 'multi');
    inspect = join(rig.dir, 'inspect');
    mkdirSync(inspect);
    if (build.code === 0) {
      await mount(disk.device, inspect, { options: 'ro,noload' });
      mounts.push(inspect);
      lines = parseSnapshotsMetadata(readFileSync(join(inspect, 'snapshots.metadata'), 'utf8'));
    }
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await unmount(m);
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  it('succeeds, reporting each phase on the serial console and in guest attributes', () => {
    expect(build.stderr).toBe('');
    expect(build.code, build.stdout).toBe(0);
    const serial = build.serialFacts;
    expect(serial[0]).toEqual({ key: 'state', value: 'running' });
    expect(serial.at(-1)).toEqual({ key: 'state', value: 'succeeded' });
    expect(serial.some((f) => f.key === 'error')).toBe(false);
    const seen = phases(serial);
    expect(seen[0]).toBe('installing');
    expect(seen[1]).toBe('formatting');
    expect(seen.filter((p) => p === 'pulling')).toHaveLength(3);
    expect(seen.filter((p) => p === 'unpacking')).toHaveLength(3);
    expect(seen.slice(-2)).toEqual(['checksumming', 'done']);
    // The guest attributes carry the same facts in the same order.
    expect(build.metadata.attributeLog.map((a) => ({ key: a.key.replace(/^gdib\//, ''), value: a.value }))).toEqual(serial);
    expect(Object.fromEntries(build.metadata.guestAttributes)).toMatchObject({ 'gdib/state': 'succeeded', 'gdib/phase': 'done' });
    expect(build.metadata.tokens).toEqual([]);
  });

  it('prints summaries, not a line per file or a progress table', () => {
    const out = build.stdout.split('\n');
    expect(out.length).toBeLessThan(60);
    expect(build.stdout).not.toMatch(/elapsed:|\|\+\+/);
    expect(build.stdout).not.toContain('big.bin');
  });

  it('leaves the data disk unmounted and its containerd stopped', () => {
    expect(mountedAfterBuild).toEqual([]);
    expect(isMountPoint(build.mountDir)).toBe(false);
    expect(processesMentioning(build.workDir)).toEqual([]);
  });

  it('leaves an ext4 filesystem e2fsck finds clean (inode tables left unwritten included)', () => {
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
  });

  it('lists one line per distinct layer chain, with the chain IDs of the registry diff_ids', () => {
    const expected = [...new Set([images.app, images.app2, images.multi].flatMap((i) => chainIds(i.diffIds)))];
    expect(expected).toHaveLength(4); // base once, app, app2, multi
    expect(lines.map((l) => l.chainId).sort()).toEqual([...expected].sort());
    for (const l of lines) {
      expect(l.path).toMatch(/^snapshots\/\d+\/fs$/);
      expect(l.checksum).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(lines.map((l) => l.path)).size).toBe(lines.length);
    // Nothing but the layout of docs/architecture.md, Disk layout, at the disk's root.
    expect(readFileSync(join(inspect, 'snapshots.metadata'), 'utf8').endsWith('\n')).toBe(true);
    expect(existsSync(join(inspect, 'metadata.db'))).toBe(false);
  });

  it.each(['app', 'app2', 'multi'] as const)(
    'mounting the snapshots of %s as overlay lower dirs gives exactly its root filesystem',
    async (name) => {
      const image = images[name];
      const dirOf = new Map(lines.map((l) => [l.chainId, join(inspect, l.path)]));
      const lower = chainIds(image.diffIds)
        .map((c) => dirOf.get(c) as string)
        .reverse();
      expect(lower.every((d) => d !== undefined)).toBe(true);
      const target = join(rig.dir, `overlay-${name}`);
      mkdirSync(target);
      await mountOverlay(lower, target);
      mounts.push(target);
      const expected = applyLayers(image.layers);
      const actual = await readTree(target);
      expect(diffTrees(expected, actual)).toEqual([]);
      if (name === 'app') {
        // Spelled out, the features the comparison above covers:
        expect(actual.has('etc/deleteme')).toBe(false); // file whiteout
        expect([...actual.keys()].some((p) => p === 'gone' || p.startsWith('gone/'))).toBe(false); // directory whiteout
        expect(actual.has('opaque/a') || actual.has('opaque/sub')).toBe(false); // opaque directory
        expect(actual.has('opaque/c')).toBe(true);
        expect(actual.get('data/xattr.txt')?.xattrs).toEqual({ 'user.gdib': 'hello', 'user.empty-ish': ' ' });
        expect(actual.get('app/f1')).toBe(actual.get('app/f1-link')); // same inode
        expect(actual.get('data/hardlink')).toBe(actual.get('data/link-target'));
        expect(actual.get('bin/setuid-tool')?.mode).toBe(0o4755);
        expect(actual.get('bin/ping-like')?.xattrs).toEqual({ 'security.capability': CAP_NET_RAW });
        expect(actual.get('home/user/notes.txt')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o640 });
        expect(actual.get('data/abs-link')?.target).toBe('/etc/config');
        expect(actual.get('data/new\nline')?.type).toBe('file');
        expect(actual.get('data/morph')?.type).toBe('dir');
      }
      if (name === 'multi') expect(readFileSync(join(target, 'arch/name'), 'utf8')).toBe('amd64\n');
    },
  );

  it('stores checksums equal to an independent computation of the Go tool formula', () => {
    for (const l of lines) expect(l.checksum, l.path).toBe(goToolChecksum(join(inspect, l.path)));
  });

  it('writes images.metadata (the ctr image listing) and gdib.json', () => {
    const listing = readFileSync(join(inspect, 'images.metadata'), 'utf8');
    expect(listing.split('\n')[0]).toMatch(/^REF\s+TYPE\s+DIGEST/);
    for (const ref of Object.values(refs())) expect(listing).toContain(ref);
    const info = JSON.parse(readFileSync(join(inspect, 'gdib.json'), 'utf8')) as {
      tool: string;
      version: string;
      runId: string;
      builtAt: string;
      platform: string;
      checksums: boolean;
      images: {
        reference: string;
        manifestDigest: string;
        platform: string;
        layers: { diffID: string; chainID: string; snapshot: string; size: number; unpackedSize: number }[];
      }[];
    };
    expect(info).toMatchObject({
      tool: 'gke-disk-image-builder',
      version: pkg.version,
      runId: 'rig001',
      platform: 'linux/amd64',
      checksums: true,
    });
    expect(Date.now() - Date.parse(info.builtAt)).toBeLessThan(10 * 60_000);
    const pathOf = new Map(lines.map((l) => [l.chainId, l.path]));
    for (const [name, ref] of Object.entries(refs()) as ['app' | 'app2' | 'multi', string][]) {
      const entry = info.images.find((i) => i.reference === ref);
      expect(entry?.manifestDigest).toBe(images[name].manifestDigest);
      expect(entry?.platform).toBe('linux/amd64');
      const chains = chainIds(images[name].diffIds);
      expect(entry?.layers.map((l) => [l.diffID, l.chainID, l.snapshot])).toEqual(
        images[name].diffIds.map((d, i) => [d, chains[i], pathOf.get(chains[i] as string)]),
      );
      for (const l of entry?.layers ?? []) {
        expect(l.size).toBeGreaterThan(0);
        expect(l.unpackedSize).toBeGreaterThan(0);
      }
    }
  });

  it('routes docker.io through mirror.gcr.io in the hosts dir', () => {
    const toml = readFileSync(join(rig.hostsDir, 'docker.io', 'hosts.toml'), 'utf8');
    expect(toml).toContain('server = "https://registry-1.docker.io"');
    expect(toml).toContain('[host."https://mirror.gcr.io"]');
  });

  describe('verify', () => {
    beforeAll(async () => {
      for (const m of mounts.splice(0).reverse()) await unmount(m);
    });

    it('passes on the built disk, and writes nothing to it', async () => {
      const before = sha256File(disk.file);
      const res = await runVmScript({ input: verifyInput, device: disk.device, dir: rig.runDir('verify') });
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(phases(res.serialFacts)).toEqual(['installing', 'verifying', 'done']);
      expect(res.serialFacts.at(-1)).toEqual({ key: 'state', value: 'succeeded' });
      expect(res.stdout).toContain(`all ${lines.length} snapshots match their checksums`);
      expect(disk.mountPoints()).toEqual([]);
      expect(sha256File(disk.file)).toBe(before);
    });

    it('fails on a copy with one changed byte, naming the snapshot', async () => {
      const copy = await disk.copy(join(rig.dir, 'corrupt.img'));
      disks.push(copy);
      const base = lines.find((l) => l.chainId === images.app.diffIds[0]) as SnapshotLine;
      const target = join(rig.dir, 'corrupt');
      mkdirSync(target);
      await mount(copy.device, target);
      const file = join(target, base.path, 'data/big.bin');
      const data = readFileSync(file);
      data[1000] = (data[1000] ?? 0) ^ 0xff;
      writeFileSync(file, data);
      await unmount(target);
      const res = await runVmScript({ input: verifyInput, device: copy.device, dir: rig.runDir('verify-corrupt') });
      expect(res.code).not.toBe(0);
      expect(res.serialFacts.at(-1)).toEqual({ key: 'state', value: 'failed' });
      const error = res.metadata.guestAttributes.get('gdib/error') ?? '';
      expect(error).toContain('1 of 4 snapshots do not match their checksum');
      expect(error).toContain(base.path);
      expect(res.serialFacts).toContainEqual({ key: 'error', value: error });
      expect(copy.mountPoints()).toEqual([]);
      await copy.detach();
    });

    it('fails when a listed snapshot directory is missing', async () => {
      const copy = await disk.copy(join(rig.dir, 'missing.img'));
      disks.push(copy);
      const victim = lines[lines.length - 1] as SnapshotLine;
      const target = join(rig.dir, 'missing');
      mkdirSync(target);
      await mount(copy.device, target);
      rmSync(join(target, victim.path), { recursive: true });
      await unmount(target);
      const res = await runVmScript({ input: verifyInput, device: copy.device, dir: rig.runDir('verify-missing') });
      expect(res.code).not.toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/error')).toContain(`1 of 4 snapshot directories are missing (${victim.path})`);
      expect(res.metadata.guestAttributes.get('gdib/state')).toBe('failed');
      await copy.detach();
    });
  });

  describe('verify on a disk it cannot vouch for', () => {
    it('fails on an ext4 disk that no build wrote', async () => {
      const blank = await LoopDisk.create(join(rig.dir, 'blank.img'), 16);
      disks.push(blank);
      await run('mkfs.ext4', ['-q', '-F', blank.device]);
      const res = await runVmScript({ input: verifyInput, device: blank.device, dir: rig.runDir('verify-blank') });
      expect(res.code).not.toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/error')).toContain('the disk has no snapshots.metadata');
      expect(blank.mountPoints()).toEqual([]);
      await blank.detach();
    });
  });

  describe('--platform linux/arm64 without checksums', () => {
    let armDisk: LoopDisk;
    let res: ScriptRun;
    beforeAll(async () => {
      armDisk = await LoopDisk.create(join(rig.dir, 'arm.img'), 64);
      disks.push(armDisk);
      res = await runVmScript({
        input: {
          mode: 'build',
          runId: 'rig002',
          containerImages: [rig.ref('multi')],
          imagePullAuth: 'None',
          storeChecksums: false,
          platform: 'linux/arm64',
        },
        device: armDisk.device,
        dir: rig.runDir('build-arm64'),
        hostsDir: rig.hostsDir,
      });
    });

    it('unpacks the arm64 image and writes no checksums', async () => {
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(phases(res.serialFacts)).not.toContain('checksumming');
      const arm = await fetchImage(rig.open.host, REPO, 'multi', { os: 'linux', architecture: 'arm64' });
      const target = join(rig.dir, 'inspect-arm');
      mkdirSync(target);
      await mount(armDisk.device, target, { options: 'ro,noload' });
      try {
        const armLines = parseSnapshotsMetadata(readFileSync(join(target, 'snapshots.metadata'), 'utf8'));
        expect(armLines.map((l) => l.chainId)).toEqual(chainIds(arm.diffIds));
        expect(armLines.every((l) => l.checksum === undefined)).toBe(true);
        expect(readFileSync(join(target, armLines[0]?.path ?? '', 'arch/name'), 'utf8')).toBe('arm64\n');
        const info = JSON.parse(readFileSync(join(target, 'gdib.json'), 'utf8')) as {
          images: { manifestDigest: string; platform: string }[];
        };
        expect(info.images[0]).toMatchObject({ manifestDigest: arm.manifestDigest, platform: 'linux/arm64' });
      } finally {
        await unmount(target);
      }
    });

    it('fails verification, saying the checksums are missing', async () => {
      const v = await runVmScript({ input: verifyInput, device: armDisk.device, dir: rig.runDir('verify-arm64') });
      expect(v.code).not.toBe(0);
      expect(v.metadata.guestAttributes.get('gdib/error')).toMatch(/no checksum for 1 of 1 snapshots.*--store-snapshot-checksum=true/);
      expect(armDisk.mountPoints()).toEqual([]);
    });
  });
});

const verifyInput = {
  mode: 'verify' as const,
  runId: 'rigv01',
  containerImages: [],
  imagePullAuth: 'None' as const,
  storeChecksums: true,
  platform: 'linux/amd64',
};
