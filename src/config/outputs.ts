// Files the tool writes for the user (the archive of --output, the manifests of --k8s-manifests-filepath) are
// checked when the input is validated: a directory that is missing or not writable would otherwise be found only
// after the image was built and paid for. No directory is ever created for an output (the Go tool rejects a
// missing one too, and a recursive mkdir under /proc never returns).
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
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
  try {
    if (statSync(path).isDirectory()) return `${shownPath(path)} is a directory; give the path of a file`;
  } catch {
    // does not exist yet: it will be created
  }
  return undefined;
}
