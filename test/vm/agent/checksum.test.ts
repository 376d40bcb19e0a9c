// The checksum of a snapshot (docs/architecture.md, Disk layout): the agent's, against the Go tool's pipeline as the
// Go tool ran it, on any machine (no root, no rig; md5sum is coreutils').
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deal, snapshotChecksum } from '../../../src/vm/agent/checksum.js';
import { realSystem } from '../../../src/vm/agent/system.js';
import { goToolChecksum } from '../../rig/checksum.js';
import { pseudoRandom } from '../../rig/images.js';
import { run } from '../../rig/proc.js';
import { FakeSystem } from './fake-system.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('snapshotChecksum', () => {
  let dir: string;
  let tree: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-checksum-'));
    tree = join(dir, 'fs');
    mkdirSync(join(tree, 'a dir\\with backslash'), { recursive: true });
    mkdirSync(join(tree, 'deep/er/still'), { recursive: true });
    const files: Record<string, Buffer | string> = {
      'plain.txt': 'plain\n',
      empty: '',
      'with space': 'space\n',
      'back\\slash': 'backslash\n',
      'new\nline': 'newline\n',
      'a dir\\with backslash/inside': 'inside a dir with a backslash\n',
      'deep/er/still/big.bin': pseudoRandom(2_000_000, 3),
      ünïcødé: 'utf-8\n',
      'same-1': 'same content\n',
      'same-2': 'same content\n',
    };
    for (let i = 0; i < 300; i++) files[`deep/er/f${i}`] = `file ${i % 7}\n`;
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tree, name), content);
    linkSync(join(tree, 'plain.txt'), join(tree, 'hard-link'));
    symlinkSync('plain.txt', join(tree, 'symlink')); // not a regular file: not counted
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('equals the Go tool pipeline, run as the Go tool ran it', async () => {
    const goTool = await run('bash', [
      '-c',
      `find "$1" -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1`,
      'go-tool',
      tree,
    ]);
    const ours = `${await snapshotChecksum(realSystem, tree, 3)}\n`;
    expect(ours).toBe(goTool.stdout);
    expect(ours.trim()).toBe(goToolChecksum(tree));
  });

  it('prefixes names with a backslash or newline, but not a carriage return (coreutils 8.32 rule)', async () => {
    const cr = join(dir, 'cr');
    mkdirSync(cr);
    writeFileSync(join(cr, 'carriage\rreturn'), 'x\n');
    writeFileSync(join(cr, 'back\\slash'), 'y\n');
    const ours = await snapshotChecksum(realSystem, cr, 2);
    expect(ours).toBe(goToolChecksum(cr));
    // By hand: md5("<x>\n" sorted with "\<y>\n"), x unprefixed.
    const lines = [md5('x\n'), `\\${md5('y\n')}`].sort();
    expect(ours).toBe(md5(lines.map((l) => `${l}\n`).join('')));
  });

  it('of an empty directory is the md5 of nothing', async () => {
    const empty = join(dir, 'empty-dir');
    mkdirSync(empty);
    expect(await snapshotChecksum(realSystem, empty, 4)).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('fails rather than guess when a directory or file cannot be read', async () => {
    await expect(snapshotChecksum(realSystem, join(dir, 'nonexistent-dir'), 2)).rejects.toThrow();
    const fake = new FakeSystem((cmd) => (cmd === 'xargs' ? { code: 1, stdout: '', stderr: 'md5sum: x: Permission denied' } : undefined));
    await expect(snapshotChecksum(fake, tree, 2)).rejects.toThrow(/md5sum failed/);
  });

  it('deals the files largest first, each to the worker with the fewest bytes so far', () => {
    const files = [10, 1, 7, 3, 3, 2].map((size, i) => ({ path: `./f${i}`, size }));
    // 10 | 7, 3 (=10) | then 3 to the first of the equal loads (13) | 2 (12) | 1 (13)
    expect(deal(files, 2)).toEqual([
      ['./f0', './f4'],
      ['./f2', './f3', './f5', './f1'],
    ]);
    expect(deal(files.slice(0, 1), 4)).toEqual([['./f0']]);
  });
});
