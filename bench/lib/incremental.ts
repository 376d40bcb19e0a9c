// "Incremental rebuilds" of docs/benchmarks.md: a fresh build against a rebuild on a disk made from the previous
// release's image (gdib-data-disk=from-image), where one top layer of about 5 % of the bytes changed. On the rig:
// on-VM time, bytes the registry served, bytes written to the data disk.
import { join } from 'node:path';
import { LoopDisk } from '../../test/rig/disk.js';
import { OciLayout, type Layer } from '../../test/rig/oci.js';
import { pseudoRandom } from '../../test/rig/images.js';
import { run } from '../../test/rig/proc.js';
import { blobGets } from '../../test/rig/registry.js';
import { REPO, startRig, type Rig } from '../../test/rig/rig.js';
import { onVmUnavailable, phaseTotals, realLayers, runBuild, type OnVmRun } from './on-vm.js';
import { loadNow } from './machine.js';
import { table } from './stats.js';

export interface IncrementalRun {
  label: string;
  wallSec: number;
  cpuSec: number;
  /** Bytes of the blobs (layers and configs) the registry served during the run. */
  fetchedBytes: number;
  /** Layer blobs the registry served. */
  layersFetched: number;
  writtenBytes: number;
  phases: [string, number][];
  /** From the script's log (whole seconds): growing the filesystem, and how; handing the snapshots back. */
  grow?: { sec: number; how: string };
  restoreSec?: number;
  /** Wall seconds of every run when this is the fastest of several. */
  samples?: number[];
}

export type IncrementalResult =
  | { skipped: string }
  | {
      image: { layers: number; bytes: number; changedBytes: number; compressed: number };
      fresh: IncrementalRun;
      incremental: IncrementalRun;
      /** What the rebuild's checksum phase took (the reused snapshots' values carried over). */
      checksumSec: number;
      /** 1-minute load average before and after (other work on the machine makes the times noisy, not the bytes). */
      load: [number, number];
    };

const fileBytes = (layers: Layer[]) =>
  layers.reduce((a, l) => a + l.entries.reduce((b, e) => b + (e.type === 'file' ? (e.content?.length ?? 0) : 0), 0), 0);

/** The release's application layer: `bytes` of fresh (incompressible) bytes per release. */
const appLayer = (release: number, bytes: number): Layer => ({
  entries: [
    { path: 'app', type: 'dir', mode: 0o755 },
    { path: 'app/release.txt', type: 'file', mode: 0o644, content: Buffer.from(`release ${release}\n`) },
    { path: 'app/bundle.bin', type: 'file', mode: 0o644, content: pseudoRandom(bytes, 1000 + release) },
  ],
});

function summary(r: OnVmRun, rig: Rig, from: number, layerDigests: Set<string>): IncrementalRun {
  const gets = blobGets(rig.open.requests().slice(from));
  const grown = /filesystem grown (online|unmounted) in (\d+) s/.exec(r.output);
  const reused = /reused \d+ snapshot\(s\) of the base image in (\d+) s/.exec(r.output);
  return {
    label: r.label,
    wallSec: r.wallSec,
    cpuSec: r.cpuSec,
    fetchedBytes: gets.reduce((a, g) => a + g.bytes, 0),
    layersFetched: gets.filter((g) => layerDigests.has(g.digest)).length,
    writtenBytes: r.writtenBytes,
    phases: [...phaseTotals(r)].map(([p, t]) => [p, t.sec]),
    ...(grown ? { grow: { sec: Number(grown[2]), how: grown[1]! } } : {}),
    ...(reused ? { restoreSec: Number(reused[1]) } : {}),
  };
}

export async function measureIncremental(log: (s: string) => void): Promise<IncrementalResult> {
  const why = onVmUnavailable();
  if (why) return { skipped: why };
  const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
  const base = realLayers(n('GDIB_BENCH_INC_LAYERS', 4), n('GDIB_BENCH_INC_LAYER_MB', 60));
  const baseBytes = fileBytes(base);
  const appBytes = Math.round((baseBytes * 0.05) / 0.95);
  const load0 = loadNow();
  const rig = await startRig('bench-inc', { accessLog: true });
  const disks: LoopDisk[] = [];
  try {
    const layout = new OciLayout(join(rig.dir, 'inc-layout'));
    layout.addImage('release-1', { layers: [...base, appLayer(1, appBytes)] });
    layout.addImage('release-2', { layers: [...base, appLayer(2, appBytes)] });
    layout.close();
    for (const tag of ['release-1', 'release-2']) await rig.open.push(layout.dir, tag, REPO);
    const manifest = async (tag: string) => {
      const res = await fetch(`http://${rig.open.host}/v2/${REPO}/manifests/${tag}`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      return (await res.json()) as { layers: { digest: string; size: number }[] };
    };
    const m1 = await manifest('release-1');
    const m2 = await manifest('release-2');
    const layerDigests = new Set([...m1.layers, ...m2.layers].map((l) => l.digest));
    const image = {
      layers: m2.layers.length,
      bytes: baseBytes + appBytes,
      changedBytes: appBytes,
      compressed: m2.layers.reduce((a, l) => a + l.size, 0),
    };
    log(
      `incremental: ${image.layers} layers, ${(image.bytes / 1e6).toFixed(0)} MB unpacked (${(image.compressed / 1e6).toFixed(0)} MB compressed), top layer ${(appBytes / 1e6).toFixed(0)} MB changed`,
    );
    const diskMiB = Math.max(1024, Math.ceil((2 * image.bytes) / 2 ** 20) + 256);
    const ok = (r: OnVmRun) => {
      if (r.code !== 0) throw new Error(`${r.label}: the build script exited ${r.code}:\n${r.output.slice(-3000)}`);
      disks.push(r.disk);
      log(
        `${r.label}: ${r.wallSec.toFixed(1)} s, ${(r.writtenBytes / 1e6).toFixed(0)} MB written; ${r.phases.map((p) => `${p.phase} ${p.sec.toFixed(1)}`).join(', ')}`,
      );
      return r;
    };

    // Release 1, fresh: the base image's disk.
    const first = ok(await runBuild(rig, 'inc-release-1', [rig.ref('release-1')], { diskMiB }));
    await first.disk.detach();
    // Release 2 from scratch and release 2 on a disk made from release 1's image (a copy of its file: the "image",
    // 10 % larger), alternating, fastest of REPEATS each: other work on the machine must not decide the comparison.
    const repeats = n('GDIB_BENCH_INC_REPEATS', 2);
    const fresh: IncrementalRun[] = [];
    const rebuilt: { run: IncrementalRun; checksumSec: number; disk: LoopDisk }[] = [];
    for (let k = 1; k <= repeats; k++) {
      let from = rig.open.requests().length;
      const f = ok(await runBuild(rig, `inc-fresh-${k}`, [rig.ref('release-2')], { diskMiB }));
      fresh.push(summary(f, rig, from, layerDigests));
      await f.disk.detach();
      const copy = join(rig.dir, `inc-from-image-${k}.img`);
      await run('cp', ['--sparse=always', first.disk.file, copy]);
      await run('truncate', ['-s', `${Math.round(diskMiB * 1.1)}M`, copy]);
      const disk = await LoopDisk.attach(copy);
      from = rig.open.requests().length;
      const inc = ok(await runBuild(rig, `inc-rebuild-${k}`, [rig.ref('release-2')], { diskMiB, disk, dataDisk: 'from-image' }));
      rebuilt.push({ run: summary(inc, rig, from, layerDigests), checksumSec: phaseTotals(inc).get('checksumming')?.sec ?? 0, disk });
      if (k < repeats) await disk.detach();
    }
    const freshRun = { ...fresh.reduce((a, b) => (b.wallSec < a.wallSec ? b : a)), samples: fresh.map((x) => x.wallSec) };
    const best = rebuilt.reduce((a, b) => (b.run.wallSec < a.run.wallSec ? b : a));
    const incRun = { ...best.run, samples: rebuilt.map((x) => x.run.wallSec) };
    const checksumSec = best.checksumSec;

    log(
      `incremental: fresh ${freshRun.wallSec.toFixed(1)} s / ${(freshRun.fetchedBytes / 1e6).toFixed(0)} MB fetched, rebuild ${incRun.wallSec.toFixed(1)} s / ${(incRun.fetchedBytes / 1e6).toFixed(1)} MB fetched`,
    );
    return { image, fresh: freshRun, incremental: incRun, checksumSec, load: [load0, loadNow()] };
  } finally {
    for (const d of disks) await d.detach();
    await rig.close();
  }
}

const MB = (b: number) => (b / 1e6).toFixed(b < 10e6 ? 1 : 0);
const s1 = (v: number) => v.toFixed(1);

export function incrementalTables(r: Exclude<IncrementalResult, { skipped: string }>): string[] {
  const { fresh: f, incremental: i, image } = r;
  const phases = (x: IncrementalRun) =>
    x.phases
      .filter(([p]) => p !== '(before the first phase)')
      .map(([p, sec]) => `${p} ${s1(sec)}`)
      .join(', ');
  const row = (name: string, x: IncrementalRun) => [
    name,
    `${s1(x.wallSec)} (${(x.samples ?? [x.wallSec]).map(s1).join(' / ')})`,
    s1(x.cpuSec),
    String(x.layersFetched),
    MB(x.fetchedBytes),
    MB(x.writtenBytes),
    phases(x),
  ];
  return [
    `${image.layers} layers, ${MB(image.bytes)} MB unpacked (${MB(image.compressed)} MB compressed); the next release changes the top layer, ` +
      `${MB(image.changedBytes)} MB. Load average ${r.load.map((l) => l.toFixed(1)).join(' → ')}. Grow: ${i.grow ? `${i.grow.sec} s, ${i.grow.how}` : 'not needed'}; ` +
      `snapshots handed back in ${i.restoreSec ?? '?'} s; the rebuild's checksumming phase ${s1(r.checksumSec)} s.`,
    table(
      ['build of the next release', 'on-VM s, fastest (every run)', 'CPU s', 'layers fetched', 'MB fetched', 'MB written', 'phases (s)'],
      [
        row('fresh (blank disk)', f),
        row('incremental (disk from the previous image)', i),
        [
          'incremental / fresh',
          `${(i.wallSec / f.wallSec).toFixed(2)}×`,
          `${(i.cpuSec / f.cpuSec).toFixed(2)}×`,
          '',
          `${(i.fetchedBytes / f.fetchedBytes).toFixed(3)}×`,
          `${(i.writtenBytes / f.writtenBytes).toFixed(2)}×`,
          '',
        ],
      ],
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  ];
}
