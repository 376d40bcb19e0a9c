// The data disk (docs/architecture.md, Disk layout): found, formatted (ext4, whole disk) or mounted from a base
// image, grown, flushed and unmounted.
import { mkdirSync, realpathSync, statfsSync } from 'node:fs';
import type { System } from './system.js';
import { checkAborted, lastLine, pause, type Ctx } from './context.js';
import { Fail, humanBytes } from './errors.js';

export const BASE_MOUNT_OPTIONS = 'discard,defaults,noinit_itable';

/** Whether `dir` is a mount point. */
export function isMountPoint(sys: System, dir: string): boolean {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return false;
  }
  return sys.mounts().some((m) => m.target === real);
}

export class DataDisk {
  /** The device path (a by-id link on GCE) and the block device it resolves to. */
  dev = '';
  realDev = '';
  mounted = false;
  private flush: Promise<unknown> | undefined;

  constructor(private readonly ctx: Ctx) {}

  get mnt(): string {
    return this.ctx.env.mountDir;
  }

  /** Finds the data disk and makes sure neither it nor the mount point is in use. */
  async claim(deviceName: string): Promise<void> {
    await this.claimDevice(deviceName);
    if (this.ctx.sys.mounts().some((m) => m.source === this.realDev)) throw new Fail(`data disk ${this.dev} is already mounted`);
    if (isMountPoint(this.ctx.sys, this.mnt)) throw new Fail(`${this.mnt} is already a mount point`);
  }

  /** Waits (up to a minute) for the data disk's device to appear. */
  async claimDevice(deviceName: string): Promise<void> {
    this.dev = this.ctx.env.device ?? `/dev/disk/by-id/google-${deviceName}`;
    for (let waited = 0; !this.ctx.sys.isBlockDevice(this.dev); waited++) {
      if (waited >= 60) throw new Fail(`data disk ${this.dev} not found (is a disk attached with device name ${deviceName}?)`);
      await pause(this.ctx, 1000);
      checkAborted(this.ctx);
    }
    this.realDev = realpathOr(this.dev);
  }

  private async sizeOf(dev: string): Promise<number> {
    const res = await this.ctx.sys.run('blockdev', ['--getsize64', dev]);
    return Number(res.stdout.trim()) || 0;
  }

  async mount(options: string, fstype?: string, readOnly = false): Promise<string | undefined> {
    mkdirSync(this.mnt, { recursive: true });
    const args = [...(fstype ? ['-t', fstype] : []), '-o', readOnly ? 'ro,noload' : options, '--', this.dev, this.mnt];
    const res = await this.ctx.sys.run('mount', args);
    if (res.code !== 0) return lastLine(res.stderr) || `mount exited ${res.code}`;
    this.mounted = true;
    return undefined;
  }

  /**
   * Formats the whole disk as ext4 and mounts it (docs/architecture.md, Disk layout: what mkfs writes); `inodes`, a
   * data disk's count (docs/architecture.md, Data disks), instead of ext4's one per 16 KiB: mkfs -N, with 4 KiB
   * blocks said outright, as with them mkfs rounds the count per group up (with 1 KiB blocks, on a disk under
   * 512 MB, it rounds it down).
   */
  async formatAndMount(label?: string, inodes?: number): Promise<void> {
    const { lazyItable = true, lazyJournal = true } = this.ctx.opts;
    this.ctx.report.log(
      `formatting ${this.dev} (${humanBytes(await this.sizeOf(this.realDev))}) as ext4${inodes ? ` with ${inodes} inodes` : ''}`,
    );
    const ext = `lazy_itable_init=${lazyItable ? 1 : 0},lazy_journal_init=${lazyJournal ? 1 : 0},discard`;
    const res = await this.ctx.sys.run('mkfs.ext4', [
      '-q',
      '-F',
      '-m',
      '0',
      ...(inodes ? ['-b', '4096', '-N', String(inodes)] : []),
      '-E',
      ext,
      ...(label ? ['-L', label] : []),
      '--',
      this.dev,
    ]);
    if (res.code !== 0) throw new Fail(`formatting ${this.dev} failed: ${lastLine(res.stderr + res.stdout)}`);
    const why = await this.mount(lazyItable ? 'discard,defaults,noinit_itable' : 'discard,defaults');
    if (why !== undefined) throw new Fail(`mounting ${this.dev} on ${this.mnt} failed: ${why}`);
  }

  /** Grows the filesystem to the whole device: online, else unmounted where the kernel refuses (the rig). */
  async grow(): Promise<void> {
    const { sys, report } = this.ctx;
    const devBytes = await this.sizeOf(this.realDev);
    const head = (await sys.run('dumpe2fs', ['-h', this.dev])).stdout;
    const count = Number(/^Block count:\s*(\d+)/m.exec(head)?.[1] ?? NaN);
    const size = Number(/^Block size:\s*(\d+)/m.exec(head)?.[1] ?? NaN);
    if (!Number.isFinite(count) || !Number.isFinite(size)) throw new Fail(`cannot read the size of the filesystem on ${this.dev}`);
    if (devBytes - count * size < size) return;
    this.ctx.step.set('growing the filesystem');
    const started = Date.now();
    report.log(`growing the filesystem from ${humanBytes(count * size)} to ${humanBytes(devBytes)}`);
    const online = await sys.run('resize2fs', [this.dev]);
    if (online.code === 0) {
      report.log(`filesystem grown online in ${Math.round((Date.now() - started) / 1000)} s`);
      return;
    }
    if (!/Permission denied/.test(online.stderr + online.stdout)) {
      throw new Fail(`growing the filesystem on ${this.dev} failed: ${lastLine(online.stderr + online.stdout)}`);
    }
    report.log('online resizing is not permitted here: growing the filesystem unmounted');
    if ((await sys.run('umount', ['--', this.mnt])).code !== 0) throw new Fail(`cannot unmount ${this.mnt} to grow its filesystem`);
    this.mounted = false;
    const fsck = await sys.run('e2fsck', ['-f', '-p', this.dev]);
    if (fsck.code >= 4) throw new Fail(`the filesystem of the base image has errors: ${lastLine(fsck.stdout + fsck.stderr)}`);
    const res = await sys.run('resize2fs', [this.dev]);
    if (res.code !== 0) throw new Fail(`growing the filesystem on ${this.dev} failed: ${lastLine(res.stderr + res.stdout)}`);
    const why = await this.mount(BASE_MOUNT_OPTIONS, 'ext4');
    if (why !== undefined) throw new Fail(`mounting ${this.dev} on ${this.mnt} failed: ${why}`);
    report.log(`filesystem grown unmounted in ${Math.round((Date.now() - started) / 1000)} s`);
  }

  /**
   * Starts writing the disk's dirty pages now, in the background, unless such a flush still runs: the kernel would
   * otherwise hold the unpacked files in memory until the final sync and the disk sit idle while the next images pull.
   */
  startFlush(): void {
    if (!this.mounted || this.flush !== undefined) return;
    this.flush = this.ctx.sys.run('sync', ['-f', this.mnt]).finally(() => (this.flush = undefined));
  }

  async unmount(): Promise<boolean> {
    if (!this.mounted) return true;
    await this.flush;
    await this.ctx.sys.run('sync', []);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const res = await this.ctx.sys.run('umount', ['--', this.mnt]);
      if (res.code === 0) {
        this.mounted = false;
        await this.ctx.sys.run('sync', []);
        return true;
      }
      this.lastUnmountError = lastLine(res.stderr) || `umount exited ${res.code}`;
      await new Promise((r) => setTimeout(r, attempt * 1000));
    }
    return false;
  }

  lastUnmountError = '';

  /** Inodes free on the mounted filesystem (-1: unknown). */
  freeInodes(): number {
    try {
      return statfsSync(this.mnt).ffree;
    } catch {
      return -1;
    }
  }

  /** Bytes used, in all and free on the mounted filesystem. */
  usage(): { used: number; size: number; avail: number } {
    return fsUsage(this.mnt);
  }
}

export function fsUsage(path: string): { used: number; size: number; avail: number } {
  try {
    const s = statfsSync(path);
    return { used: (s.blocks - s.bfree) * s.bsize, size: s.blocks * s.bsize, avail: s.bavail * s.bsize };
  } catch {
    return { used: 0, size: 0, avail: 0 };
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
