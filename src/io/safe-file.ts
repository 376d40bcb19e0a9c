// Files named on the command line, read and written without trusting what sits at the path
// (docs/architecture.md, Hostile input). An input is opened once, without blocking (a FIFO would otherwise hang
// the open) and, when the tool runs as root, without following a symbolic link at the path; what was opened is
// then judged by fstat — a regular file of a bounded size — so no later swap of the path can change the answer.
// An output is written to a new file in the same directory (O_EXCL: never through a link) and renamed over the
// target, so a link planted at the target is replaced, never followed.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const runsAsRoot = (): boolean => process.geteuid?.() === 0;

/** What a path holds, in words, for an error line. */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function openProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'ELOOP':
      return 'is a symbolic link, which the tool does not follow when it runs as root: give the file itself';
    case 'ENXIO':
      return 'is not a regular file (a socket or a device without a reader)';
    case 'ENOTDIR':
      return 'does not exist (a part of its path is not a directory)';
    default:
      return `cannot be opened (${code ?? 'error'})`;
  }
}

export interface OpenedFile {
  fd: number;
  size: number;
}

/**
 * Opens `path` for reading if it is a regular file of at most `maxBytes` (when given); else returns what is wrong,
 * as the end of a sentence whose subject is the file ("does not exist", "is a FIFO (named pipe), not a file").
 */
export function openRegularFile(path: string, maxBytes?: number): OpenedFile | string {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (runsAsRoot() ? constants.O_NOFOLLOW : 0);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (err) {
    return openProblem(err);
  }
  const st = fstatSync(fd);
  let problem: string | undefined;
  if (!st.isFile()) problem = `is ${fileKind(st)}, not a file`;
  else if (maxBytes !== undefined && st.size > maxBytes) problem = `is too large (${st.size} bytes; at most ${maxBytes})`;
  if (problem) {
    closeSync(fd);
    return problem;
  }
  return { fd, size: st.size };
}

/**
 * The text of a small regular file (a key file, a config file), read whole; or what is wrong with it. Reads at
 * most `maxBytes` + 1 bytes whatever the file claims its size is (files under /proc claim 0, and a file may grow).
 */
export function readSmallFile(path: string, maxBytes: number): { text: string } | { problem: string } {
  const opened = openRegularFile(path, maxBytes);
  if (typeof opened === 'string') return { problem: opened };
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(opened.fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) return { problem: `is too large (more than ${maxBytes} bytes)` };
    }
    return { text: buf.subarray(0, length).toString('utf8') };
  } catch (err) {
    return { problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * What is wrong with creating or replacing a file at `path` (absolute), or undefined: its directory must exist and
 * be writable, and whatever is at the path already must be a regular file (it is replaced, never written through).
 */
export function outputTargetProblem(path: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return undefined; // a new file: what its directory allows is judged by the caller
  }
  if (st.isSymbolicLink()) return 'is a symbolic link; the tool does not write through one: remove it or give another path';
  if (st.isDirectory()) return 'is a directory; give the path of a file';
  if (!st.isFile()) return `is ${fileKind(st)}; give the path of a regular file (it is replaced)`;
  return undefined;
}

/** The name of a new file beside `path`, for writing it whole before it takes the path's place. */
export function partialPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
}

/**
 * Creates `path` anew with `mode` (O_EXCL, so never through a link or over a file) and closes it: for a writer
 * (tar) that then fills it, so the file never exists with looser permissions.
 */
export async function createPrivateFile(path: string, mode = 0o600): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  await handle.close();
}

/**
 * Writes `data` to `path` whole: into a new file beside it (created with `mode`), flushed, then renamed over the
 * path. A reader sees the old file or the new one; a link at the path is replaced by the file, never followed.
 */
export async function writeFileReplacing(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; signal?: AbortSignal } = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  const partial = partialPathFor(path);
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, opts.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data, { signal: opts.signal });
      await handle.sync();
    } finally {
      await handle.close();
    }
    opts.signal?.throwIfAborted();
    await rename(partial, path);
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    throw err;
  }
}
