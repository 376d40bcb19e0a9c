// Files named on the command line, read and written without trusting what sits at the path.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openRegularFile, outputTargetProblem, readSmallFile, writeFileReplacing } from '../../src/io/safe-file.js';

const dir = mkdtempSync(join(tmpdir(), 'gdib-safe-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readSmallFile', () => {
  it('reads a regular file whole', () => {
    writeFileSync(join(dir, 'a'), 'hello');
    expect(readSmallFile(join(dir, 'a'), 10)).toEqual({ text: 'hello' });
  });
  it('refuses one larger than the limit, by its size or by what it gives', () => {
    writeFileSync(join(dir, 'big'), 'x'.repeat(11));
    expect(readSmallFile(join(dir, 'big'), 10)).toEqual({ problem: 'is too large (11 bytes; at most 10)' });
  });
  it('does not block on a FIFO with no writer', () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(readSmallFile(join(dir, 'fifo'), 10)).toEqual({ problem: 'is a FIFO (named pipe), not a file' });
  });
  it('refuses a device and a directory', () => {
    expect(openRegularFile('/dev/zero')).toBe('is a character device, not a file');
    expect(openRegularFile(dir)).toBe('is a directory, not a file');
  });
});

describe('writeFileReplacing', () => {
  it('replaces a symbolic link at the path, leaving the file it pointed to as it was', async () => {
    writeFileSync(join(dir, 'precious'), 'keep me');
    symlinkSync(join(dir, 'precious'), join(dir, 'out.yaml'));
    await writeFileReplacing(join(dir, 'out.yaml'), 'manifests');
    expect(readFileSync(join(dir, 'precious'), 'utf8')).toBe('keep me');
    expect(lstatSync(join(dir, 'out.yaml')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'out.yaml'), 'utf8')).toBe('manifests');
  });
  it('replaces a FIFO without opening it (an open for writing would block)', async () => {
    execFileSync('mkfifo', [join(dir, 'out-fifo')]);
    await writeFileReplacing(join(dir, 'out-fifo'), 'x');
    expect(statSync(join(dir, 'out-fifo')).isFile()).toBe(true);
  });
  it('creates the file with the mode asked for and leaves no partial file', async () => {
    await writeFileReplacing(join(dir, 'secret'), 's', { mode: 0o600 });
    expect(statSync(join(dir, 'secret')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
  it('leaves nothing behind when aborted', async () => {
    const c = new AbortController();
    c.abort(new Error('stop'));
    await expect(writeFileReplacing(join(dir, 'never'), 'x', { signal: c.signal })).rejects.toThrow('stop');
    expect(readdirSync(dir).filter((f) => f.includes('never'))).toEqual([]);
  });
});

describe('outputTargetProblem', () => {
  it('accepts a new path and a regular file; refuses a link, a FIFO, a device and a directory', () => {
    expect(outputTargetProblem(join(dir, 'new-file'))).toBeUndefined();
    expect(outputTargetProblem(join(dir, 'a'))).toBeUndefined();
    symlinkSync(join(dir, 'a'), join(dir, 'a-link'));
    expect(outputTargetProblem(join(dir, 'a-link'))).toMatch(/symbolic link/);
    expect(outputTargetProblem(join(dir, 'fifo'))).toMatch(/FIFO/);
    expect(outputTargetProblem('/dev/null')).toMatch(/character device/);
    expect(outputTargetProblem(dir)).toMatch(/directory/);
  });
});
