// Files the tool writes for the user (the archive of --output, the manifests of --k8s-manifests-filepath) are
// checked when the input is validated: a directory that is missing or not writable, or a FIFO, device or link at
// the path, would otherwise be found only after the image was built and paid for. No directory is ever created for
// an output (the Go tool rejects a missing one too, and a recursive mkdir under /proc never returns). The file
// itself is written beside its path and renamed over it (src/io/safe-file.ts).
import { accessSync, closeSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { openRegularFile, outputTargetProblem } from '../io/safe-file.js';
import { shownPath } from './rules.js';

/** What is wrong with writing a file at `path` (absolute), or undefined when it can be written. */
export function outputPathProblem(path: string): string | undefined {
  const dir = dirname(path);
  const shown = shownPath(dir);
  try {
    if (!statSync(dir).isDirectory()) return `${shown} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `directory ${shown} does not exist; create it first`;
    if (code === 'ENOTDIR') return `${shown} is not a directory (a part of it is a file)`;
    return `cannot read directory ${shown} (${code ?? 'error'})`;
  }
  try {
    // Creating a file needs write and search permission on its directory; a read-only mount fails this for root too.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `directory ${shown} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const target = outputTargetProblem(path);
  return target ? `${shownPath(path)} ${target}` : undefined;
}

/** What is wrong with reading the disk file or archive of verify --local, or undefined: a regular file, any size. */
export function inputFileProblem(path: string): string | undefined {
  const opened = openRegularFile(path);
  if (typeof opened === 'string')
    return `the disk file ${shownPath(path)} ${opened}${/not a file$/.test(opened) ? ': give a disk image archive (.tar.gz) or a raw disk file' : ''}`;
  closeSync(opened.fd);
  return undefined;
}
