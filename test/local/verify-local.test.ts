// What `verify --local FILE` takes: a GCE image archive or a raw disk, told apart by content.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopDevicesOf } from '../../src/local/disk.js';
import { isArchive, openDiskForVerify } from '../../src/local/verify-local.js';
import { run } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

describe('isArchive, and what openDiskForVerify refuses', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-verify-local-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('knows gzip by its magic bytes, whatever the name', async () => {
    writeFileSync(join(dir, 'disk.img'), gzipSync('anything'));
    writeFileSync(join(dir, 'image.tar.gz'), Buffer.alloc(4096));
    writeFileSync(join(dir, 'one-byte'), Buffer.from([0x1f]));
    writeFileSync(join(dir, 'empty'), '');
    expect(await isArchive(join(dir, 'disk.img'))).toBe(true);
    expect(await isArchive(join(dir, 'image.tar.gz'))).toBe(false);
    expect(await isArchive(join(dir, 'one-byte'))).toBe(false);
    expect(await isArchive(join(dir, 'empty'))).toBe(false);
    await expect(isArchive(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a directory and an uncompressed tar, before attaching anything', async () => {
    mkdirSync(join(dir, 'a-dir'));
    await expect(openDiskForVerify(join(dir, 'a-dir'), dir)).rejects.toThrow(/is not a file/);
    writeFileSync(join(dir, 'disk.raw'), Buffer.alloc(1024 * 1024));
    await run('tar', ['--format=oldgnu', '-cf', join(dir, 'plain.tar'), '-C', dir, 'disk.raw']);
    await expect(openDiskForVerify(join(dir, 'plain.tar'), dir)).rejects.toThrow(/uncompressed tar/);
    expect(loopDevicesOf(join(dir, 'plain.tar'))).toEqual([]);
  });
});

describeRig('openDiskForVerify', () => {
  it('leaves nothing behind when the archive holds no disk.raw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-verify-local-rig-'));
    try {
      writeFileSync(join(dir, 'other.raw'), Buffer.alloc(1024 * 1024));
      await run('tar', ['-czf', join(dir, 'bad.tar.gz'), '-C', dir, 'other.raw']);
      const scratch = join(dir, 'scratch');
      mkdirSync(scratch);
      await expect(openDiskForVerify(join(dir, 'bad.tar.gz'), scratch)).rejects.toThrow(/holds no disk\.raw/);
      expect(readdirSync(scratch)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
