// The on-VM stage on the rig (docs/benchmarks.md, section 4): the agent beside a model of the Go tool's script
// (lib/go-model.sh), on a multi-image build (images sharing a base, as ML images do) and a single large image, on a
// disk-bound data disk (lib/honest-disk.ts) and on the page cache, alternating in rounds. Writes
// docs/benchmarks/on-vm.json and on-vm.md. Alone: `npm run bench -- bench/on-vm.ts` (GDIB_BENCH_ON_VM_ROUNDS, 3).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mount, unmount } from '../test/rig/disk.js';
import { OciLayout, type Layer } from '../test/rig/oci.js';
import { REPO, startRig, type Rig } from '../test/rig/rig.js';
import { runGoModel } from './lib/go-model.js';
import { describeMode, diskBoundUnavailable, pdSsd, type DiskMode } from './lib/honest-disk.js';
import { onVmUnavailable, realLayers, runBuild, type OnVmRun } from './lib/on-vm.js';
import { writeResult } from './lib/results.js';
import { summarize, table } from './lib/stats.js';

const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
const ROUNDS = n('GDIB_BENCH_ON_VM_ROUNDS', 3);
/** The disk the disk-bound mode models: a 200 GB pd-ssd (its rate, and mkfs writes what it writes on such a disk). */
const MODEL_GB = 200;
const log = (s: string) => console.log(`[bench] ${s}`);
const MB = (b: number) => (b / 1e6).toFixed(0);
const s1 = (v: number) => v.toFixed(1);

export interface Sample {
  wallSec: number;
  cpuSec: number;
  writtenBytes: number;
  bootWrittenBytes: number;
  /** Seconds per phase, a phase's stretches summed. */
  phases: Record<string, number>;
}

export interface Scenario {
  key: 'ml-disk' | 'ml-cache' | 'single-disk';
  title: string;
  images: { tag: string; layers: number; bytes: number; compressed: number }[];
  /** Distinct layers (snapshots) and their unpacked bytes. */
  snapshots: number;
  uniqueBytes: number;
  mode: DiskMode;
  samples: { go: Sample[]; ours: Sample[] };
  /** Both wrote the same chain IDs with the same checksums (first round). */
  checksumsAgree?: boolean;
}

const layerBytes = (l: Layer) => l.entries.reduce((a, e) => a + (e.type === 'file' ? (e.content?.length ?? 0) : 0), 0);

/** Pushes `images` (tag → layers) to the rig's open registry; returns their sizes. */
async function push(rig: Rig, name: string, images: [string, Layer[]][]): Promise<Scenario['images']> {
  const dir = join(rig.dir, `layout-${name}`);
  const layout = new OciLayout(dir);
  for (const [tag, layers] of images) layout.addImage(tag, { layers });
  layout.close();
  const json = (d: string) => JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8')) as { layers: { size: number }[] };
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  const out: Scenario['images'] = [];
  for (const [tag, layers] of images) {
    await rig.open.push(dir, tag, REPO);
    const m = index.manifests.find((x) => x.annotations['org.opencontainers.image.ref.name'] === tag)!;
    out.push({
      tag,
      layers: layers.length,
      bytes: layers.reduce((a, l) => a + layerBytes(l), 0),
      compressed: json(m.digest).layers.reduce((a, l) => a + l.size, 0),
    });
  }
  return out;
}

/** The chain IDs and checksums a built disk lists in snapshots.metadata, sorted. */
async function checksumsOf(r: OnVmRun): Promise<string> {
  const dir = join(r.runDir, 'inspect');
  mkdirSync(dir, { recursive: true });
  await mount(r.disk.device, dir, { options: 'ro,noload' });
  try {
    const lines = readFileSync(join(dir, 'snapshots.metadata'), 'utf8').trim().split('\n');
    return lines
      .map((l) => `${l.split(' ')[0]} ${l.split(' ')[2]}`)
      .sort()
      .join('\n');
  } finally {
    await unmount(dir);
  }
}

/** Detaches a run's disks and deletes their files: a 200 GB sparse file formatted the Go tool's way holds 4 GB. */
async function discard(r: OnVmRun): Promise<void> {
  await r.disk.detach();
  rmSync(r.disk.file, { force: true });
  rmSync(join(r.runDir, 'boot.img'), { force: true });
}

function scenarioTables(sc: Scenario): string[] {
  const wall = (who: 'go' | 'ours') => summarize(sc.samples[who].map((x) => x.wallSec));
  const med = (who: 'go' | 'ours', f: (x: Sample) => number) => summarize(sc.samples[who].map(f)).median;
  const name = { go: "the Go tool's script (model)", ours: 'the agent' };
  const phases = (who: 'go' | 'ours') => {
    // The phases of the median run.
    const sorted = [...sc.samples[who]].sort((a, b) => a.wallSec - b.wallSec);
    return Object.entries(sorted[Math.floor((sorted.length - 1) / 2)]!.phases)
      .map(([p, sec]) => `${p} ${s1(sec)}`)
      .join(', ');
  };
  const pulled = sc.images.reduce((a, i) => a + i.compressed, 0);
  return [
    `## ${sc.title}`,
    `${sc.images.map((i) => `${i.tag} (${i.layers} layers)`).join(', ')}; ${sc.snapshots} distinct layers, ${MB(sc.uniqueBytes)} MB unpacked, ${MB(pulled)} MB pulled; ` +
      `${describeMode(sc.mode)}; ${sc.samples.ours.length} rounds, alternating; same chain IDs and checksums from both: ${sc.checksumsAgree ? 'yes' : '**no**'}.`,
    table(
      [
        'run',
        'wall s (median)',
        'range',
        '× Go model',
        'CPU s',
        'MB to data disk',
        'MB to boot disk',
        'seconds per phase (the median run)',
      ],
      (['go', 'ours'] as const).map((who) => [
        name[who],
        s1(wall(who).median),
        `${s1(wall(who).min)}–${s1(wall(who).max)}`,
        (wall(who).median / wall('go').median).toFixed(2),
        s1(med(who, (x) => x.cpuSec)),
        MB(med(who, (x) => x.writtenBytes)),
        MB(med(who, (x) => x.bootWrittenBytes)),
        phases(who),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  ];
}

describe('the on-VM stage', () => {
  it("the agent and the Go tool's script, side by side", { timeout: 3_600_000 }, async () => {
    const why = onVmUnavailable() ?? diskBoundUnavailable();
    if (why) throw new Error(`the rig cannot run here: ${why}`);
    const layerMB = n('GDIB_BENCH_ML_LAYER_MB', 50);
    const rig = await startRig('on-vm');
    try {
      // Real files of this machine: a base of two layers shared by every image, and one layer of each image's own.
      const real = realLayers(2 + n('GDIB_BENCH_ML_IMAGES', 4), layerMB);
      const ml = await push(
        rig,
        'ml',
        real.slice(2).map((own, i): [string, Layer[]] => [`ml-${i + 1}`, [...real.slice(0, 2), own]]),
      );
      const single = await push(rig, 'single', [['single', realLayers(4, 2 * layerMB, ['/usr/share', '/usr/lib', '/usr/bin'])]]);
      const mlUnique = real.reduce((a, l) => a + layerBytes(l), 0);
      const scenario = (
        key: Scenario['key'],
        title: string,
        images: Scenario['images'],
        snapshots: number,
        uniqueBytes: number,
        mode: DiskMode,
      ): Scenario => ({
        key,
        title,
        images,
        snapshots,
        uniqueBytes,
        mode,
        samples: { go: [], ours: [] },
      });
      const scenarios = [
        scenario('ml-disk', `${ml.length} images sharing a base, disk-bound`, ml, real.length, mlUnique, pdSsd(MODEL_GB)),
        scenario('ml-cache', `${ml.length} images sharing a base, page cache`, ml, real.length, mlUnique, { kind: 'page-cache' }),
        scenario('single-disk', 'one large image, disk-bound', single, single[0]!.layers, single[0]!.bytes, pdSsd(MODEL_GB)),
      ];
      // The page-cache runs get a disk just large enough; the disk-bound ones the modelled disk itself (a sparse file).
      const cacheMiB = Math.max(1024, Math.ceil((2.5 * Math.max(mlUnique, single[0]!.bytes)) / 2 ** 20) + 256);
      for (let round = 0; round < ROUNDS; round++) {
        for (const sc of scenarios) {
          const runs: Partial<Record<'go' | 'ours', OnVmRun>> = {};
          try {
            // Alternating: each round starts with the other one.
            for (const who of round % 2 ? (['ours', 'go'] as const) : (['go', 'ours'] as const)) {
              const label = `${sc.key}-${who}-${round + 1}`;
              const refs = sc.images.map((i) => rig.ref(i.tag));
              const opts = { diskMiB: sc.mode.kind === 'page-cache' ? cacheMiB : MODEL_GB * 1024, mode: sc.mode };
              const r = (runs[who] = who === 'go' ? await runGoModel(rig, label, refs, opts) : await runBuild(rig, label, refs, opts));
              if (r.code !== 0) throw new Error(`${label}: exited ${r.code}:\n${r.output.slice(-3000)}`);
              sc.samples[who].push({
                wallSec: r.wallSec,
                cpuSec: r.cpuSec,
                writtenBytes: r.writtenBytes,
                bootWrittenBytes: r.bootWrittenBytes,
                phases: r.phases,
              });
              log(
                `${label}: ${s1(r.wallSec)} s, ${s1(r.cpuSec)} CPU s, ${MB(r.writtenBytes)} MB to the data disk, ${MB(r.bootWrittenBytes)} MB to the boot disk`,
              );
            }
            if (round === 0) sc.checksumsAgree = (await checksumsOf(runs.go!)) === (await checksumsOf(runs.ours!));
          } finally {
            for (const r of Object.values(runs)) await discard(r);
          }
        }
      }
      writeResult('on-vm', { rounds: ROUNDS, scenarios }, scenarios.flatMap(scenarioTables));
      expect(scenarios.every((s) => s.checksumsAgree)).toBe(true);
    } finally {
      await rig.close();
    }
  });
});
