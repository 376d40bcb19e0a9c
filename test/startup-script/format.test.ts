// What formatting a blank data disk writes (the agent's DataDisk.formatAndMount; docs/architecture.md, Disk layout):
// run in-process against a sparse 4 GiB file on a loop device, with the bytes written counted by the loop device.
// Not written: the inode tables (64 MiB here) and the journal (64 MiB); the benchmark's typed options write them as
// before. Needs the rig's machine (root, loop devices).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LoopDisk } from '../rig/disk.js';
import type { AgentOptions } from '../../src/vm/agent/context.js';
import { DataDisk } from '../../src/vm/agent/disk.js';
import { testCtx } from '../rig/agent-ctx.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

const MiB = 2 ** 20;

/** Sectors written to a block device so far (the kernel's counter, /sys/block/<dev>/stat). */
const sectorsWritten = (device: string) =>
  Number(
    readFileSync(`/sys/block/${basename(device)}/stat`, 'utf8')
      .trim()
      .split(/\s+/)[6],
  );

interface Formatted {
  writtenBytes: number;
  mountOptions: string;
  fsck: { code: number | null; output: string };
}

describeRig('formatting a blank data disk', () => {
  let dir: string;
  const results: Record<string, Formatted> = {};

  /** formatAndMount on a fresh sparse disk with `opts`; then a file is written, the disk unmounted and checked. */
  async function format(name: string, opts: AgentOptions): Promise<Formatted> {
    const work = join(dir, name);
    mkdirSync(join(work, 'logs'), { recursive: true });
    const disk = await LoopDisk.create(join(dir, `${name}.img`), 4096);
    try {
      const before = sectorsWritten(disk.device);
      const mnt = join(work, 'mnt');
      const ctx = testCtx({ env: { workDir: work, mountDir: mnt, device: disk.device }, opts });
      const data = new DataDisk(ctx);
      await data.claim('gdib-data');
      await data.formatAndMount();
      const options = await run('findmnt', ['-rn', '-o', 'OPTIONS', mnt]);
      writeFileSync(join(mnt, 'file'), 'written\n');
      await run('umount', [mnt]);
      const r = { stdout: options.stdout };
      const writtenBytes = (sectorsWritten(disk.device) - before) * 512;
      const fsck = await run('e2fsck', ['-f', '-n', disk.device], { allowFailure: true });
      return { writtenBytes, mountOptions: r.stdout.trim(), fsck: { code: fsck.code, output: fsck.stdout + fsck.stderr } };
    } finally {
      await disk.detach();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-format-'));
    results.now = await format('now', {});
    results.itable = await format('itable', { lazyJournal: false });
    results.before = await format('before', { lazyItable: false, lazyJournal: false });
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes neither the inode tables nor the journal, and mounts with noinit_itable', () => {
    expect(results.now!.writtenBytes).toBeLessThan(16 * MiB);
    expect(results.now!.mountOptions).toContain('noinit_itable');
  });

  it('leaves a file system e2fsck finds clean, after a file was written to it', () => {
    for (const r of Object.values(results)) expect(r.fsck.code, r.fsck.output).toBe(0);
  });

  it('zeroes the journal with lazyJournal: false, and writes the inode tables too with lazyItable: false', () => {
    expect(results.itable!.writtenBytes - results.now!.writtenBytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(results.before!.writtenBytes - results.itable!.writtenBytes).toBeGreaterThanOrEqual(60 * MiB);
    expect(results.before!.mountOptions).not.toContain('noinit_itable');
  });
});
