// The fast tier (npm run test:unit): the tests that need neither root, nor the rig, nor a build — the schema and
// flag tables, the builder's steps and runner on the in-memory fake cloud, the adapters and the emulator's own
// behaviour, the docs and the layers — for the edit-test loop. `npm test` runs everything (vitest.config.ts).
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: [
        'test/config/**/*.test.ts',
        'test/commands/**/*.test.ts',
        'test/builder/**/*.test.ts',
        'test/io/**/*.test.ts',
        'test/registry/**/*.test.ts',
        'test/gcp/**/*.test.ts',
        'test/emulator/**/*.test.ts',
        'test/k8s/**/*.test.ts',
        'test/cli/usage.test.ts',
        'test/docs.test.ts',
        'test/layers.test.ts',
      ],
      // Reads the compact API description that npm run build writes.
      exclude: ['test/gcp/compute-description.test.ts'],
    },
  }),
);
