// `npm pack` produces a package that runs from any directory, scripts included (the Go tool had to be run from
// its module directory).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm pack', () => {
  it('installs into another directory and runs from there, with the VM scripts inside', () => {
    const dest = mkdtempSync(join(tmpdir(), 'gdib-pack-'));
    execFileSync('npm', ['pack', '--pack-destination', dest, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tarball = readdirSync(dest).find((f) => f.endsWith('.tgz'))!;
    expect(tarball).toMatch(/^gke-disk-image-builder-.*\.tgz$/);
    const listing = execFileSync('tar', ['-tzf', join(dest, tarball)], { encoding: 'utf8' });
    expect(listing).toContain('package/dist/startup-script/build.sh');
    expect(listing).toContain('package/dist/startup-script/verify.sh');
    expect(listing).toContain('package/dist/gcp/compute-description.json');
    expect(listing).toContain('package/bin/gke-disk-image-builder.js');
    expect(listing).not.toMatch(/package\/(test|src)\//);
    const app = mkdtempSync(join(tmpdir(), 'gdib-app-'));
    execFileSync('npm', ['init', '-y'], { cwd: app, stdio: 'ignore' });
    // Offline: dependencies come from this checkout's node_modules cache via --prefer-offline.
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', resolve(dest, tarball)], { cwd: app, stdio: 'ignore' });
    const help = spawnSync(join(app, 'node_modules/.bin/gke-disk-image-builder'), ['--help'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--container-image');
    // The renderer finds its scripts next to the installed code, whatever the working directory.
    const render = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import('${join(app, 'node_modules/gke-disk-image-builder/dist/startup-script/render.js')}').then(m => process.stdout.write(m.startupScript('build').slice(0, 11)))`,
      ],
      { cwd: tmpdir(), encoding: 'utf8' },
    );
    expect(render.stdout).toBe('#!/bin/bash');
  }, 180_000);
});
