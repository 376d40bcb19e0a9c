// Records what `--version` prints beside the version (src/version.ts) in dist/build-info.json: the commit this
// build is made from and the disk format the VM side writes. Outside a git checkout (a source tarball)
// GDIB_BUILD_COMMIT is taken when set (the release workflow sets it to the tag's commit), else `unknown`. A work
// tree with changes to tracked files gets `+dirty`.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { DISK_FORMAT_VERSION } from '../dist/builder/image-record.js';

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

let commit = git(['rev-parse', 'HEAD']);
if (commit) {
  if (git(['status', '--porcelain', '--untracked-files=no'])) commit += '+dirty';
} else {
  commit = process.env.GDIB_BUILD_COMMIT || 'unknown';
}
writeFileSync('dist/build-info.json', `${JSON.stringify({ commit, diskFormat: DISK_FORMAT_VERSION })}\n`);
