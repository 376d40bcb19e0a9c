// `npm run bench` — every benchmark behind docs/benchmarks.md §1–§6 (CLI latency, client loading, API economy, cost, the on-VM
// stage, the figures of the time model) on this machine, in order, then
// docs/benchmarks.md written from the figures. Benchmarks print figures and never fail on timing; they fail only
// when something is broken (a wrong exit code, a build that fails or leaves a resource behind).
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiEconomy, detectionOf, type ApiEconomy, type Detection } from './lib/api-economy.js';
import { ROOT } from './lib/child.js';
import { measureCliLatency, measureImportCosts, type ImportCosts, type LatencyResult } from './lib/cli-latency.js';
import { cost, type CostResult } from './lib/cost.js';
import { loadNow, machine } from './lib/machine.js';
import { howToRerun, report } from './lib/report.js';
import { figuresOf, measureOnVm, onVmSection, type OnVmResult } from './lib/on-vm-section.js';
import { installUnavailable, measureInstall, type InstallBench } from './lib/install.js';
import { incrementalFigures, measureIncremental, spliceIncremental, type IncrementalResult } from './lib/incremental.js';
import { measureOverlap, type OverlapResult } from './lib/overlap.js';
import { overlapBlocks } from './lib/overlap-report.js';
import { quietVm, scriptedBuild, tenMinuteVm, type ScriptSection } from './lib/vm-phase.js';
import { npmInstallBlock, spliceNpmInstall } from './lib/npm-install.js';

const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
/** Runs per CLI invocation kind. */
const RUNS = env('GDIB_BENCH_RUNS', 15);
/** Time scale of the simulated VM phase: 10 simulated minutes take 10/K real minutes. */
const K = env('GDIB_BENCH_K', 20);
const DISK_GB = 200;
/** Simulated seconds GCE takes to act on each call (an assumption, see docs/benchmarks.md). */
const CALL_DELAYS: Record<string, number> = {
  'disks.insert': 5,
  'instances.insert': 25,
  'instances.detachDisk': 5,
  'instances.delete': 40,
  'images.insert': 300,
  'disks.delete': 5,
};
const DETECTION_OFFSETS = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5];

const log = (s: string) => console.log(`[bench] ${s}`);
const OVERLAP_START = '<!-- multi-image: begin -->';
const OVERLAP_END = '<!-- multi-image: end -->';

describe.sequential('benchmarks', () => {
  const m = machine();
  const startedAt = new Date();
  let latency: LatencyResult | undefined;
  let imports: ImportCosts | undefined;
  let sections: ScriptSection[] = [];
  let economy: ApiEconomy | undefined;
  let costs: CostResult | undefined;
  const detections: Detection[] = [];
  let onVm: OnVmResult | undefined;
  let install: InstallBench | { skipped: string } | undefined;
  let incremental: IncrementalResult | undefined;
  let overlap: OverlapResult | { skipped: string } | undefined;

  it('CLI latency and client loading (built CLI, child processes)', async () => {
    latency = await measureCliLatency({ runs: RUNS, fullBuilds: 3, log });
    expect(latency.kinds.every((k) => k.samples.length === RUNS)).toBe(true);
    imports = await measureImportCosts({ lightRuns: 5, heavyRuns: 3 });
    log(`imports: ${JSON.stringify(imports)}`);
  });

  it('a 10-minute VM phase, scaled: API economy and cost', async () => {
    const script = tenMinuteVm();
    sections = script.sections;
    const b = await scriptedBuild({
      k: K,
      events: script.events,
      imageName: 'bench-reference',
      extraArgs: [`--disk-size-gb=${DISK_GB}`],
      callDelays: CALL_DELAYS,
    });
    economy = apiEconomy(b, script.sections);
    costs = cost(b, { diskSizeGb: DISK_GB, diskType: 'pd-ssd', callDelays: CALL_DELAYS });
    detections.push(economy.detection);
    log(
      `VM phase ${economy.vmPhaseSec.toFixed(0)} simulated s; compute ${economy.perMinute.compute.toFixed(1)}/min (max ${economy.slidingMax.compute} in any 60 s), guest attributes max ${economy.slidingMax.guest}/60 s`,
    );
    log(
      `detection delay ${economy.detection.delaySec.toFixed(1)} simulated s; VM lived ${costs.ours[2]!.minutes.toFixed(1)} min (Go order: ${costs.go[2]!.minutes.toFixed(1)})`,
    );
  });

  it('detection delay: the VM succeeds at different moments of the polling cycle', async () => {
    for (const [i, off] of DETECTION_OFFSETS.entries()) {
      const b = await scriptedBuild({ k: K, events: quietVm(2, 30 + off), imageName: `bench-detect-${i}` });
      const d = detectionOf(b);
      detections.push(d);
      log(
        `succeeded at ${d.succeededAtSec.toFixed(1)} s: next step ${d.delaySec.toFixed(1)} s later (poll wait ${d.pollWaitSec.toFixed(1)} s)`,
      );
    }
  });

  it('the on-VM stage on the rig (§5): phases, optimisations toggled, --local vs the VM path', { timeout: 420_000 }, async () => {
    onVm = await measureOnVm(log);
    if ('skipped' in onVm) log(`§5 skipped: ${onVm.skipped}`);
  });

  // Alone: `npm run build && npx vitest run --config bench/vitest.config.ts -t multi-image` (rewrites only its part of §5).
  it("the multi-image build on a disk-bound disk, beside the Go tool's script (§5)", { timeout: 1_200_000 }, async () => {
    overlap = await measureOverlap(log);
    // The figures themselves, for a look at what the document summarises.
    writeFileSync(join(tmpdir(), 'gdib-bench-multi-image.json'), JSON.stringify(overlap, null, 1));
    if ('skipped' in overlap) log(`overlap skipped: ${overlap.skipped}`);
  });

  it('the package installation on a fresh Debian 12, this tool vs the Go tool (§5, §6)', { timeout: 900_000 }, async () => {
    const why = installUnavailable();
    if (why) {
      install = { skipped: why };
      log(`install skipped: ${why}`);
      return;
    }
    install = await measureInstall(log);
    expect(install.ours.wallSec.length).toBeGreaterThan(0);
  });

  // Runs alone with `npm run bench -- -t incremental` (then only its section of docs/benchmarks.md is rewritten).
  it(
    'incremental rebuilds on the rig: a fresh build vs a rebuild on the previous image (one top layer changed)',
    { timeout: 900_000 },
    async () => {
      incremental = await measureIncremental(log);
      if ('skipped' in incremental) log(`incremental skipped: ${incremental.skipped}`);
    },
  );

  afterAll(() => {
    const machineLine = `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}`;
    const file = join(ROOT, 'docs/benchmarks.md');
    const doc = file;
    const previous = readFileSync(file, 'utf8');
    const overlapMd = `${OVERLAP_START}\n${overlapBlocks(overlap).join('\n\n')}\n${OVERLAP_END}`;
    if (overlap && !latency) {
      // Only this part ran (a -t filter): it replaces its own part of §5 and nothing else.
      const old = incremental ? spliceIncremental(previous, incrementalFigures(incremental, machineLine)) : previous;
      const at = new RegExp(`${OVERLAP_START}[\\s\\S]*?${OVERLAP_END}`);
      const stamp = `_The part between these markers was rewritten alone on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (the rest of the document is from the run named at the top)._`;
      const block = overlapMd.replace(`${OVERLAP_START}\n`, `${OVERLAP_START}\n${stamp}\n\n`);
      const spliced = at.test(old) ? old.replace(at, () => block) : old.replace(/^## 6\. /m, () => `${block}\n\n## 6. `);
      writeFileSync(
        doc,
        spliced.replace(/^## How to rerun[\s\S]*$/m, () => `${howToRerun().join('\n\n')}\n`),
      );
      log('wrote the multi-image part of docs/benchmarks.md §5');
      return;
    }
    if (!latency || !imports || !economy || !costs || detections.length < 1 + DETECTION_OFFSETS.length) {
      if (incremental) {
        writeFileSync(file, spliceIncremental(previous, incrementalFigures(incremental, machineLine)));
        log('only the incremental benchmark ran: wrote its section of docs/benchmarks.md');
        return;
      }
      log('a benchmark did not finish: docs/benchmarks.md is left as it was');
      return;
    }
    m.loadEnd = loadNow();
    const figures = figuresOf(onVm, install);
    const md = report({
      machine: m,
      date: startedAt,
      latency,
      imports,
      economy,
      costs,
      detections,
      sections,
      k: K,
      ...(figures ? { onVm: figures } : {}),
    }).replace(/^## 5\. [\s\S]*?(?=^## 6\. )/m, () => `${onVmSection(onVm, machineLine, install).join('\n\n')}\n\n${overlapMd}\n\n`);
    // §8 is written by bench/npm-install.ts; a rewrite of the rest keeps it.
    const npmBlock = npmInstallBlock(previous);
    const rewritten = spliceIncremental(md, incrementalFigures(incremental, machineLine), previous);
    writeFileSync(file, npmBlock ? spliceNpmInstall(rewritten, npmBlock) : rewritten);
    log(`wrote docs/benchmarks.md (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);
  });
});
