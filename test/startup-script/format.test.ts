// What formatting a blank data disk writes (build.sh, format_and_mount; docs/architecture.md, Disk layout): the
// script's own function, run by bash against a sparse 4 GiB file on a loop device, with the bytes written counted
// by the loop device. Not written: the inode tables (64 MiB here) and the journal (64 MiB); the benchmark's
// switches write them as before. Needs the rig's machine (root, loop devices).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LoopDisk } from '../rig/disk.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

const scripts = fileURLToPath(new URL('../../src/startup-script/', import.meta.url));
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

  /** format_and_mount on a fresh sparse disk with `env`; then a file is written, the disk unmounted and checked. */
  async function format(name: string, env: Record<string, string>): Promise<Formatted> {
    const work = join(dir, name);
    mkdirSync(join(work, 'logs'), { recursive: true });
    const disk = await LoopDisk.create(join(dir, `${name}.img`), 4096);
    try {
      const before = sectorsWritten(disk.device);
      const program = [
        'set -euo pipefail',
        'source "$SCRIPTS/common.sh"',
        ...['claim_data_disk', 'format_and_mount'].map((f) => `source <(sed -n '/^${f}() {/,/^}/p' "$SCRIPTS/build.sh")`),
        'LOGS=$GDIB_WORK_DIR/logs DEVICE_NAME=gdib-data MOUNTED=false',
        'format_and_mount',
        'findmnt -rn -o OPTIONS "$GDIB_MNT"',
        'echo written >"$GDIB_MNT/file"',
        'umount "$GDIB_MNT"',
      ].join('\n');
      const r = await run('bash', ['-c', program], {
        env: {
          PATH: process.env.PATH,
          SCRIPTS: scripts,
          GDIB_WORK_DIR: work,
          GDIB_DEVICE: disk.device,
          GDIB_MOUNT_DIR: join(work, 'mnt'),
          ...env,
        },
      });
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
    results.itable = await format('itable', { GDIB_MKFS_LAZY_JOURNAL: '0' });
    results.before = await format('before', { GDIB_MKFS_LAZY_ITABLE: '0', GDIB_MKFS_LAZY_JOURNAL: '0' });
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes neither the inode tables nor the journal, and mounts with noinit_itable', () => {
    expect(results.now!.writtenBytes).toBeLessThan(16 * MiB);
    expect(results.now!.mountOptions).toContain('noinit_itable');
  });

  it('leaves a file system e2fsck finds clean, after a file was written to it', () => {
    for (const r of Object.values(results)) expect(r.fsck.code, r.fsck.output).toBe(0);
  });

  it('zeroes the journal with GDIB_MKFS_LAZY_JOURNAL=0, and writes the inode tables too with GDIB_MKFS_LAZY_ITABLE=0', () => {
    expect(results.itable!.writtenBytes - results.now!.writtenBytes).toBeGreaterThanOrEqual(64 * MiB);
    expect(results.before!.writtenBytes - results.itable!.writtenBytes).toBeGreaterThanOrEqual(60 * MiB);
    expect(results.before!.mountOptions).not.toContain('noinit_itable');
  });
});
