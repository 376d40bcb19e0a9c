// The build script on a data disk made from an image it built (gdib-data-disk=from-image), run for real: it
// reuses the snapshots on the disk, fetches only the layers it lacks, removes what no image needs, and leaves a
// disk that every disk check takes for a fresh build of the same images.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goToolChecksum } from '../rig/checksum.js';
import { LoopDisk, mount, unmount } from '../rig/disk.js';
import { applyLayers, diffTrees, readTree } from '../rig/fs-model.js';
import { tags, writeApp2Next } from '../rig/images.js';
import { mountOverlay, parseSnapshotsMetadata, processesMentioning, type SnapshotLine } from '../rig/inspect.js';
import { run } from '../rig/proc.js';
import { chainIds, fetchImage, type RegistryImage } from '../rig/registry-client.js';
import { blobGets } from '../rig/registry.js';
import { describeRig, REPO, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun } from '../rig/run-script.js';
import type { MetadataInput } from '../../src/startup-script/render.js';

const MiB = 1024 * 1024;

function phases(res: ScriptRun): string[] {
  return res.serialFacts.filter((f) => f.key === 'phase').map((f) => f.value);
}

interface DiskView {
  lines: SnapshotLine[];
  root: string[];
  /** What each snapshots/<N> directory holds, sorted. */
  shapes: string[];
  snapshotDirs: number;
  info: {
    tool: string;
    checksums: boolean;
    images: { reference: string; manifestDigest: string; layers: { chainID: string; snapshot: string }[] }[];
  };
  listing: string;
  fsBytes: number;
}

describeRig('build script on a disk made from a base image', () => {
  let rig: Rig;
  const disks: LoopDisk[] = [];
  const mounts: string[] = [];
  const images: Record<'app' | 'app2' | 'next', RegistryImage> = {} as never;
  let base: LoopDisk;
  let incremental: LoopDisk;
  let fresh: LoopDisk;
  let inc: ScriptRun;
  let mountedAfterInc: string[];
  let served: { digest: string; bytes: number }[];
  let baseView: DiskView;
  let incView: DiskView;
  let freshView: DiskView;

  const input = (runId: string, refs: string[], dataDisk?: 'from-image'): MetadataInput => ({
    mode: 'build',
    runId,
    containerImages: refs,
    imagePullAuth: 'None',
    storeChecksums: true,
    platform: 'linux/amd64',
    ...(dataDisk ? { dataDisk } : {}),
  });

  /** The disk image of `disk` made into a new disk of `sizeMiB`, as GCE creates a larger disk from an image. */
  async function fromImage(disk: LoopDisk, name: string, sizeMiB: number): Promise<LoopDisk> {
    const file = join(rig.dir, `${name}.img`);
    await run('sync', []);
    await run('cp', ['--sparse=always', disk.file, file]);
    await run('truncate', ['-s', `${sizeMiB}M`, file]);
    const d = await LoopDisk.attach(file);
    disks.push(d);
    return d;
  }

  async function build(name: string, device: string, refs: string[], dataDisk?: 'from-image'): Promise<ScriptRun> {
    return runVmScript({ input: input(name, refs, dataDisk), device, dir: rig.runDir(name), hostsDir: rig.hostsDir });
  }

  async function view(disk: LoopDisk, name: string): Promise<DiskView> {
    const target = join(rig.dir, `inspect-${name}`);
    mkdirSync(target);
    await mount(disk.device, target, { options: 'ro,noload' });
    mounts.push(target);
    const snapshots = readdirSync(join(target, 'snapshots'));
    return {
      lines: parseSnapshotsMetadata(readFileSync(join(target, 'snapshots.metadata'), 'utf8')),
      root: readdirSync(target).sort(),
      shapes: snapshots
        .map((n) =>
          readdirSync(join(target, 'snapshots', n))
            .sort()
            .join(','),
        )
        .sort(),
      snapshotDirs: snapshots.length,
      info: JSON.parse(readFileSync(join(target, 'gdib.json'), 'utf8')) as DiskView['info'],
      listing: readFileSync(join(target, 'images.metadata'), 'utf8'),
      fsBytes: Number((await run('df', ['-B1', '--output=size', target])).stdout.split('\n')[1]),
    };
  }

  const inspectDir = (name: string) => join(rig.dir, `inspect-${name}`);

  beforeAll(async () => {
    rig = await startRig('incremental', { accessLog: true });
    const layout = join(rig.dir, 'layout-next');
    writeApp2Next(layout);
    await rig.open.push(layout, tags.app2Next, REPO);
    images.app = await fetchImage(rig.open.host, REPO, tags.app);
    images.app2 = await fetchImage(rig.open.host, REPO, tags.app2);
    images.next = await fetchImage(rig.open.host, REPO, tags.app2Next);

    base = await LoopDisk.create(join(rig.dir, 'base.img'), 64);
    disks.push(base);
    const b = await build('base', base.device, [rig.ref(tags.app), rig.ref(tags.app2)]);
    if (b.code !== 0) throw new Error(`the base build failed:\n${b.stdout}${b.stderr}`);

    incremental = await fromImage(base, 'incremental', 96);
    const before = rig.open.requests().length;
    inc = await build('incremental', incremental.device, [rig.ref(tags.app), rig.ref(tags.app2Next)], 'from-image');
    served = blobGets(rig.open.requests().slice(before));
    mountedAfterInc = incremental.mountPoints();

    fresh = await LoopDisk.create(join(rig.dir, 'fresh.img'), 96);
    disks.push(fresh);
    const f = await build('fresh', fresh.device, [rig.ref(tags.app), rig.ref(tags.app2Next)]);
    if (f.code !== 0) throw new Error(`the fresh build failed:\n${f.stdout}${f.stderr}`);

    baseView = await view(base, 'base');
    if (inc.code === 0) incView = await view(incremental, 'incremental');
    freshView = await view(fresh, 'fresh');
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await unmount(m);
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  it('succeeds without formatting, reporting its phases', () => {
    expect(inc.stderr).toBe('');
    expect(inc.code, inc.stdout).toBe(0);
    expect(inc.serialFacts.at(-1)).toEqual({ key: 'state', value: 'succeeded' });
    const seen = phases(inc);
    expect(seen.slice(0, 2)).toEqual(['installing', 'mounting']);
    expect(seen).not.toContain('formatting');
    expect(seen.filter((p) => p === 'pulling')).toHaveLength(2);
    expect(seen.slice(-2)).toEqual(['checksumming', 'done']);
    expect(inc.stdout).toMatch(/reused 3 snapshot\(s\) of the base image in \d+ s/);
    expect(processesMentioning(inc.workDir)).toEqual([]);
    expect(mountedAfterInc).toEqual([]);
  });

  it("fetches only the new layer's blob from the registry", () => {
    const allLayers = new Set([images.app, images.app2, images.next].flatMap((i) => i.layerDigests));
    const newLayer = images.next.layerDigests[2] as string;
    expect(images.next.layerDigests.slice(0, 2)).toEqual(images.app2.layerDigests);
    const layerGets = served.filter((g) => allLayers.has(g.digest));
    expect(layerGets.map((g) => g.digest)).toEqual([newLayer]);
    // Everything else it fetched is small: manifests are not blobs, configs are.
    expect(served.filter((g) => !allLayers.has(g.digest)).every((g) => g.bytes < 4096)).toBe(true);
  });

  it('grows the filesystem to the larger disk', () => {
    expect(inc.stdout).toMatch(/growing the filesystem from 64\.0 MB to 96\.0 MB/);
    expect(inc.stdout).toMatch(/filesystem grown (online|unmounted) in \d+ s/);
    expect(baseView.fsBytes).toBeLessThan(64 * MiB);
    expect(incView.fsBytes).toBeGreaterThan(80 * MiB);
    expect(incView.fsBytes).toBe(freshView.fsBytes);
  });

  it('lists one line per chain of exactly these images, with right checksums', () => {
    const expected = [...new Set([images.app, images.next].flatMap((i) => chainIds(i.diffIds)))].sort();
    expect(incView.lines.map((l) => l.chainId).sort()).toEqual(expected);
    expect(incView.lines.map((l) => [l.chainId, l.checksum]).sort()).toEqual(freshView.lines.map((l) => [l.chainId, l.checksum]).sort());
    for (const l of incView.lines) expect(l.checksum, l.path).toBe(goToolChecksum(join(inspectDir('incremental'), l.path)));
    // The chains it shares with the base keep their checksums.
    const baseSum = new Map(baseView.lines.map((l) => [l.chainId, l.checksum]));
    for (const c of chainIds(images.app2.diffIds)) expect(incView.lines.find((l) => l.chainId === c)?.checksum).toBe(baseSum.get(c));
  });

  it('looks like a fresh build of the same images: root, snapshot directories, gdib.json, images.metadata', () => {
    expect(incView.root).toEqual(freshView.root);
    expect(incView.root).toEqual(['gdib.json', 'images.metadata', 'lost+found', 'snapshots', 'snapshots.metadata']);
    expect(incView.snapshotDirs).toBe(incView.lines.length);
    expect(incView.shapes).toEqual(freshView.shapes);
    const strip = (i: DiskView['info']) => i.images.map((img) => ({ ...img, layers: img.layers.map(({ snapshot: _s, ...rest }) => rest) }));
    expect(strip(incView.info)).toEqual(strip(freshView.info));
    expect(incView.info.images.map((i) => i.reference)).toEqual([rig.ref(tags.app), rig.ref(tags.app2Next)]);
    const pathOf = new Map(incView.lines.map((l) => [l.chainId, l.path]));
    for (const img of incView.info.images) for (const l of img.layers) expect(l.snapshot).toBe(pathOf.get(l.chainID));
    expect(incView.listing).toBe(freshView.listing);
    expect(incView.listing).not.toContain(`:${tags.app2}\t`);
  });

  it.each(['app', 'next'] as const)(
    'mounting the snapshots of %s as overlay lower dirs gives exactly its root filesystem',
    async (name) => {
      const image = images[name];
      const dirOf = new Map(incView.lines.map((l) => [l.chainId, join(inspectDir('incremental'), l.path)]));
      const lower = chainIds(image.diffIds)
        .map((c) => dirOf.get(c) as string)
        .reverse();
      expect(lower.every((d) => d !== undefined)).toBe(true);
      const target = join(rig.dir, `overlay-${name}`);
      mkdirSync(target);
      await mountOverlay(lower, target);
      mounts.push(target);
      expect(diffTrees(applyLayers(image.layers), await readTree(target))).toEqual([]);
    },
  );

  describe('afterwards', () => {
    beforeAll(async () => {
      for (const m of mounts.splice(0).reverse()) await unmount(m);
    });

    it('passes verify', async () => {
      const res = await runVmScript({
        input: { ...input('verify', []), mode: 'verify' },
        device: incremental.device,
        dir: rig.runDir('verify'),
      });
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toContain(`all ${incView.lines.length} snapshots match their checksums`);
    });

    it('drops an image no longer listed: its own snapshots leave the disk', async () => {
      const again = await fromImage(incremental, 'again', 96);
      const before = rig.open.requests().length;
      const res = await build('again', again.device, [rig.ref(tags.app)], 'from-image');
      expect(res.code, res.stdout + res.stderr).toBe(0);
      const layerGets = blobGets(rig.open.requests().slice(before)).filter((g) => images.app.layerDigests.includes(g.digest));
      expect(layerGets).toEqual([]);
      const v = await view(again, 'again');
      const appChains = chainIds(images.app.diffIds);
      expect(v.lines.map((l) => l.chainId).sort()).toEqual([...appChains].sort());
      expect(v.snapshotDirs).toBe(appChains.length);
      expect(v.root).toEqual(['gdib.json', 'images.metadata', 'lost+found', 'snapshots', 'snapshots.metadata']);
      expect(v.info.images.map((i) => i.reference)).toEqual([rig.ref(tags.app)]);
      expect(v.listing).not.toContain(tags.app2);
      for (const l of v.lines) expect(l.checksum, l.path).toBe(goToolChecksum(join(inspectDir('again'), l.path)));
      expect(statSync(join(inspectDir('again'), 'snapshots')).isDirectory()).toBe(true);
    });

    it("refuses a disk without this tool's layout, saying why", async () => {
      const blank = await LoopDisk.create(join(rig.dir, 'foreign.img'), 32);
      disks.push(blank);
      await run('mkfs.ext4', ['-q', '-F', blank.device]);
      const res = await build('foreign', blank.device, [rig.ref(tags.app)], 'from-image');
      expect(res.code).not.toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/state')).toBe('failed');
      expect(res.metadata.guestAttributes.get('gdib/error')).toBe(
        "the data disk made from the base image does not hold gke-disk-image-builder's layout: no gdib.json at its root",
      );
      expect(blank.mountPoints()).toEqual([]);
    });

    it('computes the checksums a base without them could not carry over', async () => {
      const plain = await LoopDisk.create(join(rig.dir, 'plain.img'), 64);
      disks.push(plain);
      const first = await runVmScript({
        input: { ...input('plain', [rig.ref(tags.app)]), storeChecksums: false },
        device: plain.device,
        dir: rig.runDir('plain'),
        hostsDir: rig.hostsDir,
      });
      expect(first.code, first.stdout).toBe(0);
      const copy = await fromImage(plain, 'plain-next', 64);
      const res = await build('plain-next', copy.device, [rig.ref(tags.app)], 'from-image');
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).not.toMatch(/carried over/);
      expect(res.stdout).not.toMatch(/growing the filesystem/);
      const v = await view(copy, 'plain-next');
      expect(v.info.checksums).toBe(true);
      expect(v.lines).toHaveLength(2);
      for (const l of v.lines) expect(l.checksum, l.path).toBe(goToolChecksum(join(inspectDir('plain-next'), l.path)));
    });

    it('refuses a disk with no filesystem at all', async () => {
      const empty = await LoopDisk.create(join(rig.dir, 'empty.img'), 16);
      disks.push(empty);
      const res = await build('empty', empty.device, [rig.ref(tags.app)], 'from-image');
      expect(res.code).not.toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/error')).toMatch(
        /^the data disk made from the base image does not hold gke-disk-image-builder's layout: it holds no ext4 filesystem that mounts/,
      );
    });
  });
});
