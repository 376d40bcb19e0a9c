// The published package as a user gets it: published to a real npm registry on this machine (Verdaccio, serving
// nothing else), then `npx gke-disk-image-builder@VERSION --help` with an empty npm cache. npm fetches exactly one
// package — nothing it depends on — and the tool answers. (How long that took, beside the package as it was
// before bundling, is recorded in docs/benchmarks.md.)
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAsync, startLocalRegistry, type LocalRegistry } from './helpers/local-registry.js';
import { packedTarball, PKG_DIR } from './helpers/packed.js';

const version = (JSON.parse(readFileSync(join(PKG_DIR, 'package.json'), 'utf8')) as { version: string }).version;
let registry: LocalRegistry;

describe('installing from an npm registry', () => {
  beforeAll(async () => {
    registry = await startLocalRegistry(mkdtempSync(join(tmpdir(), 'gdib-registry-storage-')));
    await registry.publish(packedTarball());
  }, 300_000);
  afterAll(() => registry?.stop());

  it("the README's first command: npx fetches the one package and runs it", async () => {
    const first = /```sh\n(.*)\n```/.exec(readFileSync('README.md', 'utf8'))![1]!;
    expect(first).toBe(`npx --yes gke-disk-image-builder@${version} --help`);
    registry.resetCounts();
    const cache = mkdtempSync(join(tmpdir(), 'gdib-npm-cache-'));
    // The command as written; npm is pointed at the local registry and an empty cache through its environment.
    const npmEnv = Object.fromEntries(
      registry
        .npmArgs(cache)
        .flatMap((a) =>
          /^--(registry|cache|userconfig)=/.test(a) ? [[`npm_config_${a.slice(2, a.indexOf('='))}`, a.slice(a.indexOf('=') + 1)]] : [],
        ),
    ) as Record<string, string>;
    const [command, ...args] = first.split(' ');
    const r = await runAsync(command!, args, {
      cwd: mkdtempSync(join(tmpdir(), 'gdib-npx-')),
      env: { PATH: process.env.PATH, HOME: mkdtempSync(join(tmpdir(), 'gdib-home-')), npm_config_update_notifier: 'false', ...npmEnv },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('--container-image');
    expect(registry.fetched.tarballs).toEqual([`/gke-disk-image-builder/-/gke-disk-image-builder-${version}.tgz`]);
    // Nothing was fetched but this package's document (npx reads it twice) and its tarball (npm's audit may post
    // the one package's name and version, which fetches nothing).
    const gets = registry.fetched.requests.filter((q) => q.startsWith('GET '));
    expect(gets.filter((q) => !/^GET \/gke-disk-image-builder(\/|$)/.test(q))).toEqual([]);
  });
});
