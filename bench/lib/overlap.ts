// The on-VM stage (docs/benchmarks.md, section 4): a multi-image build (images sharing a base, as ML images do) and a
// single large image, built by the agent and by a model of the Go tool's script (go-model.sh), on a disk-bound data
// disk (honest-disk.ts) and on the page cache, alternating; each of the agent's overlaps toggled off by its typed
// options; and mkfs's inode tables, written or not, on a 200 GB disk.
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LoopDisk, mount, unmount } from '../../test/rig/disk.js';
import { OciLayout, type Layer } from '../../test/rig/oci.js';
import { run } from '../../test/rig/proc.js';
import { REPO, startRig, type Rig } from '../../test/rig/rig.js';
import type { AgentOptions } from '../../src/vm/agent/context.js';
import { runGoModel } from './go-model.js';
import { applyDiskMode, describeMode, diskBoundUnavailable, pdSsd, type DiskMode } from './honest-disk.js';
import { onVmUnavailable, realLayers, runBuild, sectorsWritten, type OnVmRun } from './on-vm.js';
import { summarize } from './stats.js';

const MB = 1e6;
/** The disk size the disk-bound mode models (GB of pd-ssd), and so its rate. */
export const MODEL_GB = 200;

/** A variant of the on-VM stage: the Go tool's model, or the agent with typed options. */
export interface Variant {
  key: string;
  label: string;
  run: 'go' | 'agent';
  agent?: AgentOptions;
}

export const VARIANTS: Variant[] = [
  { key: 'go', label: "the Go tool's script (model)", run: 'go' },
  { key: 'ours', label: 'the agent (as shipped)', run: 'agent' },
  { key: 'serial-pulls', label: 'the agent, one image at a time', run: 'agent', agent: { pullJobs: 1 } },
  { key: 'late-checksums', label: 'the agent, checksums after the last pull', run: 'agent', agent: { checksumOverlap: false } },
  { key: 'late-flush', label: 'the agent, unpacked files written out only at the end', run: 'agent', agent: { flushOverlap: false } },
  {
    key: 'first-with-others',
    label: 'the agent, the first image pulled with the next ones',
    run: 'agent',
    agent: { firstPullAlone: false },
  },
];

export interface Sample {
  wallSec: number;
  cpuSec: number;
  writtenBytes: number;
  bootWrittenBytes: number;
  phases: { phase: string; sec: number }[];
}

export interface Series {
  variant: string;
  samples: Sample[];
}

export interface Scenario {
  key: string;
  title: string;
  images: { tag: string; layers: number; bytes: number; compressed: number }[];
  /** Distinct layers (snapshots) and their unpacked bytes. */
  snapshots: number;
  uniqueBytes: number;
  mode: DiskMode;
  series: Series[];
  /** Both tools wrote the same chain IDs with the same checksums (first round). */
  checksumsAgree?: boolean;
}

export interface MkfsRun {
  /** lazy_itable_init=1: the inode tables are not written. */
  lazyItable: boolean;
  /** lazy_journal_init=1: the journal is not zeroed. */
  lazyJournal: boolean;
  sec: number;
  writtenBytes: number;
  /** Seconds at the modelled disk's rate (the bytes written / its MiB/s). */
  atRateSec: number;
}

export interface OverlapResult {
  machine: { cpus: number; pullJobs: number };
  rounds: number;
  scenarios: Scenario[];
  mkfs: { gb: number; mibPerSec: number; runs: MkfsRun[]; fsckClean: boolean; fsckDetail: string };
}

/** Detaches a run's disks and deletes their files: a 200 GB sparse file formatted the old way holds 4 GB. */
async function discard(r: OnVmRun): Promise<void> {
  await r.disk.detach();
  rmSync(r.disk.file, { force: true });
  rmSync(join(r.runDir, 'boot.img'), { force: true });
}

const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);

function layerBytes(l: Layer): number {
  return l.entries.reduce((a, e) => a + (e.type === 'file' ? (e.content?.length ?? 0) : 0), 0);
}

/** Pushes `images` (tag → layers) to the rig's open registry; returns their sizes. */
async function push(rig: Rig, name: string, images: [string, Layer[]][]): Promise<Scenario['images']> {
  const layoutDir = join(rig.dir, `layout-${name}`);
  const layout = new OciLayout(layoutDir);
  for (const [tag, layers] of images) layout.addImage(tag, { layers });
  layout.close();
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  const blob = (d: string) =>
    JSON.parse(readFileSync(join(layoutDir, 'blobs', 'sha256', d.slice(7)), 'utf8')) as { layers: { size: number }[] };
  const out: Scenario['images'] = [];
  for (const [tag, layers] of images) {
    await rig.open.push(layoutDir, tag, REPO);
    const d = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === tag)!;
    out.push({
      tag,
      layers: layers.length,
      bytes: layers.reduce((a, l) => a + layerBytes(l), 0),
      compressed: blob(d.digest).layers.reduce((a, l) => a + l.size, 0),
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
    return readFileSync(join(dir, 'snapshots.metadata'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [chain, , sum] = l.split(' ');
        return `${chain} ${sum}`;
      })
      .sort()
      .join('\n');
  } finally {
    await unmount(dir);
  }
}

export async function measureOverlap(log: (s: string) => void): Promise<OverlapResult | { skipped: string }> {
  const why = onVmUnavailable() ?? diskBoundUnavailable();
  if (why) return { skipped: why };
  const rounds = n('GDIB_BENCH_OVERLAP_REPEATS', 3);
  const mlImages = n('GDIB_BENCH_ML_IMAGES', 4);
  const layerMB = n('GDIB_BENCH_ML_LAYER_MB', 50);
  const rig = await startRig('overlap');
  try {
    // Real files of this machine: a base of two layers shared by every image, and one layer of each image's own.
    const real = realLayers(2 + mlImages, layerMB);
    const base = real.slice(0, 2);
    const ml = await push(
      rig,
      'ml',
      real.slice(2).map((own, i): [string, Layer[]] => [`ml-${i + 1}`, [...base, own]]),
    );
    const single = await push(rig, 'single', [['single', realLayers(4, 2 * layerMB, ['/usr/share', '/usr/lib', '/usr/bin'])]]);
    const mlUnique = real.reduce((a, l) => a + layerBytes(l), 0);
    log(
      `multi-image: ${ml.map((i) => `${i.tag} ${(i.bytes / MB).toFixed(0)} MB`).join(', ')} (${(mlUnique / MB).toFixed(0)} MB distinct); single ${(single[0]!.bytes / MB).toFixed(0)} MB`,
    );
    // The page-cache runs get a disk just large enough; the disk-bound ones the modelled disk itself (a sparse file of
    // 200 GB), so that mkfs writes what it writes on such a disk.
    const cacheMiB = Math.max(1024, Math.ceil((2.5 * Math.max(mlUnique, single[0]!.bytes)) / 2 ** 20) + 256);
    const honest = pdSsd(MODEL_GB);
    const diskMiBOf = (mode: DiskMode) => (mode.kind === 'page-cache' ? cacheMiB : MODEL_GB * 1024);
    const scenarios: Scenario[] = [
      {
        key: 'ml-disk',
        title: `${mlImages} images sharing a base, disk-bound`,
        images: ml,
        snapshots: real.length,
        uniqueBytes: mlUnique,
        mode: honest,
        // Without `eager-mkfs` here: 33 s more a run; the mkfs comparison below measures it on its own.
        series: ['go', 'ours', 'serial-pulls', 'late-checksums', 'late-flush', 'first-with-others'].map((variant) => ({
          variant,
          samples: [],
        })),
      },
      {
        key: 'ml-cache',
        title: `${mlImages} images sharing a base, page cache`,
        images: ml,
        snapshots: real.length,
        uniqueBytes: mlUnique,
        mode: { kind: 'page-cache' },
        series: ['go', 'ours'].map((variant) => ({ variant, samples: [] })),
      },
      {
        key: 'single-disk',
        title: 'one large image, disk-bound',
        images: single,
        snapshots: single[0]!.layers,
        uniqueBytes: single[0]!.bytes,
        mode: honest,
        series: ['go', 'ours'].map((variant) => ({ variant, samples: [] })),
      },
    ];
    for (let round = 0; round < rounds; round++) {
      for (const sc of scenarios) {
        // Alternating: each round starts one variant further on, so no variant always runs first.
        const order = sc.series.map((_, i) => sc.series[(i + round) % sc.series.length]!);
        const firstOf: Record<string, OnVmRun> = {};
        for (const s of order) {
          const v = VARIANTS.find((x) => x.key === s.variant)!;
          const refs = sc.images.map((i) => rig.ref(i.tag));
          const label = `${sc.key}-${v.key}-${round + 1}`;
          const opts = { diskMiB: diskMiBOf(sc.mode), mode: sc.mode, ...(v.agent ? { agentOptions: v.agent } : {}) };
          const r = v.run === 'go' ? await runGoModel(rig, label, refs, opts) : await runBuild(rig, label, refs, opts);
          if (r.code !== 0) {
            await discard(r);
            for (const f of Object.values(firstOf)) await discard(f);
            throw new Error(`${label}: exited ${r.code}:\n${r.output.slice(-3000)}`);
          }
          s.samples.push({
            wallSec: r.wallSec,
            cpuSec: r.cpuSec,
            writtenBytes: r.writtenBytes,
            bootWrittenBytes: r.bootWrittenBytes,
            phases: r.phases.map((p) => ({ phase: p.phase, sec: p.sec })),
          });
          log(
            `${label}: ${r.wallSec.toFixed(1)} s, ${r.cpuSec.toFixed(1)} CPU s, ${(r.writtenBytes / MB).toFixed(0)} MB to the data disk, ${(r.bootWrittenBytes / MB).toFixed(0)} MB to the boot disk`,
          );
          if (round === 0 && (v.key === 'go' || v.key === 'ours')) firstOf[v.key] = r;
          else await discard(r);
        }
        try {
          if (firstOf.go && firstOf.ours) {
            sc.checksumsAgree = (await checksumsOf(firstOf.go)) === (await checksumsOf(firstOf.ours));
            log(`${sc.key}: same chain IDs and checksums from both: ${sc.checksumsAgree}`);
          }
        } finally {
          for (const r of Object.values(firstOf)) await discard(r);
        }
      }
    }
    const mkfs = await measureMkfs(rig, honest, log);
    const cpus = Number((await run('nproc', [])).stdout.trim());
    const memGiB = Math.floor(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576);
    return { machine: { cpus, pullJobs: Math.max(1, Math.min(cpus, 4, memGiB)) }, rounds, scenarios, mkfs };
  } finally {
    await rig.close();
  }
}

/**
 * mkfs.ext4 of a 200 GB sparse disk with the script's options: everything written (as before), the inode tables
 * left unwritten, and the journal too (now): time, bytes written (the loop device's counter), the time those bytes
 * take at the modelled rate; then a build onto a disk formatted the product's way, checked by `e2fsck -f -n`.
 */
async function measureMkfs(rig: Rig, mode: DiskMode & { kind: 'disk-bound' }, log: (s: string) => void): Promise<OverlapResult['mkfs']> {
  const runs: MkfsRun[] = [];
  const dir = rig.runDir('mkfs');
  mkdirSync(dir, { recursive: true });
  for (const [lazyItable, lazyJournal] of [
    [false, false],
    [true, false],
    [true, true],
  ] as const) {
    const flags = `lazy_itable_init=${lazyItable ? 1 : 0},lazy_journal_init=${lazyJournal ? 1 : 0}`;
    const file = join(dir, `disk-${lazyItable ? 1 : 0}${lazyJournal ? 1 : 0}.img`);
    const disk = await LoopDisk.create(file, MODEL_GB * 1024);
    // Direct I/O but no rate limit: the bytes are counted and the rate applied to them, not waited for.
    const undo = await applyDiskMode(disk, { kind: 'disk-bound', modelGb: MODEL_GB, mibPerSec: 1e6 });
    try {
      const w0 = sectorsWritten(disk.device);
      const t = performance.now();
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', `${flags},discard`, disk.device]);
      const sec = (performance.now() - t) / 1000;
      const writtenBytes = (sectorsWritten(disk.device) - w0) * 512;
      runs.push({ lazyItable, lazyJournal, sec, writtenBytes, atRateSec: writtenBytes / (mode.mibPerSec * 2 ** 20) });
      log(
        `mkfs ${flags}: ${sec.toFixed(2)} s, ${(writtenBytes / MB).toFixed(0)} MB written, ${((statSync(file).blocks * 512) / MB).toFixed(0)} MB allocated`,
      );
    } finally {
      undo();
      await disk.detach();
      rmSync(file, { force: true });
    }
  }
  // The product formats with lazy_itable_init=1,lazy_journal_init=1 and mounts with noinit_itable: build onto such a
  // disk, then e2fsck.
  const r = await runBuild(rig, 'mkfs-fsck', [rig.ref('ml-1')], { diskMiB: 2048 });
  try {
    if (r.code !== 0) throw new Error(`mkfs-fsck: exited ${r.code}:\n${r.output.slice(-3000)}`);
    const fsck = await run('e2fsck', ['-f', '-n', r.disk.device], { allowFailure: true });
    return {
      gb: MODEL_GB,
      mibPerSec: mode.mibPerSec,
      runs,
      fsckClean: fsck.code === 0,
      fsckDetail: `${fsck.stdout}${fsck.stderr}`.trim().split('\n').at(-1) ?? '',
    };
  } finally {
    await discard(r);
  }
}

export const median = (s: Series) => summarize(s.samples.map((x) => x.wallSec)).median;
export { describeMode };
