// Copies the non-TypeScript assets of src/ (the VM's bash bootstrap) next to the compiled code,
// so dist/ is self-contained and the published package runs from any directory.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function copy(dir) {
  for (const name of readdirSync(join('src', dir))) {
    const rel = join(dir, name);
    if (statSync(join('src', rel)).isDirectory()) copy(rel);
    else if (/\.(sh|json)$/.test(name)) cpSync(join('src', rel), join('dist', rel));
  }
}
copy('.');
