// The fast tier (npm run test:unit): the tests that need neither root, nor the rig, nor a build — the schema and
// flag tables, the builder's steps and runner on the in-memory fake cloud, the adapters and the emulator's own
// behaviour, the docs and the layers — for the edit-test loop. `npm test` runs everything (vitest.config.ts).
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The base's settings with this tier's files (mergeConfig would add these to the base's include, not replace it).
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/config/**/*.test.ts',
      'test/commands/**/*.test.ts',
      'test/builder/**/*.test.ts',
      'test/io/**/*.test.ts',
      'test/registry/**/*.test.ts',
      'test/gcp/**/*.test.ts',
      'test/emulator/**/*.test.ts',
      'test/k8s/**/*.test.ts',
      'test/vm/**/*.test.ts',
      'test/fakes/**/*.test.ts',
      'test/cli/usage.test.ts',
      'test/docs.test.ts',
      'test/layers.test.ts',
    ],
    // These read what npm run build writes: the compact API description, and the agent bundle that rendering the
    // VM metadata inlines. They run in the whole suite.
    exclude: ['test/gcp/compute-description.test.ts', 'test/builder/runner.test.ts', 'test/builder/registry-secrets.test.ts'],
  },
});
