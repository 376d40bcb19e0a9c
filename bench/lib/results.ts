// Where the benchmarks put what they measure: docs/benchmarks/<name>.json (the figures) and <name>.md (tables made
// from them). docs/benchmarks.md, written by hand, cites these.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './child.js';
import { machine } from './machine.js';

export const RESULTS = join(ROOT, 'docs/benchmarks');

export function writeResult(name: string, data: unknown, tables: string[]): void {
  mkdirSync(RESULTS, { recursive: true });
  const m = machine();
  const at = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const about = `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}`;
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify({ at, machine: about, data }, null, 1)}\n`);
  writeFileSync(
    join(RESULTS, `${name}.md`),
    `# ${name}\n\n_Written by \`npm run bench -- bench/${name}.ts\` on ${at} UTC (${about}); the figures are in ${name}.json._\n\n${tables.join('\n\n')}\n`,
  );
  console.log(`[bench] wrote docs/benchmarks/${name}.json and ${name}.md`);
}
