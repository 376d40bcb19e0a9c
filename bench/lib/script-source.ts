// The previous release's bash VM scripts (bench/legacy/), kept for the benchmark's side-by-side with the agent only.
import { readFileSync } from 'node:fs';

export const scriptSource = (name: 'common.sh' | 'build.sh'): string => readFileSync(new URL(`../legacy/${name}`, import.meta.url), 'utf8');

/** A shell function of common.sh (one-line `name() { …; }` or multi-line up to its closing `}`), as source. */
export function commonFunction(name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{(?:.*\\}$|\\n[\\s\\S]*?^\\}$)`, 'm').exec(scriptSource('common.sh'));
  if (!m) throw new Error(`${name}() not found in bench/legacy/common.sh`);
  return m[0];
}

/** The command → package table that install_missing reads (a top-level `declare -rA GDIB_PACKAGE_OF=(...)`). */
export function commonPackageTable(): string {
  const m = /^declare -rA GDIB_PACKAGE_OF=\([\s\S]*?^\)$/m.exec(scriptSource('common.sh'));
  if (!m) throw new Error('GDIB_PACKAGE_OF not found in bench/legacy/common.sh');
  return m[0];
}
