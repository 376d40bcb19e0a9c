// Several images pulled at once (docs/vm-script.md, "Overlap"): the disk is the same as when they are pulled one by
// one, and one image that fails stops the others and fails the build naming it, leaving nothing behind.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { LoopDisk, isMountPoint, mount, unmount } from '../rig/disk.js';
import { filesContaining, processesMentioning } from '../rig/inspect.js';
import { randomToken } from '../rig/metadata-server.js';
import { describeRig, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun, type ScriptRunOptions } from '../rig/run-script.js';
import type { ImagePullAuth } from '../../src/startup-script/render.js';

interface Built {
  res: ScriptRun;
  disk: LoopDisk;
  /** The files of the disk's root, read after the build; snapshot directory numbers (containerd's) replaced. */
  files: Record<string, string>;
}

/** Builds of several images on a shared, loaded machine: a limit on the harness, not a timing assertion. */
const BUILDS_MS = 300_000;

describeRig('parallel pulls', () => {
  let rig: Rig;
  const disks: LoopDisk[] = [];

  beforeAll(async () => {
    rig = await startRig('parallel', { huge: true });
  });

  afterEach(async () => {
    for (const d of disks) await d.detach();
  });

  afterAll(async () => {
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  async function build(
    name: string,
    images: string[],
    pullJobs: number,
    opts: { auth?: ImagePullAuth; metadata?: ScriptRunOptions['metadata'] } = {},
  ): Promise<Built> {
    const disk = await LoopDisk.create(join(rig.dir, `${name}.img`), 160);
    disks.push(disk);
    const res = await runVmScript({
      input: {
        mode: 'build',
        runId: 'par001',
        containerImages: images,
        imagePullAuth: opts.auth ?? 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      device: disk.device,
      dir: rig.runDir(name),
      hostsDir: rig.hostsDir,
      agentOptions: { pullJobs },
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    });
    const files: Record<string, string> = {};
    if (res.code === 0) {
      const target = join(rig.dir, `inspect-${name}`);
      mkdirSync(target);
      await mount(disk.device, target, { options: 'ro,noload' });
      try {
        for (const f of ['snapshots.metadata', 'images.metadata', 'gdib.json']) {
          files[f] = readFileSync(join(target, f), 'utf8').replace(/snapshots\/\d+\/fs/g, 'snapshots/N/fs');
        }
      } finally {
        await unmount(target);
      }
    }
    return { res, disk, files };
  }

  it('writes the same metadata and checksums as pulling one image at a time, in list order', { timeout: BUILDS_MS }, async () => {
    const images = [rig.ref('app'), rig.ref('base'), rig.ref('multi'), rig.ref('app2')];
    const serial = await build('serial', images, 1);
    const parallel = await build('parallel', images, 4);
    expect(serial.res.code, serial.res.stdout).toBe(0);
    expect(parallel.res.code, parallel.res.stdout).toBe(0);
    expect(parallel.res.stdout).toContain('pulling 4 images, up to 4 at once');
    expect(serial.res.stdout).not.toContain('at once');
    expect(parallel.files['snapshots.metadata']).toBe(serial.files['snapshots.metadata']);
    expect(parallel.files['images.metadata']).toBe(serial.files['images.metadata']);
    const record = (s: string | undefined) => {
      const { builtAt: _, ...rest } = JSON.parse(s ?? '{}') as Record<string, unknown>;
      return rest;
    };
    expect(record(parallel.files['gdib.json'])).toEqual(record(serial.files['gdib.json']));
    // gdib.json lists the images in the order given, whatever order their pulls ended in.
    expect((record(parallel.files['gdib.json']).images as { reference: string }[]).map((i) => i.reference)).toEqual(images);
    // One progress line per image, naming it; the guest attributes in the same order as the serial lines.
    for (const [k, ref] of images.entries()) {
      expect(parallel.res.serialFacts).toContainEqual({ key: 'progress', value: `image ${k + 1}/4 ${ref}: pulling` });
    }
    expect(parallel.res.metadata.attributeLog.map((a) => ({ key: a.key.replace(/^gdib\//, ''), value: a.value }))).toEqual(
      parallel.res.serialFacts,
    );
    // Every snapshot checksummed while the images were still being pulled or recorded, none left for the end.
    expect(parallel.res.stdout).toMatch(/gdib: 4 checksums computed while the images were pulled/);
  });

  it('pulls private images at once, each with a token it fetched, and writes the token nowhere', { timeout: BUILDS_MS }, async () => {
    // As GCE's metadata server does, the same token is handed out while it is valid: overlapping pulls both hold it.
    const token = randomToken();
    await rig.token.setToken(token);
    const { res, disk } = await build('tokens', [rig.privateRef('app'), rig.privateRef('app2')], 2, {
      auth: 'ServiceAccountToken',
      metadata: { issueToken: () => token },
    });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('pulling 2 images, up to 2 at once');
    expect(res.metadata.tokens).toEqual([token, token]);
    expect(res.stdout + res.stderr).not.toContain(token);
    for (const a of res.metadata.attributeLog) expect(a.value).not.toContain(token);
    expect(filesContaining(res.workDir, [token])).toEqual([]);
    expect(readFileSync(disk.file).includes(token)).toBe(false);
  });

  it('fails naming the image that failed, stops the other pulls and leaves nothing behind', { timeout: BUILDS_MS }, async () => {
    const missing = rig.ref('no-such-tag');
    // The first image is pulled alone; the failing pull then starts beside the huge one, which it stops.
    const { res, disk } = await build('one-fails', [rig.ref('app'), rig.ref('huge'), missing, rig.ref('app2')], 3);
    const error = res.metadata.guestAttributes.get('gdib/error') ?? '';
    expect(res.code).not.toBe(0);
    expect(res.serialFacts.at(-1)).toEqual({ key: 'state', value: 'failed' });
    expect(error).toMatch(new RegExp(`^image ${missing.replace(/[.]/g, '\\.')} not found`));
    expect(disk.mountPoints()).toEqual([]);
    expect(isMountPoint(res.mountDir)).toBe(false);
    expect(processesMentioning(res.workDir)).toEqual([]);
    expect(processesMentioning(res.mountDir)).toEqual([]);
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(res.workDir);
  });
});
