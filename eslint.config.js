// ESLint flat config: typescript-eslint's recommended type-checked rules over the whole repository.
// A rule is turned off here only for a whole folder or file, with the reason beside it; single exceptions are
// `// eslint-disable-next-line rule -- reason` in the code.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { layersPlugin } from './eslint/layers.mjs';

// The rules that follow an `any` value through the code.
const UNSAFE_ANY = {
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
};

export default defineConfig(
  {
    // Build output, coverage, the rig's scratch directory. The benchmarks write only docs/benchmarks/ (not linted)
    // and temporary directories outside the repository.
    ignores: ['dist/', 'pkg/', 'coverage/', '.rig/'],
  },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A leading underscore marks a binding kept on purpose: a rest sibling that drops a key, a placeholder argument.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // reject(x) is judged as `throw x` is (only-throw-error's defaults): passing on an AbortSignal's reason or another
      // promise's rejection, both typed any, is the convention; rejecting with a literal non-Error is still reported.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // The layers of src/ (docs/architecture.md, Layers): imports go down, and no chain of imports comes back. A local
    // plugin of two rules (eslint/layers.mjs) rather than a dependency: the rules need the project's own layer list.
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    plugins: { layers: layersPlugin(import.meta.dirname) },
    rules: { 'layers/direction': 'error', 'layers/no-cycle': 'error' },
  },
  {
    // The plain JavaScript files (bin shim, build script, bench loader hooks, test loader hooks, this config) are in
    // no tsconfig and carry no types: lint them without type information, as Node modules.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
  },
  {
    // The adapters over the generated (gax) Compute clients type them as `Any` on purpose (declared once, with its own
    // disable comment): the generated types add nothing there, and what they return is the project's own types.
    files: ['src/gcp/compute.ts', 'src/gcp/inventory.ts'],
    rules: UNSAFE_ANY,
  },
  {
    // The emulator and the tests that drive the CLI against it read JSON off the wire (request bodies, --json events,
    // result.json) and assert on it with expect(); typing each body would only restate the assertions.
    files: ['test/emulator/**', 'test/integration/**', 'test/e2e/**'],
    rules: { ...UNSAFE_ANY, '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The emulator echoes back, as the API does, whatever value a client sent in a field it rejects; those values are
    // `unknown` JSON and String() is the echo (an object showing as [object Object] is fine in an error message).
    files: ['test/emulator/**'],
    rules: { '@typescript-eslint/no-base-to-string': 'off' },
  },
);
