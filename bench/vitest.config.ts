// `npm run bench`: the benchmarks run as one vitest file, in order, in one process (timings must not compete with
// each other). They print figures and write docs/benchmarks.md; they fail only when something is broken.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/benchmarks.ts', 'bench/npm-install.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
    reporters: ['verbose'],
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
