// Installing from npm: `npx gke-disk-image-builder@VERSION --help` on a machine with an empty npm cache,
// against a real npm registry on this machine (Verdaccio: test/helpers/local-registry.ts), for the package as
// published now (pkg/: the bundle, no dependencies) and for the package as it was before bundling (the compiled
// dist/ with its seven runtime dependencies, 205 packages in all), each run alternately with a new empty cache.
// Counted at a proxy in front of the registry: the package tarballs npm fetched and the bytes of every response.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './child.js';
import { runAsync, startLocalRegistry } from '../../test/helpers/local-registry.js';
import { packedTarball } from '../../test/helpers/packed.js';

/** What the package depended on before it was bundled (and the checkout now lists as devDependencies). */
export const UNBUNDLED_DEPENDENCIES = [
  '@google-cloud/compute',
  '@google-cloud/storage',
  'commander',
  'google-auth-library',
  'pino',
  'yaml',
  'zod',
];

export interface InstallRun {
  ms: number;
  tarballs: number;
  bytes: number;
}
export interface NpmInstallResult {
  version: string;
  runs: number;
  bundled: InstallRun[];
  unbundled: InstallRun[];
  bundledTarballBytes: number;
}

/** The package as it was published before bundling: bin/, the compiled dist/, and the runtime dependencies. */
async function unbundledTarball(version: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'gdib-unbundled-'));
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> } & Record<
    string,
    unknown
  >;
  const dependencies = Object.fromEntries(UNBUNDLED_DEPENDENCIES.map((d) => [d, root.devDependencies[d]!]));
  const pkg = { name: root.name, version, type: 'module', license: root.license, bin: root.bin, files: ['bin/', 'dist/'], dependencies };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('bundle-meta.json') });
  const dest = mkdtempSync(join(tmpdir(), 'gdib-unbundled-pack-'));
  const r = await runAsync('npm', ['pack', dir, '--ignore-scripts', '--pack-destination', dest, '--silent']);
  if (r.code !== 0) throw new Error(`npm pack of the unbundled package failed: ${r.stderr}`);
  return join(dest, r.stdout.trim().split('\n').pop()!);
}

export async function measureNpmInstall(opts: { runs: number; log: (s: string) => void }): Promise<NpmInstallResult> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'pkg/package.json'), 'utf8')) as { version: string }).version;
  const before = `${version}-unbundled`;
  const bundled = packedTarball();
  const unbundled = await unbundledTarball(before);
  const storage = mkdtempSync(join(tmpdir(), 'gdib-registry-storage-'));
  const upstream = (await runAsync('npm', ['config', 'get', 'registry'])).stdout.trim();

  // Fill the local registry once: the unbundled package's 205 dependencies, fetched from the registry npm uses here.
  opts.log('npm install: filling the local registry with the unbundled package and its dependencies');
  const filling = await startLocalRegistry(storage, upstream);
  try {
    await filling.publish(bundled);
    await filling.publish(unbundled, 'unbundled');
    const app = mkdtempSync(join(tmpdir(), 'gdib-fill-'));
    const cache = mkdtempSync(join(tmpdir(), 'gdib-npm-cache-'));
    const r = await runAsync('npm', ['install', ...filling.npmArgs(cache), '--prefix', app, `gke-disk-image-builder@${before}`]);
    if (r.code !== 0) throw new Error(`filling the local registry failed: ${r.stderr}`);
    rmSync(cache, { recursive: true, force: true });
  } finally {
    await filling.stop();
  }

  // Measure against the same storage, with no upstream: everything comes from this machine.
  const registry = await startLocalRegistry(storage);
  const result: NpmInstallResult = { version, runs: opts.runs, bundled: [], unbundled: [], bundledTarballBytes: 0 };
  try {
    for (let i = 0; i < opts.runs; i++) {
      for (const [label, spec, into] of [
        ['bundled', version, result.bundled],
        ['unbundled', before, result.unbundled],
      ] as const) {
        const cache = mkdtempSync(join(tmpdir(), 'gdib-npm-cache-'));
        const cwd = mkdtempSync(join(tmpdir(), 'gdib-npx-'));
        const home = mkdtempSync(join(tmpdir(), 'gdib-home-'));
        registry.resetCounts();
        const r = await runAsync(
          'npx',
          ['--yes', ...registry.npmArgs(cache), `--package=gke-disk-image-builder@${spec}`, '--', 'gke-disk-image-builder', '--help'],
          {
            cwd,
            env: { PATH: process.env.PATH, HOME: home },
          },
        );
        if (r.code !== 0 || !r.stdout.includes('--container-image'))
          throw new Error(`npx ${label} failed (${r.code}): ${r.stderr.slice(-2000)}`);
        into.push({ ms: r.ms, tarballs: registry.fetched.tarballs.length, bytes: registry.fetched.bytes });
        opts.log(
          `npx ${label} --help: ${r.ms.toFixed(0)} ms, ${registry.fetched.tarballs.length} packages, ${registry.fetched.bytes} bytes`,
        );
        for (const d of [cache, cwd, home]) rmSync(d, { recursive: true, force: true });
      }
    }
  } finally {
    await registry.stop();
    rmSync(storage, { recursive: true, force: true });
  }
  result.bundledTarballBytes = readFileSync(bundled).length;
  return result;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

export function npmInstallTables(r: NpmInstallResult): string[] {
  const row = (label: string, runs: InstallRun[]) => {
    const ms = runs.map((x) => x.ms);
    return `| ${label} | ${median(runs.map((x) => x.tarballs))} | ${mb(median(runs.map((x) => x.bytes)))} | ${(median(ms) / 1000).toFixed(1)} s (${(Math.min(...ms) / 1000).toFixed(1)}–${(Math.max(...ms) / 1000).toFixed(1)}) |`;
  };
  return [
    `\`npx --yes gke-disk-image-builder@${r.version} --help\`, empty npm cache, local Verdaccio registry, ${r.runs} runs each, alternating.`,
    [
      '| package | packages fetched | bytes fetched | time until `--help` has printed, median (range) |',
      '| --- | ---: | ---: | ---: |',
      row('before: compiled modules + dependencies', r.unbundled),
      row(`now: the bundled package (${mb(r.bundledTarballBytes)} tarball)`, r.bundled),
    ].join('\n'),
  ];
}
