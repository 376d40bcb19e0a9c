// Where the benchmarks put what they measure: docs/benchmarks/<name>.json (the figures) and <name>.md (tables made
// from them), each headed by the machine it ran on. docs/benchmarks.md, written by hand, cites these.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './child.js';

export const RESULTS = join(ROOT, 'docs/benchmarks');

/** The 1-minute load average: other work on the machine skews wall times (not CPU seconds or bytes). */
export const loadNow = (): number => os.loadavg()[0]!;

function machine(): string {
  const release = existsSync('/etc/os-release')
    ? /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]
    : undefined;
  const gb = (os.totalmem() / 2 ** 30).toFixed(1);
  return `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${gb} GB, ${release ?? os.type()} (${os.release()}, ${os.arch()}), Node ${process.version}`;
}

export function writeResult(name: string, data: unknown, tables: string[]): void {
  mkdirSync(RESULTS, { recursive: true });
  const at = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const about = `${machine()}; load average ${loadNow().toFixed(1)} at the end`;
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify({ at, machine: about, data }, null, 1)}\n`);
  writeFileSync(
    join(RESULTS, `${name}.md`),
    `# ${name}\n\n_Written by \`npm run bench -- bench/${name}.ts\` on ${at} UTC (${about}); the figures are in ${name}.json._\n\n${tables.join('\n\n')}\n`,
  );
  console.log(`[bench] wrote docs/benchmarks/${name}.json and ${name}.md`);
}
