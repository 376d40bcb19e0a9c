// The GCE image archive: gzip'd oldgnu tar, sparse, exactly one member `disk.raw` of whole GiB — and
// back again, byte for byte.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCompressor, packDiskArchive, unpackDiskArchive } from '../../src/local/archive.js';
import { attachLoop, GIB } from '../../src/local/disk.js';
import { isArchive } from '../../src/local/verify-local.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

const MIB = 1024 * 1024;

/** A sparse disk file of `gib` GiB, ext4 as the build script makes it, plus data at the given offsets. */
async function makeDisk(file: string, gib: number, writes: { at: number; bytes: Buffer }[]): Promise<void> {
  const fd = openSync(file, 'w');
  ftruncateSync(fd, gib * GIB);
  closeSync(fd);
  await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0,discard', file]);
  const w = openSync(file, 'r+');
  for (const { at, bytes } of writes) writeSync(w, bytes, 0, bytes.length, at);
  closeSync(w);
}

/** md5 of a file's bytes (md5sum: twice as fast here as sha256sum, and this is no security check). */
async function digest(file: string): Promise<string> {
  return (await run('md5sum', [file])).stdout.split(' ')[0] ?? '';
}

/** The first 512-byte header of the archive's tar stream. */
function firstHeader(archive: string): Buffer {
  // The header is at the start of the stream; gunzip only enough of it (the whole file could be big).
  const gz = readFileSync(archive);
  return gunzipSync(gz, { finishFlush: 2 /* Z_SYNC_FLUSH: a truncated read is fine */ }).subarray(0, 512);
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString('latin1');
}

// pigz, when installed, is the default; gzip is what runs everywhere else.
const compressors = defaultCompressor() === 'pigz' ? (['gzip', 'pigz'] as const) : (['gzip'] as const);

describe.each(compressors)('disk archive format (%s)', (compressor) => {
  let dir: string;
  let disk: string;
  let packed: { path: string; bytes: number };
  const progress: number[] = [];
  const writes = [
    { at: 8 * MIB, bytes: randomBytes(MIB) },
    { at: 300 * MIB + 123, bytes: randomBytes(3 * MIB) },
    { at: 512 * MIB - 4096, bytes: Buffer.alloc(8192, 0xab) },
    { at: GIB - 4096, bytes: randomBytes(4096) },
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-archive-'));
    disk = join(dir, 'data-disk.img');
    await makeDisk(disk, 1, writes);
    packed = await packDiskArchive(disk, join(dir, 'image.tar.gz'), { compressor, onProgress: (b) => progress.push(b) });
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds exactly one file, disk.raw, of the disk size (a whole number of GiB)', async () => {
    expect(packed.path).toBe(join(dir, 'image.tar.gz'));
    expect(packed.bytes).toBe(statSync(packed.path).size);
    const { stdout } = await run('tar', ['-tvzf', packed.path]);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const [mode, owner, size, , , name] = lines[0]!.split(/\s+/);
    expect(mode).toBe('-rw-r--r--');
    expect(owner).toBe('0/0');
    expect(Number(size)).toBe(GIB);
    expect(Number(size) % GIB).toBe(0);
    expect(name).toBe('disk.raw');
    expect((await run('tar', ['-tzf', packed.path])).stdout).toBe('disk.raw\n');
  });

  it('is gzip, GNU oldgnu format, with the disk stored as a sparse member', async () => {
    expect(await isArchive(packed.path)).toBe(true);
    expect(await isArchive(disk)).toBe(false);
    const h = firstHeader(packed.path);
    expect(field(h, 0, 100)).toBe('disk.raw');
    expect(h.subarray(257, 265).toString('latin1')).toBe('ustar  \0'); // oldgnu magic + version
    expect(String.fromCharCode(h[156]!)).toBe('S'); // GNU sparse file
    // The oldgnu sparse header: the real size at 483 (octal); the map from 386, (offset, size) pairs.
    expect(parseInt(field(h, 483, 12), 8)).toBe(GIB);
    expect(parseInt(field(h, 398, 12), 8)).toBeGreaterThan(0);
    // The stored size (at 124) is the data only: far less than the disk.
    expect(parseInt(field(h, 124, 12), 8)).toBeLessThan(GIB / 8);
    const verbose = (await run('tar', ['--list', '-vv', '-z', '-f', packed.path])).stdout;
    expect(verbose).toContain('disk.raw');
  });

  it('is created 0600: it holds the images, possibly private (the member inside stays 0644 for GCE)', () => {
    expect(statSync(packed.path).mode & 0o777).toBe(0o600);
  });

  it('is small: about the data written, not the disk size', () => {
    const data = writes.reduce((n, w) => n + w.bytes.length, 0);
    expect(packed.bytes).toBeLessThan(data + 4 * MIB);
    expect(packed.bytes).toBeGreaterThan(4 * MIB); // the random data does not compress
  });

  it('reports progress in archive bytes, ending with the final size', () => {
    expect(progress.at(-1)).toBe(packed.bytes);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThan(progress[i - 1]!);
  });

  it('leaves only the archive next to it, and the disk file as it was', () => {
    expect(readdirSync(dir).sort()).toEqual(['data-disk.img', 'image.tar.gz']);
    for (const w of writes) {
      const fd = openSync(disk, 'r');
      const got = Buffer.alloc(w.bytes.length);
      readSync(fd, got, 0, got.length, w.at);
      closeSync(fd);
      expect(got.equals(w.bytes)).toBe(true);
    }
  });

  it('unpacks to a sparse disk.raw identical to the disk', async () => {
    const out = await unpackDiskArchive(packed.path, join(dir, 'unpacked'));
    try {
      expect(out).toBe(join(dir, 'unpacked', 'disk.raw'));
      const st = statSync(out);
      expect(st.size).toBe(GIB);
      expect(st.blocks * 512).toBeLessThan(statSync(disk).blocks * 512 + 4 * MIB);
      const [a, b] = await Promise.all([digest(out), digest(disk)]);
      expect(a).toMatch(/^[0-9a-f]{32}$/);
      expect(a).toBe(b);
      await expect(unpackDiskArchive(packed.path, join(dir, 'unpacked'))).rejects.toThrow(/exists already/);
    } finally {
      rmSync(join(dir, 'unpacked'), { recursive: true, force: true });
    }
  });

  it('replaces an existing archive only once the new one is complete', async () => {
    const again = await packDiskArchive(disk, packed.path, { compressor });
    expect(again.bytes).toBe(statSync(packed.path).size);
    expect(readdirSync(dir).sort()).toEqual(['data-disk.img', 'image.tar.gz']);
  });
});

describe('disk archive refusals and abort', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-archive-errors-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packs a whole number of GiB only', async () => {
    const odd = join(dir, 'odd.img');
    const fd = openSync(odd, 'w');
    ftruncateSync(fd, GIB + 512);
    closeSync(fd);
    await expect(packDiskArchive(odd, join(dir, 'odd.tar.gz'))).rejects.toThrow(/whole number of GB/);
    expect(existsSync(join(dir, 'odd.tar.gz'))).toBe(false);
  });

  it('says when the archive directory is missing or the output is a directory', async () => {
    const disk = join(dir, 'empty.img');
    const fd = openSync(disk, 'w');
    ftruncateSync(fd, GIB);
    closeSync(fd);
    await expect(packDiskArchive(disk, join(dir, 'no', 'such', 'dir.tar.gz'))).rejects.toThrow(/does not exist or is not writable/);
    mkdirSync(join(dir, 'a-dir'));
    await expect(packDiskArchive(disk, join(dir, 'a-dir'))).rejects.toThrow(/is a directory/);
    await expect(packDiskArchive(disk, disk)).rejects.toThrow(/cannot replace the disk/);
  });

  it('stops on abort and leaves no partial archive', async () => {
    const disk = join(dir, 'busy.img');
    const fd = openSync(disk, 'w');
    ftruncateSync(fd, GIB);
    for (let i = 0; i < 64; i++) writeSync(fd, randomBytes(MIB), 0, MIB, i * 4 * MIB);
    closeSync(fd);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted')), 200);
    const started = Date.now();
    await expect(packDiskArchive(disk, join(dir, 'busy.tar.gz'), { signal: ac.signal })).rejects.toThrow('interrupted');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(readdirSync(dir).filter((n) => n.includes('busy.tar.gz'))).toEqual([]);
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout).not.toContain(join(dir, '.busy.tar.gz'));
  });

  it('unpacks disk.raw only, and a regular file only', async () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    symlinkSync('/etc/passwd', join(src, 'disk.raw'));
    await run('tar', ['--format=oldgnu', '-czf', join(dir, 'link.tar.gz'), '-C', src, 'disk.raw']);
    await expect(unpackDiskArchive(join(dir, 'link.tar.gz'), join(dir, 'out-link'))).rejects.toThrow(/not a regular file/);
    expect(readdirSync(join(dir, 'out-link'))).toEqual([]);

    rmSync(join(src, 'disk.raw'));
    const other = join(src, 'other.raw');
    const fd = openSync(other, 'w');
    ftruncateSync(fd, MIB);
    closeSync(fd);
    await run('tar', ['-czf', join(dir, 'other.tar.gz'), '-C', src, 'other.raw']);
    await expect(unpackDiskArchive(join(dir, 'other.tar.gz'), join(dir, 'out-other'))).rejects.toThrow(/holds no disk\.raw/);
    expect(readdirSync(join(dir, 'out-other'))).toEqual([]);
  });
});

describeRig('disk archive of an attached disk', () => {
  it('refuses to pack a disk still on a loop device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-archive-attached-'));
    const file = join(dir, 'disk.img');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, GIB);
    closeSync(fd);
    const loop = await attachLoop(file);
    try {
      await expect(packDiskArchive(file, join(dir, 'x.tar.gz'))).rejects.toThrow(new RegExp(`still attached to ${loop.device}`));
    } finally {
      await loop.detach();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('disk archive speed', () => {
  it('packs a 4 GiB mostly-empty ext4 disk in a few seconds into a small archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-archive-speed-'));
    try {
      const disk = join(dir, 'big.img');
      // 16 MiB of incompressible data spread over the disk, as files would be.
      await makeDisk(
        disk,
        4,
        Array.from({ length: 16 }, (_, i) => ({ at: (i * 250 + 7) * MIB, bytes: randomBytes(MIB) })),
      );
      const started = Date.now();
      const { bytes } = await packDiskArchive(disk, join(dir, 'big.tar.gz'));
      const ms = Date.now() - started;
      expect(ms).toBeLessThan(10_000);
      expect(bytes).toBeLessThan(24 * MIB);
      const { stdout } = await run('tar', ['-tvzf', join(dir, 'big.tar.gz')]);
      expect(stdout).toMatch(new RegExp(`\\s${4 * GIB}\\s.*\\sdisk\\.raw\\n$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
