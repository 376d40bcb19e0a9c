import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // An unhandled rejection is a bug in the code under test, never noise.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
