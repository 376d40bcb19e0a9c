// `npm run bench`: every benchmark file, one after another (timings must not compete with each other); one alone with
// `npm run bench -- bench/<name>.ts`. Each writes its figures and tables to docs/benchmarks/<name>.json and .md;
// bench/time-model.ts computes from the others' figures. They fail only when something is broken, never on a timing.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/cli.ts', 'bench/data-disk.ts', 'bench/on-vm.ts', 'bench/install.ts', 'bench/incremental.ts', 'bench/time-model.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    reporters: ['verbose'],
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
