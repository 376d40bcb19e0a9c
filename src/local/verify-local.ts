// `verify --local FILE`: the disk to verify is a GCE image archive (FILE.tar.gz, as `build --local`
// writes it) or a raw disk file. Either way it ends up on a read-only loop device for the verify
// script, which mounts it `ro,noload`: not one byte of the file is written.
import { open, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unpackDiskArchive } from './archive.js';
import { attachLoop, type LoopDisk } from './disk.js';

/** Whether `path` is gzip-compressed (a GCE image archive) rather than a raw disk: by its magic bytes. */
export async function isArchive(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Whether `path` is an uncompressed tar (the `ustar` magic of its first header). */
async function isPlainTar(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(5);
    const { bytesRead } = await handle.read(magic, 0, 5, 257);
    return bytesRead === 5 && magic.toString('latin1') === 'ustar';
  } finally {
    await handle.close();
  }
}

export interface VerifyDisk {
  /** The read-only loop device: GDIB_DEVICE for the verify script. */
  device: string;
  /** The raw disk file it serves (extracted under the scratch dir when the input was an archive). */
  file: string;
  /** Detaches the device and removes what was extracted. Idempotent. */
  release(): Promise<void>;
}

/**
 * Puts the disk of `input` (archive or raw disk file) on a read-only loop device. An archive is
 * extracted, sparse, into a new directory under `scratchDir`, which needs room for the disk's data
 * (not its full size).
 */
export async function openDiskForVerify(input: string, scratchDir: string, opts: { signal?: AbortSignal } = {}): Promise<VerifyDisk> {
  if (!(await stat(input)).isFile()) throw new Error(`${input} is not a file: give a disk image archive (.tar.gz) or a raw disk file`);
  if (!(await isArchive(input))) {
    if (await isPlainTar(input)) {
      throw new Error(`${input} is an uncompressed tar: a GCE image archive is gzip-compressed (.tar.gz); give that, or the raw disk`);
    }
    const loop = await attachLoop(input, { readOnly: true });
    return { device: loop.device, file: loop.file, release: () => loop.detach() };
  }
  const dir = await mkdtemp(join(scratchDir, 'gdib-verify-'));
  let loop: LoopDisk | undefined;
  try {
    const file = await unpackDiskArchive(input, dir, opts);
    opts.signal?.throwIfAborted();
    loop = await attachLoop(file, { readOnly: true });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const attached = loop;
  let released: Promise<void> | undefined;
  return {
    device: attached.device,
    file: attached.file,
    release() {
      released ??= attached.detach().then(
        () => rm(dir, { recursive: true, force: true }),
        (err: unknown) => {
          released = undefined; // a later call tries again
          throw err;
        },
      );
      return released;
    },
  };
}
