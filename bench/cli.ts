// The CLI against the emulator: latency of --help, invalid input and a build's first request (and what each loads); the API
// economy of a 10-minute VM phase (scaled); detection delay; the cost of a build beside the Go tool's order.
// Writes docs/benchmarks/cli.json and cli.md. Alone: `npm run bench -- bench/cli.ts` (GDIB_BENCH_RUNS, GDIB_BENCH_K).
import { describe, expect, it } from 'vitest';
import { apiEconomy, detectionOf } from './lib/api-economy.js';
import { cliTables } from './lib/cli-tables.js';
import { measureCliLatency } from './lib/cli-latency.js';
import { cost } from './lib/cost.js';
import { writeResult } from './lib/results.js';
import { quietVm, scriptedBuild, tenMinuteVm } from './lib/vm-phase.js';

const RUNS = Number(process.env.GDIB_BENCH_RUNS ?? 15);
/** Time scale of the simulated VM phase: 10 simulated minutes take 10/K real minutes. */
const K = Number(process.env.GDIB_BENCH_K ?? 20);
const DISK_GB = 200;
/** Simulated seconds GCE takes to act on each call (assumed). */
const CALL_DELAYS: Record<string, number> = {
  'disks.insert': 5,
  'instances.insert': 25,
  'instances.detachDisk': 5,
  'instances.delete': 40,
  'images.insert': 300,
  'disks.delete': 5,
};
const log = (s: string) => console.log(`[bench] ${s}`);

describe('the CLI', () => {
  it('latency, API economy, detection and cost', { timeout: 1_800_000 }, async () => {
    const latency = await measureCliLatency({ runs: RUNS, fullBuilds: 3, log });
    expect(latency.kinds.every((k) => k.samples.length === RUNS)).toBe(true);
    const script = tenMinuteVm();
    const b = await scriptedBuild({
      k: K,
      events: script.events,
      imageName: 'bench-reference',
      extraArgs: [`--disk-size-gb=${DISK_GB}`],
      callDelays: CALL_DELAYS,
    });
    const economy = apiEconomy(b, script.sections);
    const costs = cost(b, { diskSizeGb: DISK_GB, diskType: 'pd-ssd', callDelays: CALL_DELAYS });
    const detections = [economy.detection];
    for (const [i, off] of [0.5, 1.5, 2.5, 3.5, 4.5, 5.5].entries()) {
      detections.push(detectionOf(await scriptedBuild({ k: K, events: quietVm(2, 30 + off), imageName: `bench-detect-${i}` })));
    }
    const figures = { latency, economy, detections, costs };
    writeResult('cli', figures, cliTables(figures));
  });
});
