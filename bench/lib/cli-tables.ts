// The tables of bench/cli.ts, from its figures: CLI latency, API economy, detection, cost.
import type { ApiEconomy, Detection } from './api-economy.js';
import type { LatencyResult } from './cli-latency.js';
import type { CostResult, Life } from './cost.js';
import { summarize, table } from './stats.js';

/**
 * List prices, us-central1 — assumptions for the dollar rows only (check the current price list): n2-standard-16 on
 * demand 16 vCPU × $0.031611/h + 64 GB × $0.004237/h, Spot 16 × $0.00762/h + 64 × $0.00102/h (as of 2026-11-30, no
 * preemption); pd-ssd $0.17 and pd-balanced $0.10 per GB-month (730 h).
 */
export const PRICE = {
  vmPerHour: 16 * 0.031611 + 64 * 0.004237,
  spotVmPerHour: 16 * 0.00762 + 64 * 0.00102,
  gbMonth: { 'pd-ssd': 0.17, 'pd-balanced': 0.1 } as Record<string, number>,
};

const f1 = (v: number) => v.toFixed(1);
const ms = (v: number) => v.toFixed(0);

export interface CliFigures {
  latency: LatencyResult;
  economy: ApiEconomy;
  detections: Detection[];
  costs: CostResult;
}

export function cliTables(f: CliFigures): string[] {
  const { latency, economy, costs } = f;
  const node = latency.kinds.find((k) => k.key === 'node')!.summary.median;
  const det = summarize(f.detections.map((d) => d.delaySec));
  const price = (l: Life, spot = false) =>
    l.resource === 'VM'
      ? (l.minutes / 60) * (spot ? PRICE.spotVmPerHour : PRICE.vmPerHour)
      : (l.gbMinutes / (730 * 60)) * (PRICE.gbMonth[l.type] ?? 0);
  const sum = (ls: Life[], fn: (l: Life) => number) => ls.reduce((a, l) => a + fn(l), 0);
  const diskGbMin = (ls: Life[]) =>
    sum(
      ls.filter((l) => l.resource !== 'VM'),
      (l) => l.gbMinutes,
    );
  const vmMin = (ls: Life[]) => ls.find((l) => l.resource === 'VM')!.minutes;
  return [
    `## CLI latency (ms, ${latency.runs} runs each; \`node -e 0\` in the same runs: ${ms(node)} ms)`,
    table(
      ['invocation', 'what', 'median', 'min', 'max', 'minus node -e 0'],
      latency.kinds.map((k) => [k.label, k.what, ms(k.summary.median), ms(k.summary.min), ms(k.summary.max), ms(k.summary.median - node)]),
      ['l', 'l', 'r', 'r', 'r', 'r'],
    ),
    `Whole build against the emulator (VM answers at once), ${latency.fullBuild.samples.length} runs: median ${ms(latency.fullBuild.summary.median)} ms; ` +
      `requests of one build: ${Object.entries(latency.fullBuild.byKind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
    `## API economy while the VM works (${f1(economy.vmPhaseSec / 60)} simulated minutes, time scale k = ${economy.k})`,
    table(
      ['requests', 'per minute (average)', 'most in any 60 s'],
      [
        ['compute (all)', f1(economy.perMinute.compute), String(economy.slidingMax.compute)],
        ['guest-attribute reads', f1(economy.perMinute.guest), String(economy.slidingMax.guest)],
        ['serial-port reads', f1(economy.perMinute.serial), String(economy.slidingMax.serial)],
      ],
      ['l', 'r', 'r'],
    ),
    `Serial reads: median gap ${f1(economy.serialGaps.flowing?.median ?? NaN)} s while output flows, ${f1(economy.serialGaps.quiet?.median ?? NaN)} s ` +
      `(max ${f1(economy.serialGaps.quiet?.max ?? NaN)} s) while the VM is quiet. Detection (the VM's \`succeeded\` → the next step's first request), ` +
      `${f.detections.length} builds: median ${f1(det.median)} s, max ${f1(det.max)} s (simulated).`,
    `## Cost of a build (\`--disk-size-gb=${costs.diskSizeGb}\`; this tool measured, the Go tool's order computed from the same durations)`,
    table(
      ['resource', 'this tool: minutes', 'GB·min', "Go tool's order: minutes", 'GB·min'],
      costs.ours.map((o, i) => [
        `${o.resource} (${o.type}, ${o.sizeGb} GB)`,
        f1(o.minutes),
        f1(o.gbMinutes),
        f1(costs.go[i]!.minutes),
        f1(costs.go[i]!.gbMinutes),
      ]),
      ['l', 'r', 'r', 'r', 'r'],
    ),
    table(
      ['per build', 'this tool', 'Go tool', 'this tool, --spot'],
      [
        ['VM minutes', f1(vmMin(costs.ours)), f1(vmMin(costs.go)), f1(vmMin(costs.ours))],
        ['disk GB·minutes', f1(diskGbMin(costs.ours)), f1(diskGbMin(costs.go)), f1(diskGbMin(costs.ours))],
        ['image exists at (min)', f1(costs.imageReadyMin.ours), f1(costs.imageReadyMin.go), f1(costs.imageReadyMin.ours)],
        ['last temporary resource gone at (min)', f1(costs.finishedMin.ours), f1(costs.finishedMin.go), f1(costs.finishedMin.ours)],
        [
          'list price of the temporary resources (assumed prices)',
          `$${sum(costs.ours, (l) => price(l)).toFixed(3)}`,
          `$${sum(costs.go, (l) => price(l)).toFixed(3)}`,
          `$${sum(costs.ours, (l) => price(l, true)).toFixed(3)}`,
        ],
      ],
      ['l', 'r', 'r', 'r'],
    ),
  ];
}
