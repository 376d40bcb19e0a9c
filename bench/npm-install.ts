// Installing the package from an npm registry, the bundled package beside the package as it was before
// (bench/lib/npm-install.ts). Writes docs/benchmarks/npm-install.json and npm-install.md.
// Alone: `npm run bench -- bench/npm-install.ts` (GDIB_BENCH_NPM_RUNS runs each, default 3).
import { describe, expect, it } from 'vitest';
import { measureNpmInstall, npmInstallTables } from './lib/npm-install.js';
import { writeResult } from './lib/results.js';

const RUNS = process.env.GDIB_BENCH_NPM_RUNS ? Number(process.env.GDIB_BENCH_NPM_RUNS) : 3;
const log = (s: string) => console.log(`[bench] ${s}`);

describe('installing from npm', () => {
  it('npx --help with an empty cache: the bundled package and the package before bundling', { timeout: 1_800_000 }, async () => {
    const r = await measureNpmInstall({ runs: RUNS, log });
    expect(r.bundled.every((x) => x.tarballs === 1)).toBe(true);
    writeResult('npm-install', r, npmInstallTables(r));
  });
});
