// --version of the built CLI: the version, the commit the build was made from (recorded by npm run build) and the
// disk format the VM side writes; without a build record, each unknown field says so.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DISK_FORMAT_VERSION } from '../../src/builder/image-record.js';
import { buildInfo, versionText } from '../../src/version.js';

const BIN = 'bin/gke-disk-image-builder.js';
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('--version', () => {
  it('prints the version, the commit built from and the disk format, and exits 0', () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', cwd: process.cwd() });
    expect(r.status).toBe(0);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(pkg.version);
    // The build ran in this checkout: its commit, possibly with uncommitted changes.
    expect(lines[1]).toMatch(new RegExp(`^commit: ${head}(\\+dirty)?$`));
    expect(lines[2]).toBe(`disk format: ${DISK_FORMAT_VERSION}`);
    expect(lines).toHaveLength(3);
  });

  it('says unknown for what the build did not record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-version-'));
    expect(buildInfo(join(dir, 'missing.json'))).toEqual({ commit: 'unknown', diskFormat: 'unknown' });
    writeFileSync(join(dir, 'partial.json'), JSON.stringify({ diskFormat: 3 }));
    expect(versionText(buildInfo(join(dir, 'partial.json')))).toBe(`${pkg.version}\ncommit: unknown\ndisk format: 3`);
  });

  it('the build records GDIB_BUILD_COMMIT outside a git checkout', () => {
    // The recording script run from a directory that is no git checkout, against this build's modules.
    const dir = mkdtempSync(join(tmpdir(), 'gdib-nogit-'));
    execFileSync('mkdir', ['-p', join(dir, 'scripts')]);
    execFileSync('cp', ['scripts/build-info.mjs', join(dir, 'scripts/')]);
    // The whole build: the disk format comes through modules that import others (the shared VM contract).
    execFileSync('cp', ['-r', 'dist', join(dir, 'dist')]);
    const env = { PATH: process.env.PATH, GIT_CEILING_DIRECTORIES: tmpdir() };
    execFileSync(process.execPath, ['scripts/build-info.mjs'], { cwd: dir, env: { ...env, GDIB_BUILD_COMMIT: 'abc123' } });
    expect(buildInfo(join(dir, 'dist/build-info.json'))).toEqual({ commit: 'abc123', diskFormat: String(DISK_FORMAT_VERSION) });
    execFileSync(process.execPath, ['scripts/build-info.mjs'], { cwd: dir, env });
    expect(buildInfo(join(dir, 'dist/build-info.json')).commit).toBe('unknown');
  });
});
