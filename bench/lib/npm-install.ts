// §8 (installing from npm): `npx gke-disk-image-builder@VERSION --help` on a machine with an empty npm cache,
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

export const NPM_INSTALL_START = '<!-- npm-install: begin -->';
export const NPM_INSTALL_END = '<!-- npm-install: end -->';
const HEAD = '## 8. Installing from npm';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** The section's text, between its markers. */
export function npmInstallSection(r: NpmInstallResult, machineLine: string, date: Date): string {
  const row = (label: string, runs: InstallRun[]) => {
    const ms = runs.map((x) => x.ms);
    return `| ${label} | ${median(runs.map((x) => x.tarballs))} | ${mb(median(runs.map((x) => x.bytes)))} | ${(median(ms) / 1000).toFixed(1)} s (min ${(Math.min(...ms) / 1000).toFixed(1)}, max ${(Math.max(...ms) / 1000).toFixed(1)}) |`;
  };
  const ratio = (f: (x: InstallRun) => number) => median(r.unbundled.map(f)) / median(r.bundled.map(f));
  const x = (v: number) => (v >= 10 ? `${v.toFixed(0)}×` : `${v.toFixed(1)}×`);
  return [
    NPM_INSTALL_START,
    HEAD,
    '',
    `_Measured ${date.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineLine} by \`npm run bench\` (\`bench/lib/npm-install.ts\`)._`,
    '',
    `\`npx --yes gke-disk-image-builder@${r.version} --help\` with an empty npm cache, in a new directory, against a real npm registry on this machine (Verdaccio, started by the benchmark and serving every package from its own storage, so no time is spent beyond this machine), ${r.runs} times each, alternating. "Before" is the package as it was published before the bundle: the compiled modules with their seven runtime dependencies. Packages are the tarballs npm fetched; bytes are every response npm received (package documents and tarballs), counted at a proxy in front of the registry; time is from starting \`npx\` to its exit, just after the help is printed.`,
    '',
    '| package | packages fetched | bytes fetched | time until `--help` has printed (median) |',
    '| --- | ---: | ---: | ---: |',
    row('before: compiled modules + dependencies', r.unbundled),
    row(`now: the bundled package (${mb(r.bundledTarballBytes)} tarball)`, r.bundled),
    '',
    `The bundled package fetches ${x(ratio((y) => y.tarballs))} fewer packages and ${x(ratio((y) => y.bytes))} fewer bytes, and answers ${x(ratio((y) => y.ms))} sooner. From the real registry, each package fetched also costs a round trip over the network, which this local registry does not show.`,
    NPM_INSTALL_END,
  ].join('\n');
}

/** docs/benchmarks.md with this section put in (in place of its old one, else before "How to rerun"). */
export function spliceNpmInstall(doc: string, section: string): string {
  const at = new RegExp(`${NPM_INSTALL_START}[\\s\\S]*?${NPM_INSTALL_END}`);
  if (at.test(doc)) return doc.replace(at, () => section);
  const rerun = doc.search(/^## How to rerun/m);
  return rerun < 0 ? `${doc.trimEnd()}\n\n${section}\n` : `${doc.slice(0, rerun)}${section}\n\n${doc.slice(rerun)}`;
}

/** The section as it stands in `doc`, to carry over when the rest of the document is rewritten. */
export function npmInstallBlock(doc: string): string | undefined {
  return new RegExp(`${NPM_INSTALL_START}[\\s\\S]*?${NPM_INSTALL_END}`).exec(doc)?.[0];
}
