// The data disk of the rig: a sparse file on a loop device (`losetup -f`), plus mount helpers.
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { run } from './proc.js';

export class LoopDisk {
  private detached = false;

  private constructor(
    readonly file: string,
    readonly device: string,
  ) {}

  /** A new sparse file of `sizeMiB` attached to the first free loop device. */
  static async create(file: string, sizeMiB: number): Promise<LoopDisk> {
    const fd = openSync(file, 'w');
    ftruncateSync(fd, sizeMiB * 1024 * 1024);
    closeSync(fd);
    return LoopDisk.attach(file);
  }

  /** Attaches an existing disk file to the first free loop device. */
  static async attach(file: string): Promise<LoopDisk> {
    const { stdout } = await run('losetup', ['--find', '--show', file]);
    return new LoopDisk(file, stdout.trim());
  }

  /** A sparse copy of this disk (taken while nothing has it mounted), on its own loop device. */
  async copy(file: string): Promise<LoopDisk> {
    await run('sync', []);
    await run('cp', ['--sparse=always', this.file, file]);
    return LoopDisk.attach(file);
  }

  /**
   * Detaches the loop device, once, and only while it still serves this disk's file: a device number
   * freed earlier may already belong to another test.
   */
  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    let backing: string;
    try {
      backing = readFileSync(`/sys/block/${basename(this.device)}/loop/backing_file`, 'utf8').trim();
    } catch {
      return; // not attached any more
    }
    if (backing === resolve(this.file)) await run('losetup', ['--detach', this.device], { allowFailure: true });
  }

  /** Where the device is mounted, if anywhere. */
  mountPoints(): string[] {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[0] === this.device)
      .map((f) => (f[1] ?? '').replace(/\\040/g, ' '));
  }
}

export function isMountPoint(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

export async function mount(source: string, target: string, opts: { type?: string; options?: string } = {}): Promise<void> {
  const args = [...(opts.type ? ['-t', opts.type] : []), ...(opts.options ? ['-o', opts.options] : []), source, target];
  await run('mount', args);
}

export async function unmount(target: string): Promise<void> {
  await run('umount', [target], { allowFailure: true });
}

/** The mounts of this machine, from /proc/self/mounts (octal escapes such as `\040` undone). */
export function readMounts(): { source: string; target: string }[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' '))
    .map((f) => ({ source: unescapeMount(f[0] ?? ''), target: unescapeMount(f[1] ?? '') }));
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Unmounts everything mounted at or under `dir`, deepest first (lazily when busy); returns what is still mounted. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const under = () =>
    readMounts()
      .map((m) => m.target)
      .filter((t) => t === dir || t.startsWith(`${dir}/`));
  for (const t of under().sort((a, b) => b.length - a.length)) {
    const r = await run('umount', [t], { allowFailure: true });
    if (r.code !== 0) await run('umount', ['-l', t], { allowFailure: true });
  }
  return under();
}
