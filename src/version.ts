// This package's version, read once from its package.json: src/ and dist/ both sit one level below it. Only
// node:fs, so --help and --version stay quick.
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
