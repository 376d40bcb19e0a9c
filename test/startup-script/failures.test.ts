// Every failure ends in `failed` with a one-line reason naming the image or step, the data disk
// unmounted and the script's containerd stopped.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { LoopDisk, isMountPoint } from '../rig/disk.js';
import { HUGE_BYTES } from '../rig/images.js';
import { processesMentioning } from '../rig/inspect.js';
import { describeRig, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun, type ScriptRunOptions } from '../rig/run-script.js';

describeRig('build failures', () => {
  let rig: Rig;
  const disks: LoopDisk[] = [];

  beforeAll(async () => {
    rig = await startRig('fail', { huge: true });
  });

  afterAll(async () => {
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  async function build(
    name: string,
    images: string[],
    opts: { sizeMiB?: number; metadata?: ScriptRunOptions['metadata']; onStart?: ScriptRunOptions['onStart'] } = {},
  ): Promise<{ res: ScriptRun; disk: LoopDisk; error: string }> {
    const disk = await LoopDisk.create(join(rig.dir, `${name}.img`), opts.sizeMiB ?? 64);
    disks.push(disk);
    const res = await runVmScript({
      input: {
        mode: 'build',
        runId: 'fail01',
        containerImages: images,
        imagePullAuth: 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      device: disk.device,
      dir: rig.runDir(name),
      hostsDir: rig.hostsDir,
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
      ...(opts.onStart ? { onStart: opts.onStart } : {}),
    });
    return { res, disk, error: res.metadata.guestAttributes.get('gdib/error') ?? '' };
  }

  function expectFailedCleanly(res: ScriptRun, disk: LoopDisk, error: string): void {
    expect(res.code).not.toBe(0);
    expect(res.metadata.guestAttributes.get('gdib/state')).toBe('failed');
    expect(res.serialFacts.at(-1)).toEqual({ key: 'state', value: 'failed' });
    expect(res.serialFacts.at(-2)).toEqual({ key: 'error', value: error });
    expect(error).not.toContain('\n');
    expect(disk.mountPoints()).toEqual([]);
    expect(isMountPoint(res.mountDir)).toBe(false);
    expect(processesMentioning(res.workDir)).toEqual([]);
  }

  // Loop devices are few: each test gives its own back as soon as it is done.
  afterEach(async () => {
    for (const d of disks) await d.detach();
  });

  it('names a missing image', async () => {
    const missing = rig.ref('no-such-tag');
    const { res, disk, error } = await build('missing', [rig.ref('base'), missing]);
    expectFailedCleanly(res, disk, error);
    expect(error).toMatch(new RegExp(`^image ${missing.replace(/[.]/g, '\\.')} not found`));
  });

  it('names an image the registry refuses, and the flag that helps', async () => {
    const ref = rig.privateRef('app');
    const { res, disk, error } = await build('refused', [ref]);
    expectFailedCleanly(res, disk, error);
    expect(error).toContain(`the registry refused ${ref}`);
    expect(error).toContain('--image-pull-auth');
  });

  it('says which flag to raise when the disk is too small', async () => {
    const ref = rig.ref('huge');
    const { res, disk, error } = await build('too-small', [ref], { sizeMiB: Math.floor(HUGE_BYTES / 1048576 / 2) });
    expectFailedCleanly(res, disk, error);
    expect(error).toContain('is full');
    expect(error).toContain(ref);
    expect(error).toContain('--disk-size-gb');
  });

  it('rejects bad metadata before touching the disk, without evaluating it', async () => {
    const marker = join(rig.dir, 'evaluated');
    const { res, disk, error } = await build('bad-ref', [`$(touch ${marker})`]);
    expectFailedCleanly(res, disk, error);
    expect(error).toContain('invalid container image reference');
    expect(existsSync(marker)).toBe(false);
    expect(res.serialFacts.filter((f) => f.key === 'phase').map((f) => f.value)).toEqual(['installing']);

    const bad = await build('bad-auth', [rig.ref('base')], { metadata: { attributes: { 'gdib-image-pull-auth': 'Bogus' } } });
    expectFailedCleanly(bad.res, bad.disk, bad.error);
    expect(bad.error).toContain("invalid gdib-image-pull-auth 'Bogus'");
  });

  it.each(['pulling', 'unpacking'])('reports an interruption (SIGTERM, as at VM shutdown) while %s, and cleans up', async (phase) => {
    let script: ChildProcess | undefined;
    const ref = rig.ref('huge');
    const { res, disk, error } = await build(`sigterm-${phase}`, [ref], {
      sizeMiB: 128,
      onStart: (child) => (script = child),
      metadata: { onAttribute: (key, value) => void (key === 'gdib/phase' && value === phase && script?.kill('SIGTERM')) },
    });
    expectFailedCleanly(res, disk, error);
    expect(res.code).toBe(143);
    expect(error).toBe(`interrupted by SIGTERM during: ${phase} ${ref}`);
    expect(res.stdout).not.toContain('could not unmount');
  });
});
