// `npm run bench` (after bench/benchmarks.ts, in the same process): installing the package from an npm registry,
// the bundled package beside the package as it was before (bench/lib/npm-install.ts); writes docs/benchmarks.md §8.
// Runs alone with `npm run bench -- bench/npm-install.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './lib/child.js';
import { machine } from './lib/machine.js';
import { measureNpmInstall, npmInstallSection, spliceNpmInstall } from './lib/npm-install.js';

const RUNS = process.env.GDIB_BENCH_NPM_RUNS ? Number(process.env.GDIB_BENCH_NPM_RUNS) : 3;
const log = (s: string) => console.log(`[bench] ${s}`);

describe('installing from npm', () => {
  it('npx --help with an empty cache: the bundled package and the package before bundling', { timeout: 1_800_000 }, async () => {
    const startedAt = new Date();
    const m = machine();
    const r = await measureNpmInstall({ runs: RUNS, log });
    expect(r.bundled.every((x) => x.tarballs === 1)).toBe(true);
    const file = join(ROOT, 'docs/benchmarks.md');
    const section = npmInstallSection(r, `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}`, startedAt);
    writeFileSync(file, spliceNpmInstall(readFileSync(file, 'utf8'), section));
    log('wrote docs/benchmarks.md §8');
  });
});
