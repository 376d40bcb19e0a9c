// Looking at what a script run left behind: the metadata files, overlay mounts of its snapshots,
// leftover processes, and secrets where they must not be.
import { lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';

export interface SnapshotLine {
  chainId: string;
  path: string;
  checksum?: string;
}

export function parseSnapshotsMetadata(text: string): SnapshotLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [chainId = '', path = '', checksum, ...rest] = line.split(' ');
      if (rest.length > 0) throw new Error(`snapshots.metadata: too many fields in ${JSON.stringify(line)}`);
      return { chainId, path, ...(checksum !== undefined ? { checksum } : {}) };
    });
}

/**
 * Mounts `lowerDirs` (top first) read-only at `target` the way containerd's overlay snapshotter does
 * for a view: an overlay of the lower dirs, or a read-only bind mount when there is only one.
 */
export async function mountOverlay(lowerDirs: readonly string[], target: string): Promise<void> {
  if (lowerDirs.length === 1) await run('mount', ['--bind', '-o', 'ro', lowerDirs[0] as string, target]);
  else await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowerDirs.join(':')}`, target]);
}

/** PIDs of processes whose command line mentions `text` (e.g. a run's work dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(text)) pids.push(Number(name));
    } catch {
      // gone already
    }
  }
  return pids;
}

/** Every file under `dir` (recursively) whose bytes contain one of `secrets`. */
export function filesContaining(dir: string, secrets: readonly string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        const data = readFileSync(p);
        if (secrets.some((s) => data.includes(s))) hits.push(p);
      }
    }
  };
  walk(dir);
  return hits;
}

/** What a run left on this machine under `dir`: mounts, loop devices, scratch dirs (`gdib-*`), processes. */
export async function leftUnder(dir: string): Promise<{ mounts: string[]; loops: string[]; scratch: string[]; processes: number[] }> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(` ${dir}/`));
  const loops = (await run('losetup', ['-a'])).stdout.split('\n').filter((l) => l.includes(dir));
  const scratch = readdirSync(dir).filter((n) => n.startsWith('gdib-'));
  return { mounts, loops, scratch, processes: processesMentioning(dir) };
}

/** Removes `dir` unless something is still mounted or attached under it (removing it then would hide the leak). */
export async function removeUnlessLeft(dir: string): Promise<void> {
  const left = await leftUnder(dir);
  if (left.mounts.length === 0 && left.loops.length === 0) rmSync(dir, { recursive: true, force: true });
}

export const NOTHING_LEFT = { mounts: [], loops: [], scratch: [], processes: [] };
