// The on-VM stage on the rig: the agent beside the Go tool's script (model),
// multi-image and single-image, disk-bound and page cache, each of the agent's overlaps toggled by its typed options,
// and mkfs on a 200 GB disk (bench/lib/overlap.ts). Writes docs/benchmarks/on-vm.json and on-vm.md (tables).
// Alone: `npm run bench -- bench/on-vm.ts` (GDIB_BENCH_OVERLAP_REPEATS rounds, default 3).
import { describe, expect, it } from 'vitest';
import { measureOverlap } from './lib/overlap.js';
import { overlapTables } from './lib/overlap-report.js';
import { writeResult } from './lib/results.js';

const log = (s: string) => console.log(`[bench] ${s}`);

describe('the on-VM stage', () => {
  it("the agent and the Go tool's script, side by side", { timeout: 3_600_000 }, async () => {
    const r = await measureOverlap(log);
    if ('skipped' in r) throw new Error(`the rig cannot run here: ${r.skipped}`);
    writeResult('on-vm', r, overlapTables(r));
    expect(r.scenarios.every((s) => s.checksumsAgree)).toBe(true);
  });
});
