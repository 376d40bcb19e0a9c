// The data disk of a local build: a sparse file of a whole number of GiB (what GCE imports) attached
// to a free loop device, so the startup script formats and fills it exactly as it would a GCE disk.
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { shellCommand } from '../io/shell-quote.js';
import { readMountTable } from '../vm/mountinfo.js';
import { runCommand } from './command.js';

export const GIB = 1024 ** 3;

export interface LoopDisk {
  /** The disk file (absolute). */
  file: string;
  /** The loop device serving it, e.g. `/dev/loop3`. */
  device: string;
  /**
   * Detaches the loop device. Idempotent, and only while the device still serves this file: a device
   * freed earlier may already serve someone else's. A device that is still open (mounted, say) is
   * detached by the kernel as soon as it is closed.
   */
  detach(): Promise<void>;
}

/** The file a loop device serves (`/sys/block/loopN/loop/backing_file`), if it is attached. */
export function loopBackingFile(device: string): string | undefined {
  try {
    return readFileSync(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

function canonical(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

/** The loop devices that serve `file` now (e.g. `['/dev/loop3']`). */
export function loopDevicesOf(file: string): string[] {
  const target = canonical(file);
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return [];
  }
  return names.filter((n) => loopBackingFile(n) === target).map((n) => `/dev/${n}`);
}

/** Whether `device` serves `file` (also when the file was deleted while attached). */
export function servesFile(device: string, file: string): boolean {
  const backing = loopBackingFile(device);
  return backing === file || backing === `${file} (deleted)`;
}

function loopDisk(file: string, device: string): LoopDisk {
  let detached: Promise<void> | undefined;
  return {
    file,
    device,
    detach() {
      detached ??= (async () => {
        if (!servesFile(device, file)) return; // detached already, maybe re-used since
        const res = await runCommand('losetup', ['--detach', device], { allowFailure: true });
        // It may have gone in the meantime (autoclear); anything else is a real failure.
        if (res.code !== 0 && servesFile(device, file)) {
          detached = undefined; // let a later call try again
          throw new Error(`cannot detach ${device} (${file}): ${res.stderr.trim()}`);
        }
      })();
      return detached;
    },
  };
}

/** Attaches an existing disk file (or image) to the first free loop device. */
export async function attachLoop(file: string, opts: { readOnly?: boolean } = {}): Promise<LoopDisk> {
  const abs = canonical(file);
  const st = await stat(abs);
  if (!st.isFile()) throw new Error(`${file} is not a regular file`);
  const { stdout } = await runCommand('losetup', ['--find', '--show', ...(opts.readOnly ? ['--read-only'] : []), '--', abs]);
  const device = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup did not name the loop device it attached ${abs} to: ${device}`);
  return loopDisk(abs, device);
}

/**
 * A new sparse file of exactly `sizeGb` GiB at `path` (which must not exist), attached to a free loop
 * device. The file is the caller's; it is removed again only when attaching it fails.
 */
export async function createLoopDisk(path: string, sizeGb: number): Promise<LoopDisk> {
  if (!Number.isSafeInteger(sizeGb) || sizeGb < 1) {
    throw new Error(`the disk size must be a whole number of GB (GiB), at least 1 (GCE images are), got ${sizeGb}`);
  }
  const file = resolve(path);
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.truncate(sizeGb * GIB);
  } catch (err) {
    await handle.close();
    await unlink(file).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    return await attachLoop(file);
  } catch (err) {
    await unlink(file).catch(() => undefined);
    throw err;
  }
}

/** Mount points at or under `dir`. */
export function mountsUnderDir(dir: string): string[] {
  const root = canonical(dir);
  return readMountTable()
    .map((m) => m.target)
    .filter((t) => t === root || t.startsWith(`${root}/`));
}

/** Where `device` is mounted. */
export function mountsOfDevice(device: string): string[] {
  return readMountTable()
    .filter((m) => m.source === device)
    .map((m) => m.target);
}

/**
 * Unmounts `targets`, deepest first (a plain umount, then a lazy one when it is busy: the path is free at once and
 * the filesystem goes once its last user does). Answers what is still mounted.
 */
export async function unmountAll(targets: readonly string[]): Promise<string[]> {
  for (const target of [...targets].sort().reverse()) {
    const res = await runCommand('umount', ['--', target], { allowFailure: true });
    if (res.code !== 0) await runCommand('umount', ['--lazy', '--', target], { allowFailure: true });
  }
  const still = new Set(readMountTable().map((m) => m.target));
  return targets.filter((t) => still.has(t));
}

/**
 * The commands a user runs by hand to undo what cleanup could not: unmount `mounts`, then detach `device` or remove
 * `dir` — each path shell-quoted, joined with `&&` so that nothing is removed while still mounted.
 */
export function undoCommands(what: { mounts?: readonly string[]; device?: string; dir?: string }): string {
  return [
    ...(what.mounts ?? []).map((m) => shellCommand('umount', m)),
    ...(what.device !== undefined ? [shellCommand('losetup', '-d', what.device)] : []),
    ...(what.dir !== undefined ? [shellCommand('rm', '-rf', '--', what.dir)] : []),
  ].join(' && ');
}
