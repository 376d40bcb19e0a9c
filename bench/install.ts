// The `installing` phase of a new VM on a fresh Debian 12 and 13 (bench/lib/install.ts): the bootstrap's package
// install with and without nodejs, and the Go tool's apt lines. Writes docs/benchmarks/install.json and install.md.
// Alone: `npm run bench -- bench/install.ts` (GDIB_BENCH_INSTALL_RUNS rounds, default 3).
import { describe, expect, it } from 'vitest';
import { installUnavailable, measureInstall, RELEASES, type InstallRun } from './lib/install.js';
import { writeResult } from './lib/results.js';
import { summarize, table } from './lib/stats.js';

const RUNS = Number(process.env.GDIB_BENCH_INSTALL_RUNS ?? 3);
const log = (s: string) => console.log(`[bench] ${s}`);

export function installTables(runs: InstallRun[]): string[] {
  const rows: string[][] = [];
  for (const release of RELEASES) {
    for (const variant of ['bootstrap', 'bootstrap-without-node', 'go'] as const) {
      const xs = runs.filter((r) => r.release === release && r.variant === variant);
      if (xs.length === 0) continue;
      const inst = summarize(xs.map((x) => x.installSec));
      const agent = xs.every((x) => x.agentSec !== undefined) ? summarize(xs.map((x) => x.agentSec!)) : undefined;
      rows.push([
        release,
        variant,
        xs[0]!.packages,
        `${inst.median.toFixed(1)} (${inst.min.toFixed(1)}–${inst.max.toFixed(1)})`,
        agent ? agent.median.toFixed(1) : '',
        String(xs[0]!.newlyInstalled),
        xs[0]!.fetchedMB.toFixed(1),
        xs[0]!.node ?? '',
      ]);
    }
  }
  return [
    table(
      [
        'Debian',
        'sequence',
        'packages asked for',
        'install s, median (range)',
        'agent started at, s',
        'packages installed',
        'MB fetched',
        'Node',
      ],
      rows,
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'l'],
    ),
  ];
}

describe('the installing phase', () => {
  it(
    'the bootstrap on a fresh Debian 12 and 13, with and without nodejs, and the Go tool’s apt lines',
    { timeout: 3_600_000 },
    async () => {
      const why = await installUnavailable();
      if (why) throw new Error(`cannot run here: ${why}`);
      const runs = await measureInstall(RUNS, log);
      writeResult('install', runs, installTables(runs));
      expect(runs.filter((r) => r.variant === 'bootstrap').every((r) => r.node)).toBe(true);
    },
  );
});
