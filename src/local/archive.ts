// The disk as GCE imports it ("Importing a raw disk image", compute/docs/import/import-existing-image):
// a gzip-compressed GNU tar holding one file named `disk.raw`, the disk's bytes, whose size is a whole
// number of GB — made the way that page says, `tar --format=oldgnu -Sczf ARCHIVE disk.raw`.
//
// oldgnu with -S stores a sparse file as a map of its data regions plus only those regions' bytes,
// and GNU tar finds them with SEEK_DATA/SEEK_HOLE: a 60 GB disk holding 2 GB of images is read,
// compressed and uploaded as about those 2 GB, in the time that takes, not 60 GB's.
//
// The member is named with `--transform` rather than by linking or renaming the disk file to disk.raw:
// the same archive (tar applies the transform to the header name only), with no second name to create
// and remove, and it works whatever filesystem the disk file is on.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { lastLines, scriptPath } from './command.js';
import { GIB, loopDevicesOf } from './disk.js';
import { executableOn } from './preconditions.js';

export const ARCHIVE_MEMBER = 'disk.raw';

export interface PackOptions {
  /** Bytes of the archive written so far, about once a second and once at the end. */
  onProgress?(bytes: number): void;
  /** Aborting stops tar and removes the partial archive; the promise rejects with the reason. */
  signal?: AbortSignal;
  /**
   * What compresses: `pigz` (the same gzip stream, on every CPU) when it is installed, else `gzip`
   * (what tar -z runs). Both at gzip's default level, as the GCE instructions do.
   */
  compressor?: 'gzip' | 'pigz';
}

function onPath(cmd: string): boolean {
  return executableOn(cmd, scriptPath());
}

/** The compressor packDiskArchive uses by default here. */
export function defaultCompressor(): 'gzip' | 'pigz' {
  return onPath('pigz') ? 'pigz' : 'gzip';
}

/** Runs tar in a process group of its own (tar -z runs gzip as its child) and ends both on abort. */
function runTar(args: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const child = spawn('tar', args, {
      env: { PATH: scriptPath(), LC_ALL: 'C' },
      cwd: '/',
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const onAbort = () => kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run tar: ${e.message}`));
    });
    child.once('exit', () => kill('SIGKILL')); // gzip, were it left behind
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(signal.reason);
      if (code === 0) return resolvePromise();
      const detail = lastLines(stderr);
      reject(new Error(`tar failed (${sig ?? `exit status ${code}`})${detail ? `: ${detail}` : ''}`));
    });
  });
}

/**
 * Packs `diskFile` (a whole number of GiB, attached to no loop device) into `output`, a GCE image
 * archive. The archive is written next to `output` under a temporary name and renamed into place when
 * complete (an existing `output` is replaced); on failure or abort nothing is left behind.
 */
export async function packDiskArchive(diskFile: string, output: string, opts: PackOptions = {}): Promise<{ path: string; bytes: number }> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const disk = resolve(diskFile);
  const st = await stat(disk);
  if (!st.isFile()) throw new Error(`${diskFile} is not a regular file`);
  if (st.size === 0 || st.size % GIB !== 0) {
    throw new Error(`${diskFile} is ${st.size} bytes; GCE imports a disk of a whole number of GB (GiB) only`);
  }
  const attached = loopDevicesOf(disk);
  if (attached.length > 0) {
    throw new Error(`${diskFile} is still attached to ${attached.join(', ')}: unmount and detach it before packing`);
  }
  const out = resolve(output);
  if (out === disk) throw new Error('the archive cannot replace the disk file it is made from');
  const existing = await stat(out).catch(() => undefined);
  if (existing?.isDirectory()) throw new Error(`${output} is a directory; name the archive file to write`);
  await access(dirname(out), constants.W_OK).catch(() => {
    throw new Error(`cannot write the archive: ${dirname(out)} does not exist or is not writable`);
  });

  const partial = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
  let lastReported = -1;
  let finished = false;
  const report = async () => {
    const size = (await stat(partial).catch(() => undefined))?.size;
    if (!finished && size !== undefined && size > lastReported) {
      lastReported = size;
      opts.onProgress?.(size);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // The archive holds the images' files, possibly private: it is created 0600 (O_EXCL, never through a link)
    // before tar fills it, so it never exists with looser permissions; tar keeps the mode of a file it truncates.
    await (await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)).close();
    timer = opts.onProgress ? setInterval(() => void report(), 1000) : undefined;
    await runTar(
      [
        '--create',
        '--format=oldgnu',
        '--sparse',
        (opts.compressor ?? defaultCompressor()) === 'pigz' ? '--use-compress-program=pigz' : '--gzip',
        `--file=${partial}`,
        '--numeric-owner',
        '--owner=0',
        '--group=0',
        '--mode=0644',
        `--transform=s,.*,${ARCHIVE_MEMBER},`,
        `--directory=${dirname(disk)}`,
        '--',
        basename(disk),
      ],
      signal,
    );
    finished = true;
    if (timer) clearInterval(timer);
    const bytes = (await stat(partial)).size;
    await rename(partial, out);
    if (lastReported !== bytes) opts.onProgress?.(bytes);
    return { path: out, bytes };
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    throw err;
  } finally {
    finished = true;
    if (timer) clearInterval(timer);
  }
}

/**
 * Extracts the `disk.raw` of a GCE image archive into `destDir` (created if needed; it must not hold a
 * disk.raw already), sparse as it was packed. Returns the path of the extracted file.
 */
export async function unpackDiskArchive(archive: string, destDir: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const src = resolve(archive);
  if (!(await stat(src)).isFile()) throw new Error(`${archive} is not a file`);
  const dest = resolve(destDir);
  await mkdir(dest, { recursive: true });
  const target = join(dest, ARCHIVE_MEMBER);
  if (await lstat(target).catch(() => undefined)) throw new Error(`${target} exists already`);
  try {
    await runTar(
      ['--extract', '--gzip', `--file=${src}`, `--directory=${dest}`, '--no-same-owner', '--no-same-permissions', '--', ARCHIVE_MEMBER],
      signal,
    ).catch((err: unknown) => {
      if (err instanceof Error && /Not found in archive/.test(err.message)) {
        throw new Error(`${archive} holds no ${ARCHIVE_MEMBER}: a GCE image archive holds one file named ${ARCHIVE_MEMBER}`);
      }
      throw err;
    });
    const st = await lstat(target);
    if (!st.isFile()) throw new Error(`${ARCHIVE_MEMBER} in ${archive} is not a regular file`);
    return target;
  } catch (err) {
    await rm(target, { recursive: true, force: true });
    throw err;
  }
}
