// Verify of a data disk (docs/vm-script.md, Data disks): every file gdib-data.json lists must be on the disk, a
// regular file of its size whose md5, crc32c, sha256 or git blob sha1 (recomputed) is the one listed; anything else on the disk
// (a file, link or device the manifest does not list) fails too. `verify` on a VM and `verify --local` both come here
// once the disk is mounted read-only.
import { createReadStream, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { DATA_FORMAT_VERSION, DATA_MANIFEST, statusValue, TOOL, type DataFile, type DataManifest } from '../contract.js';
import { checkAborted, type Ctx } from './context.js';
import { checkerFor } from './data-download.js';
import { diskPathProblem, fileLabel } from './data-plan.js';
import { Fail, humanBytes } from './errors.js';

function isChecksum(c: unknown): c is DataFile['checksum'] {
  if (typeof c !== 'object' || c === null) return false;
  const o = c as Record<string, unknown>;
  return ['md5', 'crc32c', 'sha256', 'gitSha1'].some((k) => typeof o[k] === 'string') || o.size === true;
}

/** The manifest at the disk's root, its shape checked. */
export function readManifest(text: string): DataManifest {
  let m: Partial<DataManifest>;
  try {
    m = JSON.parse(text) as Partial<DataManifest>;
  } catch {
    throw new Fail(`${DATA_MANIFEST} is not JSON`);
  }
  if (m.tool !== TOOL) throw new Fail(`${DATA_MANIFEST} was not written by ${TOOL}`);
  if (typeof m.formatVersion !== 'number' || m.formatVersion > DATA_FORMAT_VERSION)
    throw new Fail(
      `${DATA_MANIFEST} has format version ${String(m.formatVersion)}; this release reads up to ${DATA_FORMAT_VERSION}: use a newer one`,
    );
  if (!Array.isArray(m.files) || !Array.isArray(m.sources)) throw new Fail(`${DATA_MANIFEST} lists no files`);
  for (const f of m.files as unknown[]) {
    const file = f as Partial<DataFile>;
    if (
      typeof file.path !== 'string' ||
      diskPathProblem(file.path) !== undefined ||
      !Number.isSafeInteger(file.size) ||
      !isChecksum(file.checksum)
    )
      throw new Fail(`${DATA_MANIFEST} has a malformed file entry: ${statusValue(JSON.stringify(f).slice(0, 200))}`);
  }
  return m as DataManifest;
}

/** Every path under `root` that is not a directory, relative; the manifest and an empty lost+found left out. */
function onDisk(root: string): Map<string, 'file' | 'other'> {
  const out = new Map<string, 'file' | 'other'>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && e.name === DATA_MANIFEST) continue;
      if (e.isDirectory()) {
        if (!rel && e.name === 'lost+found' && readdirSync(join(root, path)).length === 0) continue;
        walk(path);
      } else out.set(path, e.isFile() ? 'file' : 'other');
    }
  };
  walk('');
  return out;
}

async function contentProblem(path: string, file: DataFile, signal: AbortSignal): Promise<string | undefined> {
  const st = lstatSync(path);
  if (!st.isFile()) return 'not a regular file';
  if (st.size !== file.size) return `${st.size} bytes, the manifest says ${file.size}`;
  if ('size' in file.checksum) return undefined;
  const checker = checkerFor(file.checksum, file.size);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) checker.update(chunk as Buffer);
  const bad = checker.mismatch();
  return bad === undefined ? undefined : `does not match ${bad}`;
}

function listed(items: readonly string[]): string {
  return `${items.slice(0, 5).join(', ')}${items.length > 5 ? ', ...' : ''}`;
}

/** Checks the mounted data disk at `root` against its manifest; throws a Fail naming what does not match. */
export async function verifyDataDisk(ctx: Ctx, root: string): Promise<void> {
  const { report, step } = ctx;
  const manifest = readManifest(readFileSync(join(root, DATA_MANIFEST), 'utf8'));
  const files = manifest.files;
  const total = files.reduce((n, f) => n + f.size, 0);
  report.log(`data disk of run ${statusValue(String(manifest.runId))}: ${files.length} file(s), ${humanBytes(total)}`);
  step.set('listing the files on the disk');
  const present = onDisk(root);
  const listedPaths = new Set(files.map((f) => f.path));
  const extra = [...present.keys()].filter((p) => !listedPaths.has(p)).sort();
  const missing: string[] = [];
  const bad: string[] = [];
  let done = 0;
  let bytes = 0;
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      checkAborted(ctx);
      if (!present.has(f.path)) {
        missing.push(f.path);
        report.log(`MISSING ${f.path} (from ${fileLabel(f, manifest.sources)})`);
        continue;
      }
      step.set(`verifying ${f.path}`);
      let problem: string | undefined;
      try {
        problem = await contentProblem(join(root, f.path), f, ctx.signal);
      } catch (err) {
        checkAborted(ctx);
        problem = `cannot be read: ${(err as Error).message}`;
      }
      if (problem !== undefined) {
        bad.push(`${f.path} (${problem})`);
        report.log(`MISMATCH ${f.path} (from ${fileLabel(f, manifest.sources)}): ${problem}`);
      }
      done++;
      bytes += f.size;
    }
  };
  const timer = setInterval(
    () => void report.status('progress', `${done}/${files.length} files, ${humanBytes(bytes)} of ${humanBytes(total)}`),
    15_000,
  );
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(cpus().length, 8)) }, worker));
  } finally {
    clearInterval(timer);
  }
  checkAborted(ctx);
  await report.status('progress', `${done}/${files.length} files, ${humanBytes(bytes)} of ${humanBytes(total)}`);
  for (const p of extra) report.log(`NOT IN THE MANIFEST ${p}`);
  const problems: string[] = [];
  bad.sort();
  missing.sort();
  if (bad.length > 0) problems.push(`${bad.length} of ${files.length} files do not match the manifest: ${listed(bad)}`);
  if (missing.length > 0) problems.push(`${missing.length} of ${files.length} files are missing: ${listed(missing)}`);
  if (extra.length > 0) problems.push(`${extra.length} file(s) on the disk are not in the manifest: ${listed(extra)}`);
  if (problems.length > 0) throw new Fail(`verification failed: ${problems.join('; ')}`);
  report.log(`all ${files.length} files match the manifest`);
}
