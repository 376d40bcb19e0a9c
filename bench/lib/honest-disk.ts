// A data disk that costs what a disk costs. The rig's loop device writes into the page cache of its backing file, so
// a second write of every byte (the Go tool's copy) costs next to nothing there, while on a persistent disk it is a
// second trip through the disk's throughput. Here the loop device reads and writes its file with direct I/O
// (`losetup --direct-io=on`: nothing of the disk is cached twice) and the block layer holds it to pd-ssd's rate for
// the disk size modelled (blkio throttle on the loop device, a rule of the root cgroup v1 blkio hierarchy: every
// writer, the kernel's writeback included, is held to it). The page cache above the filesystem stays, as on a VM:
// what the script writes is held back only when it must reach the disk (a sync, an unmount, memory pressure).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { LoopDisk } from '../../test/rig/disk.js';
import { run } from '../../test/rig/proc.js';

/** pd-ssd: read and write throughput per GB of disk (MiB/s), before the per-VM limits. */
export const PD_SSD_MIBPS_PER_GB = 0.48;

export type DiskMode =
  | { kind: 'page-cache' }
  /** Direct I/O, held to `mibPerSec` for reads and writes (pd-ssd of `modelGb` GB). */
  | { kind: 'disk-bound'; modelGb: number; mibPerSec: number };

export const pdSsd = (gb: number): DiskMode & { kind: 'disk-bound' } => ({
  kind: 'disk-bound',
  modelGb: gb,
  mibPerSec: gb * PD_SSD_MIBPS_PER_GB,
});

export const describeMode = (m: DiskMode): string =>
  m.kind === 'page-cache'
    ? 'page cache (loop device, buffered)'
    : `disk-bound (direct I/O, ${m.mibPerSec.toFixed(0)} MiB/s: a ${m.modelGb} GB pd-ssd)`;

const THROTTLE = '/sys/fs/cgroup/blkio';

/** Why the disk-bound mode cannot run here, or undefined. */
export function diskBoundUnavailable(): string | undefined {
  if (!existsSync(`${THROTTLE}/blkio.throttle.write_bps_device`))
    return 'no cgroup v1 blkio throttle at /sys/fs/cgroup/blkio (on a cgroup v2 machine, io.max cannot be set on the root)';
  return undefined;
}

const rules = new Set<string>();
const clearRule = (majMin: string) => {
  for (const f of ['write_bps_device', 'read_bps_device']) {
    try {
      writeFileSync(`${THROTTLE}/blkio.throttle.${f}`, `${majMin} 0\n`);
    } catch {
      // the device is gone: so is its rule
    }
  }
  rules.delete(majMin);
};
// A rule outlives the benchmark if nothing removes it, and loop devices are shared with everything else on the machine.
process.once('exit', () => {
  for (const r of [...rules]) clearRule(r);
});

/** Puts `disk` in `mode`; returns the function that takes it out again (call it before detaching). */
export async function applyDiskMode(disk: LoopDisk, mode: DiskMode): Promise<() => void> {
  if (mode.kind === 'page-cache') return () => undefined;
  const why = diskBoundUnavailable();
  if (why) throw new Error(why);
  await run('losetup', ['--direct-io=on', disk.device]);
  const dev = basename(disk.device);
  const majMin = readFileSync(`/sys/block/${dev}/dev`, 'utf8').trim();
  const bps = Math.round(mode.mibPerSec * 2 ** 20);
  rules.add(majMin);
  for (const f of ['write_bps_device', 'read_bps_device']) writeFileSync(`${THROTTLE}/blkio.throttle.${f}`, `${majMin} ${bps}\n`);
  return () => clearRule(majMin);
}
