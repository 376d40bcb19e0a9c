// The CLI against the emulator: latency of --help, invalid input and a build's first request; the API economy of a
// 10-minute VM phase (scaled); detection delay; the cost of a build beside the Go tool's order. Writes
// docs/benchmarks/cli.json and cli.md. Alone: `npm run bench -- bench/cli.ts` (GDIB_BENCH_RUNS, GDIB_BENCH_K).
import { describe, expect, it } from 'vitest';
import { apiEconomy, detectionSec } from './lib/api-economy.js';
import { LATENCY_KINDS, measureCliLatency, type LatencyKey } from './lib/cli-latency.js';
import { cost, type Life } from './lib/cost.js';
import { writeResult } from './lib/results.js';
import { summarize, table } from './lib/stats.js';
import { quietVm, scriptedBuild, tenMinuteVm } from './lib/vm-phase.js';

const RUNS = Number(process.env.GDIB_BENCH_RUNS ?? 15);
/** Time scale of the simulated VM phase: 10 simulated minutes take 10/K real minutes. */
const K = Number(process.env.GDIB_BENCH_K ?? 20);
const DISK_GB = 200;
/** Simulated seconds GCE takes to act on each call (assumed). */
const CALL_DELAYS = {
  'disks.insert': 5,
  'instances.insert': 25,
  'instances.detachDisk': 5,
  'instances.delete': 40,
  'images.insert': 300,
  'disks.delete': 5,
};
/**
 * List prices, us-central1, assumed for the dollar row only (check the current price list): n2-standard-16 on demand
 * 16 vCPU × $0.031611/h + 64 GB × $0.004237/h, Spot 16 × $0.00762/h + 64 × $0.00102/h (as of 2026-11-30, no
 * preemption); pd-ssd $0.17 and pd-balanced $0.10 per GB-month (730 h).
 */
const PRICE = {
  vmPerHour: 16 * 0.031611 + 64 * 0.004237,
  spotVmPerHour: 16 * 0.00762 + 64 * 0.00102,
  gbMonth: { 'pd-ssd': 0.17, 'pd-balanced': 0.1 },
};
const log = (s: string) => console.log(`[bench] ${s}`);
const f1 = (v: number) => v.toFixed(1);

describe('the CLI', () => {
  it('latency, API economy, detection and cost', { timeout: 1_800_000 }, async () => {
    const latency = await measureCliLatency(RUNS, 3, log);
    expect(Object.values(latency.kinds).every((k) => k.samples.length === RUNS)).toBe(true);
    const script = tenMinuteVm();
    const b = await scriptedBuild({
      k: K,
      events: script.events,
      imageName: 'bench-reference',
      extraArgs: [`--disk-size-gb=${DISK_GB}`],
      callDelays: CALL_DELAYS,
    });
    const economy = apiEconomy(b, script.sections);
    const costs = cost(b, DISK_GB, 'pd-ssd');
    // Builds whose VM succeeds at different points of the polling cycle.
    const detections = [detectionSec(b)];
    for (const [i, off] of [0.5, 1.5, 2.5, 3.5, 4.5, 5.5].entries())
      detections.push(detectionSec(await scriptedBuild({ k: K, events: quietVm(2, 30 + off), imageName: `bench-detect-${i}` })));

    const node = latency.kinds.node.summary.median;
    const det = summarize(detections);
    const price = (l: Life, spot = false) =>
      l.resource === 'VM'
        ? (l.minutes / 60) * (spot ? PRICE.spotVmPerHour : PRICE.vmPerHour)
        : (l.sizeGb * l.minutes * (PRICE.gbMonth[l.type as 'pd-ssd'] ?? 0)) / (730 * 60);
    const total = (ls: Life[], fn: (l: Life) => number) => ls.reduce((a, l) => a + fn(l), 0);
    const diskGbMin = (l: Life) => (l.resource === 'VM' ? 0 : l.sizeGb * l.minutes);
    const vmMin = (ls: Life[]) => ls.find((l) => l.resource === 'VM')!.minutes;
    const { ours, go } = costs;
    writeResult('cli', { latency, economy, detections, costs }, [
      `## CLI latency (ms, ${RUNS} runs each, interleaved)`,
      table(
        ['invocation', 'median', 'min', 'max', 'minus `node -e 0`'],
        (Object.keys(LATENCY_KINDS) as LatencyKey[]).map((k) => {
          const s = latency.kinds[k].summary;
          return [LATENCY_KINDS[k], s.median.toFixed(0), s.min.toFixed(0), s.max.toFixed(0), (s.median - node).toFixed(0)];
        }),
      ),
      `Whole build against the emulator (the VM done at once), 3 runs: median ${latency.fullBuild.summary.median.toFixed(0)} ms; requests of one build: ${Object.entries(
        latency.fullBuild.byKind,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
      `## API economy while the VM works (${f1(economy.vmPhaseSec / 60)} simulated minutes, time scale k = ${economy.k})`,
      table(
        ['requests', 'per minute (average)', 'most in any 60 s'],
        (['compute', 'guest', 'serial'] as const).map((c) => [c, f1(economy.perMinute[c]), economy.mostIn60s[c]]),
      ),
      `Serial reads: median gap ${f1(economy.serialGaps.flowing.median)} s while output flows, ${f1(economy.serialGaps.quiet.median)} s ` +
        `(max ${f1(economy.serialGaps.quiet.max)} s) while the VM is quiet. Detection (the VM's \`succeeded\` → the next step's first request), ` +
        `${detections.length} builds: median ${f1(det.median)} s, max ${f1(det.max)} s (simulated).`,
      `## Cost of a build (\`--disk-size-gb=${DISK_GB}\`; this tool measured, the Go tool's order computed from the same durations)`,
      table(
        ['resource', 'this tool: minutes', "Go tool's order: minutes"],
        ours.map((o, i) => [o.resource, ...[o, go[i]!].map((l) => `${f1(l.minutes)}${l.type ? ` (${l.type}, ${l.sizeGb} GB)` : ''}`)]),
      ),
      table(
        ['per build', 'this tool', 'Go tool', 'this tool, --spot'],
        [
          ['VM minutes', f1(vmMin(ours)), f1(vmMin(go)), f1(vmMin(ours))],
          ['disk GB·minutes', f1(total(ours, diskGbMin)), f1(total(go, diskGbMin)), f1(total(ours, diskGbMin))],
          ['image exists at (min)', f1(costs.imageReadyMin.ours), f1(costs.imageReadyMin.go), f1(costs.imageReadyMin.ours)],
          ['last temporary resource gone at (min)', f1(costs.finishedMin.ours), f1(costs.finishedMin.go), f1(costs.finishedMin.ours)],
          [
            'list price (assumed prices)',
            ...[total(ours, (l) => price(l)), total(go, (l) => price(l)), total(ours, (l) => price(l, true))].map(
              (d) => `$${d.toFixed(3)}`,
            ),
          ],
        ],
      ),
    ]);
  });
});
