// Every file of a data disk, downloaded and checked (docs/vm-script.md, Data disks): a pool of requests (default 8)
// over byte ranges — a file under the ranged threshold is one range, a larger one is cut into parts fetched side by
// side, each written at its offset — and each file hashed as its written prefix grows (read back from the page cache,
// so what is checked is what is on the disk), then checked against what its source publishes: md5 or crc32c (Cloud
// Storage), sha256 (Hugging Face's LFS files) or git's blob sha1 (its other files), else its size. A checked file is
// made read-only (0444).
import { createHash, type Hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DataChecksum, DataFile } from '../contract.js';
import { Crc32c } from './crc32c.js';
import { DownloadError, fetchRange, StallError, type Remote, type Transfer } from './download.js';
import { Fail } from './errors.js';

export const DEFAULT_DATA_JOBS = 8;
export const DEFAULT_RANGED_MIN = 64 * 1024 * 1024;
export const DEFAULT_PART_SIZE = 32 * 1024 * 1024;

export interface FileJob {
  file: DataFile;
  remote: Remote;
  /** How the file is named in messages: `gs://b/o`, `hf://org/m@rev/path`. */
  label: string;
}

export interface DownloadOptions {
  root: string;
  /** Requests at once. */
  jobs: number;
  /** Files of at least this many bytes are fetched in parts. */
  rangedMin: number;
  partSize: number;
  /** Called when a file is written and checked. */
  onFile?: (job: FileJob) => void;
}

/** The byte ranges (inclusive) a file of `size` bytes is fetched in. */
export function splitRanges(size: number, rangedMin: number, partSize: number): [number, number][] {
  if (size === 0) return [];
  if (size < rangedMin || partSize <= 0) return [[0, size - 1]];
  const out: [number, number][] = [];
  for (let from = 0; from < size; from += partSize) out.push([from, Math.min(size, from + partSize) - 1]);
  return out;
}

interface Checker {
  update(data: Uint8Array): void;
  /** undefined when it matches, else `its md5 (expected X, got Y)`. */
  mismatch(): string | undefined;
}

/** The running check of one file's content (of `size` bytes) against its listed checksum. */
export function checkerFor(checksum: DataChecksum, size: number): Checker {
  if ('md5' in checksum || 'sha256' in checksum || 'gitSha1' in checksum) {
    const [algo, expected, enc] =
      'md5' in checksum
        ? ['md5', checksum.md5, 'base64' as const]
        : 'sha256' in checksum
          ? ['sha256', checksum.sha256.toLowerCase(), 'hex' as const]
          : ['git blob sha1', checksum.gitSha1.toLowerCase(), 'hex' as const];
    const h: Hash = createHash(algo === 'git blob sha1' ? 'sha1' : algo);
    // git hashes a header before the content.
    if ('gitSha1' in checksum) h.update(`blob ${size}\0`);
    return {
      update: (d) => h.update(d),
      mismatch: () => {
        const got = h.digest(enc);
        return got === expected ? undefined : `its ${algo} (expected ${expected}, got ${got})`;
      },
    };
  }
  if ('crc32c' in checksum) {
    const c = new Crc32c();
    return {
      update: (d) => c.update(d),
      mismatch: () => (c.base64() === checksum.crc32c ? undefined : `its crc32c (expected ${checksum.crc32c}, got ${c.base64()})`),
    };
  }
  return { update: () => undefined, mismatch: () => undefined };
}

class FileState {
  fh: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  readonly done: boolean[];
  private hashedParts = 0;
  private chain: Promise<void> = Promise.resolve();
  readonly checker: Checker;
  readonly finished: Promise<void>;
  private finish!: (err?: unknown) => void;

  constructor(
    readonly job: FileJob,
    readonly target: string,
    readonly ranges: [number, number][],
  ) {
    this.done = ranges.map(() => false);
    this.checker = checkerFor(job.file.checksum, job.file.size);
    this.finished = new Promise<void>((resolve, reject) => {
      this.finish = (err) => (err === undefined ? resolve() : reject(err instanceof Error ? err : new Error('failed')));
    });
    // Awaited by downloadFiles; a failure is reported from there.
    this.finished.catch(() => undefined);
  }

  handle(): Promise<FileHandle> {
    this.opening ??= (async () => {
      mkdirSync(dirname(this.target), { recursive: true, mode: 0o755 });
      const fh = await open(this.target, 'w+', 0o644);
      this.fh = fh;
      await fh.truncate(this.job.file.size);
      return fh;
    })();
    return this.opening;
  }

  /** Part `i` is written: hash every part now contiguous with the hashed prefix; finish after the last. */
  partDone(i: number): void {
    this.done[i] = true;
    this.chain = this.chain.then(async () => {
      const fh = await this.handle();
      while (this.hashedParts < this.ranges.length && this.done[this.hashedParts]) {
        const [from, to] = this.ranges[this.hashedParts]!;
        await hashRange(fh, from, to, this.checker);
        this.hashedParts++;
      }
      if (this.hashedParts === this.ranges.length) await this.complete();
    });
    this.chain.catch((err: unknown) => this.finish(err));
  }

  /** A file without parts (empty) or after its last part. */
  async complete(): Promise<void> {
    const fh = await this.handle();
    const { size } = await fh.stat();
    if (size !== this.job.file.size) throw new Fail(`${this.where()}: ${size} bytes on the disk, ${this.job.file.size} listed`);
    const bad = this.checker.mismatch();
    if (bad !== undefined) throw new Fail(`${this.where()} does not match ${bad}`);
    await fh.chmod(0o444);
    await fh.close();
    this.fh = undefined;
    this.finish();
  }

  fail(err: unknown): void {
    this.finish(err);
  }

  where(): string {
    return `${this.job.file.path} (from ${this.job.label})`;
  }

  async close(): Promise<void> {
    const fh = this.fh ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }
}

async function hashRange(fh: FileHandle, from: number, to: number, checker: Checker): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, to - from + 1));
  for (let pos = from; pos <= to;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos + 1), pos);
    if (bytesRead === 0) throw new Error(`the file ends at byte ${pos}`);
    checker.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/** The one-line reason of a failed file. */
function failure(state: FileState, err: unknown, stallS: number): Fail {
  if (err instanceof Fail) return err;
  if (err instanceof StallError)
    return new Fail(`downloading ${state.where()} stalled: no bytes received for ${stallS} s (--pull-stall-timeout)`);
  const why = err instanceof DownloadError ? err.message : err instanceof Error ? err.message : String(err);
  return new Fail(`downloading ${state.where()} failed: ${why}`);
}

/**
 * Downloads and checks every job's file under `o.root` (at `file.path`). Throws the first failure, a Fail naming
 * the file and its source; the other requests are stopped. Nothing is left open.
 */
export async function downloadFiles(t: Transfer, jobs: readonly FileJob[], o: DownloadOptions): Promise<void> {
  const stop = new AbortController();
  const onOuter = () => stop.abort(t.signal.reason);
  t.signal.addEventListener('abort', onOuter, { once: true });
  const transfer: Transfer = { ...t, signal: stop.signal };
  const stallS = Math.round(t.stallMs / 1000);
  // Largest first: the long transfers start at once, the small files fill the pool at the end.
  const states = [...jobs]
    .sort((a, b) => b.file.size - a.file.size)
    .map((j) => new FileState(j, join(o.root, j.file.path), splitRanges(j.file.size, o.rangedMin, o.partSize)));
  // An empty file is a task too (-1: create and check it), so thousands of them never open at once.
  const queue = states.flatMap((s) => (s.ranges.length === 0 ? [{ s, i: -1 }] : s.ranges.map((_, i) => ({ s, i }))));
  let first: Fail | undefined;
  const fail = (s: FileState, err: unknown) => {
    if (first === undefined && !(t.signal.aborted && err === t.signal.reason)) first = failure(s, err, stallS);
    s.fail(err);
    stop.abort(first ?? err);
  };
  for (const s of states) {
    void s.finished.then(() => o.onFile?.(s.job)).catch((err: unknown) => fail(s, err));
  }
  let next = 0;
  const worker = async () => {
    for (let task = queue[next++]; task && !stop.signal.aborted; task = queue[next++]) {
      const { s, i } = task;
      try {
        if (i < 0) {
          await s.complete();
          continue;
        }
        const [from, to] = s.ranges[i]!;
        const fh = await s.handle();
        await fetchRange(transfer, s.job.remote, fh, s.job.file.size, from, to);
        s.partDone(i);
      } catch (err) {
        fail(s, err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, queue.length)) }, worker));
    // Files whose parts were never fetched (the run stopped) end now; the others end with their last check.
    if (stop.signal.aborted) for (const s of states) s.fail(stop.signal.reason);
    await Promise.allSettled(states.map((s) => s.finished));
  } finally {
    t.signal.removeEventListener('abort', onOuter);
    await Promise.all(states.map((s) => s.close()));
  }
  if (t.signal.aborted) throw t.signal.reason;
  if (first) throw first;
}
