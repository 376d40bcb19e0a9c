// The npm package as `npm run build` made it (pkg/), packed into a tarball as `npm publish` would pack it — without
// building again: packing runs no script. Tests install or run that tarball, never the checkout.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PKG_DIR = resolve('pkg');

let tarball: string | undefined;

/** The path of the packed tarball (packed once per test file). */
export function packedTarball(): string {
  if (tarball) return tarball;
  if (!existsSync(join(PKG_DIR, 'package.json')))
    throw new Error('pkg/ is missing: npm run build makes it (npm test runs the build first)');
  const dest = mkdtempSync(join(tmpdir(), 'gdib-pack-'));
  execFileSync('npm', ['pack', PKG_DIR, '--ignore-scripts', '--pack-destination', dest, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const name = readdirSync(dest).find((f) => f.endsWith('.tgz'));
  if (!name) throw new Error(`npm pack wrote no tarball in ${dest}`);
  tarball = join(dest, name);
  return tarball;
}

/**
 * The packed package installed into a new directory outside the checkout (nothing else is installed: it has no
 * dependencies, and the install runs offline); returns the directory of the installed package.
 */
export function installedPackage(): string {
  const app = mkdtempSync(join(tmpdir(), 'gdib-app-'));
  execFileSync('npm', ['init', '-y'], { cwd: app, stdio: 'ignore' });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', packedTarball()], {
    cwd: app,
    stdio: 'ignore',
  });
  return join(app, 'node_modules/gke-disk-image-builder');
}
