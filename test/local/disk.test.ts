// The local data disk: a sparse file of whole GiB on a loop device, detached once and only while it is ours.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { attachLoop, createLoopDisk, GIB, loopBackingFile, loopDevicesOf, type LoopDisk } from '../../src/local/disk.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

describeRig('local loop disk', () => {
  let dir: string;
  const disks: LoopDisk[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-local-disk-'));
  });

  afterEach(async () => {
    for (const d of disks.splice(0)) await d.detach();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a sparse file of exactly N GiB, attached to a loop device of that size', async () => {
    const disk = await createLoopDisk(join(dir, 'one.img'), 1);
    disks.push(disk);
    const st = statSync(disk.file);
    expect(st.size).toBe(GIB);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024); // allocated ≪ size
    expect(disk.device).toMatch(/^\/dev\/loop\d+$/);
    expect(loopBackingFile(disk.device)).toBe(disk.file);
    expect(loopDevicesOf(disk.file)).toEqual([disk.device]);
    const { stdout } = await run('blockdev', ['--getsize64', disk.device]);
    expect(Number(stdout.trim())).toBe(GIB);
    expect(readFileSync('/sys/block/' + disk.device.slice(5) + '/ro', 'utf8').trim()).toBe('0');
  });

  it('detaches, and a second detach is fine', async () => {
    const disk = await createLoopDisk(join(dir, 'twice.img'), 1);
    await disk.detach();
    expect(loopBackingFile(disk.device)).toBeUndefined();
    expect(loopDevicesOf(disk.file)).toEqual([]);
    await disk.detach();
    await Promise.all([disk.detach(), disk.detach()]);
    expect(existsSync(disk.file)).toBe(true); // the file is the caller's
  });

  it('never detaches a device that serves another file by then', async () => {
    const first = await createLoopDisk(join(dir, 'first.img'), 1);
    await run('losetup', ['--detach', first.device]);
    // Someone else gets the same device.
    const other = join(dir, 'other.img');
    writeFileSync(other, Buffer.alloc(1024 * 1024));
    await run('losetup', [first.device, other]);
    try {
      await first.detach();
      expect(loopBackingFile(first.device)).toBe(other);
    } finally {
      await run('losetup', ['--detach', first.device], { allowFailure: true });
    }
  });

  it('still detaches when the file was removed while attached', async () => {
    const disk = await createLoopDisk(join(dir, 'removed.img'), 1);
    rmSync(disk.file);
    expect(loopBackingFile(disk.device)).toBe(`${disk.file} (deleted)`);
    await disk.detach();
    expect(loopBackingFile(disk.device)).toBeUndefined();
  });

  it('attaches an existing file read-only', async () => {
    const file = join(dir, 'existing.img');
    writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, 7));
    const disk = await attachLoop(file, { readOnly: true });
    disks.push(disk);
    expect(readFileSync(`/sys/block/${disk.device.slice(5)}/ro`, 'utf8').trim()).toBe('1');
    const res = await run('dd', ['if=/dev/zero', `of=${disk.device}`, 'bs=4096', 'count=1', 'oflag=direct'], { allowFailure: true });
    expect(res.code).not.toBe(0);
    expect(readFileSync(file).every((b) => b === 7)).toBe(true);
  });

  it('refuses sizes GCE would not import, and an existing file, leaving nothing behind', async () => {
    for (const size of [0, -1, 1.5, Number.NaN]) {
      await expect(createLoopDisk(join(dir, `bad-${size}.img`), size)).rejects.toThrow(/whole number of GB/);
      expect(existsSync(join(dir, `bad-${size}.img`))).toBe(false);
    }
    const taken = join(dir, 'taken.img');
    writeFileSync(taken, 'mine');
    await expect(createLoopDisk(taken, 1)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(taken, 'utf8')).toBe('mine');
    expect(loopDevicesOf(taken)).toEqual([]);
  });
});
