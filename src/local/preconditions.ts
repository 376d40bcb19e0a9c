// What a local build (`build --local`, `verify --local`) needs from the machine it runs on, checked
// before anything is created: each problem is one line that says how to fix it.
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { COMMANDS_OF, PACKAGE_OF } from '../vm/contract.js';
import { release } from 'node:os';
import { join } from 'node:path';
import { scriptPath } from './command.js';

/**
 * The commands a local build runs — the agent's own (on a VM its bootstrap would install the missing ones; here
 * Node is this process's) and the packing tools — with the Debian/Ubuntu package of each, from the contract
 * (src/vm/contract.ts), which is their one source.
 */
export const LOCAL_COMMANDS: Readonly<Record<string, string>> = localCommands();

function localCommands(): Record<string, string> {
  const table: Record<string, string> = {};
  for (const c of [...COMMANDS_OF.build, ...COMMANDS_OF.verify]) if (c !== 'node' && c !== 'curl') table[c] = PACKAGE_OF[c] ?? c;
  return { ...table, losetup: 'mount', tar: 'tar', gzip: 'gzip' };
}

export interface PreconditionOptions {
  /** The PATH searched for the commands; default: the one the startup script runs with. */
  path?: string;
  /** Default: this process's effective user. */
  uid?: number;
  /** Default: `process.platform`. */
  platform?: string;
  /** Where /dev, /proc and /lib/modules are found; default `/` (for tests). */
  fsRoot?: string;
}

/** Whether `cmd` is an executable file in one of the absolute directories of `path`. */
export function executableOn(cmd: string, path: string): boolean {
  return path
    .split(':')
    .filter((d) => d.startsWith('/'))
    .some((dir) => {
      try {
        accessSync(join(dir, cmd), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** overlayfs is registered, or is a module the kernel loads on the first overlay mount. */
function hasOverlayfs(root: string): boolean {
  try {
    if (/^nodev\toverlay$/m.test(readFileSync(join(root, 'proc/filesystems'), 'utf8'))) return true;
  } catch {
    // no /proc: fall through to the module files
  }
  const modules = join(root, 'lib/modules', release());
  try {
    if (/\/overlay\.ko$/m.test(readFileSync(join(modules, 'modules.builtin'), 'utf8'))) return true;
  } catch {
    // no modules.builtin
  }
  try {
    return readdirSync(join(modules, 'kernel/fs/overlayfs')).some((f) => /^overlay\.ko(\.[a-z]+)?$/.test(f));
  } catch {
    return false;
  }
}

/** The apt-get command line that installs these commands' packages on Debian/Ubuntu. */
export function aptInstallCommand(commands: readonly string[]): string {
  const packages = [...new Set(commands.map((c) => LOCAL_COMMANDS[c] ?? c))].sort();
  return `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/**
 * The problems that prevent a local build on this machine, one line each with its fix; empty when
 * there are none. Not Linux is the only problem reported then (nothing else applies).
 */
// eslint-disable-next-line @typescript-eslint/require-await -- a Promise by contract (callers await it); a throw here still surfaces as a rejection
export async function localPreconditions(opts: PreconditionOptions = {}): Promise<string[]> {
  const platform = opts.platform ?? process.platform;
  if (platform !== 'linux') {
    return [`a local build needs Linux (this is ${platform}): run it on a Linux machine, or build on a GCE VM (without --local)`];
  }
  const problems: string[] = [];
  const root = opts.fsRoot ?? '/';
  const uid = opts.uid ?? process.geteuid?.() ?? process.getuid?.();
  if (uid !== 0) {
    problems.push(
      'a local build needs root (it attaches a loop device, mounts it and runs its own containerd): run as root, e.g. sudo -E gke-disk-image-builder ...',
    );
  }
  if (!existsSync(join(root, 'dev/loop-control'))) {
    problems.push(
      'no loop device support (/dev/loop-control is missing): load the loop module (modprobe loop); in a container, run it privileged',
    );
  }
  if (!hasOverlayfs(root)) {
    problems.push(
      "the kernel has no overlayfs, which containerd's snapshotter needs: load it (modprobe overlay) or use a kernel with overlayfs",
    );
  }
  const path = opts.path ?? scriptPath();
  const missing = Object.keys(LOCAL_COMMANDS).filter((c) => !executableOn(c, path));
  if (missing.length > 0) {
    problems.push(`missing commands: ${missing.join(', ')}; on Debian/Ubuntu install them with: ${aptInstallCommand(missing)}`);
  }
  return problems;
}
