// The npm package as published (pkg/, made by npm run build; packed here without building again): one
// self-contained package — nothing to fetch beside it — holding the bundled CLI, every asset the code reads at run
// time (the VM scripts, the compact compute API description, the build record), the licence and the README, and
// nothing of the repository's tests or sources, no source maps, no path of the machine it was built on. Installed
// into another directory, it runs from there. (That the bundle's Google clients work is shown by
// test/integration/action.test.ts, which builds an image with it against the emulator.)
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedPackage, packedTarball, PKG_DIR } from './helpers/packed.js';

/** The files of a directory, recursively, relative to it. */
function filesOf(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path, base) : [relative(base, path)];
  });
}

describe('the npm package', () => {
  const listing = () =>
    execFileSync('tar', ['-tzf', packedTarball()], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));

  it('holds the bundled CLI, the assets, the licence and the README, and no tests, sources or source maps', () => {
    const files = listing();
    for (const f of [
      'bin/gke-disk-image-builder.js',
      'dist/cli.js',
      'dist/gcp/compute-description.json',
      'dist/build-info.json',
      'dist/startup-script/bootstrap.sh',
      'dist/vm/agent.mjs',
      'LICENSE',
      'README.md',
      'THIRD_PARTY_NOTICES.md',
      'package.json',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^(test|src|bench|scripts|node_modules)\//.test(f) || /\.(ts|map)$/.test(f))).toEqual([]);
    // Every asset of the checkout's dist/ (a file that is no compiled module of src/) is in the package.
    const assets = filesOf('dist').filter((f) => !/\.js(\.map)?$|\.d\.ts$/.test(f) && f !== 'bundle-meta.json');
    expect(assets).toContain('vm/agent.mjs'); // the VM agent's bundle
    for (const a of assets) expect(files).toContain(`dist/${a}`);
  });

  it('its JavaScript points at no source map and names no path of the machine it was built on', () => {
    for (const f of filesOf(PKG_DIR).filter((f) => /\.(js|json|sh|md)$/.test(f))) {
      const text = readFileSync(join(PKG_DIR, f), 'utf8');
      expect(text, f).not.toMatch(/sourceMappingURL/);
      expect(text.includes(process.cwd()), `${f} names ${process.cwd()}`).toBe(false);
    }
  });

  it('carries the Apache 2.0 licence in full', () => {
    const licence = readFileSync(join(PKG_DIR, 'LICENSE'), 'utf8');
    expect(licence).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(licence).toContain('END OF TERMS AND CONDITIONS');
    expect(JSON.parse(readFileSync(join(PKG_DIR, 'package.json'), 'utf8'))).toMatchObject({ license: 'Apache-2.0' });
  });

  it('has nothing to install beside it: no dependency of any kind', () => {
    const pkg = JSON.parse(readFileSync(join(PKG_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'bundledDependencies'])
      expect(pkg[key], key).toBeUndefined();
    expect(pkg).toMatchObject({ name: 'gke-disk-image-builder', bin: { 'gke-disk-image-builder': 'bin/gke-disk-image-builder.js' } });
    expect(pkg.scripts).toBeUndefined(); // nothing runs at install
    expect(pkg.engines).toEqual({ node: '>=22' }); // the maintained LTS lines (README)
    // The checkout's own manifest cannot be published by mistake (it is not the bundled package).
    expect(JSON.parse(readFileSync('package.json', 'utf8'))).toMatchObject({ private: true });
  });

  it('installs into another directory, offline, and runs from there', () => {
    const dir = installedPackage();
    const app = join(dir, '../..');
    // Only the package itself was installed.
    expect(readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['gke-disk-image-builder']);
    const help = spawnSync(join(app, 'node_modules/.bin/gke-disk-image-builder'), ['--help'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('--container-image');
    const version = spawnSync(join(app, 'node_modules/.bin/gke-disk-image-builder'), ['--version'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+.*\ncommit: [0-9a-f]{40}(\+dirty)?\ndisk format: \d+\n$/);
  }, 120_000);
});
