// The checksum of a snapshot directory (docs/architecture.md, Disk layout; the rule is in src/vm/contract.ts): the
// files are found here, hashed by parallel `md5sum -z` workers (dealt largest first, each to the worker with the
// fewest bytes so far, so one large file does not leave the others idle), and the digests combined here.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checksumLine } from '../contract.js';
import type { System } from './system.js';

/** Every regular file under `dir` (symbolic links not followed), as `./<path>` with its size. */
export function regularFiles(dir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out.push({ path: p, size: lstatSync(join(dir, p)).size });
    }
  };
  walk('.');
  return out;
}

/** The files dealt to `jobs` workers, largest first, each to the one with the fewest bytes so far. */
export function deal(files: readonly { path: string; size: number }[], jobs: number): string[][] {
  const parts: string[][] = Array.from({ length: Math.max(1, jobs) }, () => []);
  const load = parts.map(() => 0);
  for (const f of [...files].sort((a, b) => b.size - a.size)) {
    let k = 0;
    for (let j = 1; j < load.length; j++) if ((load[j] ?? 0) < (load[k] ?? 0)) k = j;
    load[k] = (load[k] ?? 0) + f.size;
    parts[k]?.push(f.path);
  }
  return parts.filter((p) => p.length > 0);
}

/** The md5 of the sorted lines of `md5sum -z` outputs. */
export function combine(outputs: readonly string[]): string {
  const lines: string[] = [];
  for (const out of outputs) {
    for (const rec of out.split('\0')) {
      if (rec === '') continue;
      const m = /^([0-9a-f]{32}) {2}([\s\S]*)$/.exec(rec);
      if (!m) throw new Error('bad md5sum output');
      lines.push(checksumLine(m[1] ?? '', m[2] ?? ''));
    }
  }
  // Byte order (LC_ALL=C sort): the lines are ASCII.
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('md5').update(lines.join('')).digest('hex');
}

/** The checksum of `dir`; throws when a file cannot be read. */
export async function snapshotChecksum(sys: System, dir: string, jobs: number, signal?: AbortSignal): Promise<string> {
  const parts = deal(regularFiles(dir), Math.min(32, Math.max(1, jobs)));
  const outputs = await Promise.all(
    parts.map(async (part) => {
      const res = await sys.run('xargs', ['-0', '-r', 'md5sum', '-z', '--'], {
        cwd: dir,
        input: `${part.join('\0')}\0`,
        ...(signal ? { signal } : {}),
      });
      if (res.code !== 0) throw new Error(`md5sum failed in ${dir}: ${res.stderr.trim().split('\n').at(-1) ?? ''}`);
      return res.stdout;
    }),
  );
  return combine(outputs);
}
