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
import { commonFunction } from './script-source.js';
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
      /** Recomputing the checksums of the snapshots the rebuild reused, on the rebuilt disk (page cache warm). */
      recompute: { sec: number; bytes: number; snapshots: number };
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
    const disk = rebuilt.at(-1)!.disk;

    // What recomputing the reused snapshots' checksums would have cost: the script's own snapshot_checksum over
    // the directories the rebuild kept from release 1 (all but the top one).
    const mnt = join(rig.dir, 'inc-mnt');
    await run('mkdir', ['-p', mnt]);
    await run('mount', ['-o', 'ro,noload', disk.device, mnt]);
    let recompute: { sec: number; bytes: number; snapshots: number };
    try {
      const lines = (await run('cat', [join(mnt, 'snapshots.metadata')])).stdout.trim().split('\n');
      const { stdout: usage } = await run('cat', [join(mnt, 'gdib.json')]);
      const top = (JSON.parse(usage) as { images: { layers: { snapshot: string }[] }[] }).images[0]!.layers.at(-1)!.snapshot;
      const dirs = lines
        .map((l) => l.split(' ')[1]!)
        .filter((d) => d !== top)
        .map((d) => join(mnt, d));
      const bytes = Number(
        (await run('du', ['-s', '-b', '--apparent-size', '-c', ...dirs])).stdout.trim().split('\n').at(-1)!.split('\t')[0],
      );
      const work = join(rig.dir, 'inc-cks');
      await run('mkdir', ['-p', work]);
      const env = { ...process.env, LC_ALL: 'C', GDIB_WORK: work };
      const t = performance.now();
      await run('bash', ['-c', `${commonFunction('snapshot_checksum')}\nfor d in "$@"; do snapshot_checksum "$d"; done`, 'x', ...dirs], {
        env,
      });
      recompute = { sec: (performance.now() - t) / 1000, bytes, snapshots: dirs.length };
    } finally {
      await run('umount', [mnt], { allowFailure: true });
    }
    log(
      `incremental: fresh ${freshRun.wallSec.toFixed(1)} s / ${(freshRun.fetchedBytes / 1e6).toFixed(0)} MB fetched, rebuild ${incRun.wallSec.toFixed(1)} s / ${(incRun.fetchedBytes / 1e6).toFixed(1)} MB fetched; recomputing the reused checksums ${recompute.sec.toFixed(1)} s`,
    );
    return { image, fresh: freshRun, incremental: incRun, recompute, checksumSec, load: [load0, loadNow()] };
  } finally {
    for (const d of disks) await d.detach();
    await rig.close();
  }
}

const MB = (b: number) => (b / 1e6).toFixed(b < 10e6 ? 1 : 0);
const s1 = (v: number) => v.toFixed(1);
const spread = (x: IncrementalRun) => (x.samples && x.samples.length > 1 ? ` (fastest of ${x.samples.map(s1).join(' / ')})` : '');

export const INCREMENTAL_HEAD = '## 7. Incremental rebuilds';
export const INCREMENTAL_START = '<!-- bench:incremental:start — written by `npm run bench` (bench/lib/incremental.ts) -->';
export const INCREMENTAL_END = '<!-- bench:incremental:end -->';
const MEASURED = '### Measured on the rig';

/** The measured part of "Incremental rebuilds", between its markers. */
export function incrementalFigures(r: IncrementalResult | undefined, machineLine: string): string {
  const body: string[] = [];
  if (!r) body.push('**Not measured: the benchmark did not run** (it failed or was interrupted; see the `npm run bench` output).');
  else if ('skipped' in r) body.push(`**Skipped: ${r.skipped}.**`);
  else {
    const { fresh: f, incremental: i, image } = r;
    const phase = (x: IncrementalRun, p: string) => x.phases.find((q) => q[0] === p)?.[1];
    const phases = (x: IncrementalRun) =>
      x.phases
        .filter(([p]) => p !== '(before the first phase)')
        .map(([p, sec]) => `${p} ${s1(sec)}`)
        .join(', ');
    body.push(
      `**Measured on the startup-script rig, on ${machineLine}** (as §5: the rendered script, the local registry, a loop-device disk). ` +
        `The image: ${image.layers - 1} layers of this machine's own files and one application layer on top, ${MB(image.bytes)} MB unpacked ` +
        `(${MB(image.compressed)} MB compressed); the next release changes only the application layer, ${MB(image.changedBytes)} MB ` +
        `(${((image.changedBytes / image.bytes) * 100).toFixed(0)} % of the bytes). The rebuild runs on a copy of the first release's disk file, ` +
        '10 % larger (a disk created from its image: `gdib-data-disk=from-image`). Bytes fetched are the blobs the registry served (its access log); ' +
        'bytes written, the sectors the loop device wrote. ' +
        `Load average ${r.load.map((l) => l.toFixed(1)).join(' → ')} while measuring: other work on the machine makes the times noisy; the bytes are exact.`,
      table(
        ['build of the next release', 'on-VM s', 'CPU s', 'layers fetched', 'MB fetched', 'MB written to the data disk', 'phases (s)'],
        [
          [
            'fresh (blank disk)',
            s1(f.wallSec) + spread(f),
            s1(f.cpuSec),
            String(f.layersFetched),
            MB(f.fetchedBytes),
            MB(f.writtenBytes),
            phases(f),
          ],
          [
            'incremental (disk from the previous image)',
            s1(i.wallSec) + spread(i),
            s1(i.cpuSec),
            String(i.layersFetched),
            MB(i.fetchedBytes),
            MB(i.writtenBytes),
            phases(i),
          ],
          [
            '**incremental / fresh**',
            `**${(i.wallSec / f.wallSec).toFixed(2)}×**`,
            `${(i.cpuSec / f.cpuSec).toFixed(2)}×`,
            '',
            `**${(i.fetchedBytes / f.fetchedBytes).toFixed(3)}×**`,
            `**${(i.writtenBytes / f.writtenBytes).toFixed(2)}×**`,
            '',
          ],
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
      `The rebuild fetches one layer blob (the changed one) and the small manifest and config; it formats nothing (the fresh build's ` +
        '`formatting` writes the superblocks, group descriptors and bitmaps), unpacks one layer, and checksums one snapshot. Its `mounting` phase checks the base layout, ' +
        `grows the filesystem (${i.grow ? `${i.grow.sec} s, ${i.grow.how}` : 'not needed'}) and hands the ${image.layers - 1} reused snapshots back to containerd ` +
        `(${i.restoreSec ?? '?'} s: renames, no copy; containerd walks each directory once to record its size). ` +
        (i.grow?.how === 'unmounted'
          ? 'The rig runs in a container without CAP_SYS_RESOURCE, so the kernel refuses an online resize and the script falls back to ' +
            '`e2fsck -f` and an unmounted `resize2fs`, which reads all the filesystem metadata; on a GCE VM the resize is online and takes a moment. '
          : '') +
        'On the rig the registry and the disk run at memory speed and two loaded cores pay for every `ctr` call, so the time ratio ' +
        'understates the gain; the bytes are what the rebuild saves on GCE (see the time model below). ' +
        `Unpacking on the fresh ` +
        `side took ${s1((phase(f, 'pulling') ?? 0) + (phase(f, 'unpacking') ?? 0))} s (pull + unpack), on the rebuild ` +
        `${s1((phase(i, 'pulling') ?? 0) + (phase(i, 'unpacking') ?? 0))} s.`,
      `**Checksums of reused snapshots: carried over, not recomputed.** Recomputing them here would have taken ${s1(r.recompute.sec)} s ` +
        `(${r.recompute.snapshots} snapshots, ${MB(r.recompute.bytes)} MB, the script's own parallel \`snapshot_checksum\`, page cache warm), ` +
        `against ${s1(r.checksumSec)} s for the rebuild's whole \`checksumming\` phase (the new snapshot's checksum, then the metadata files, ` +
        'stopping containerd and the final sync and unmount). On the rig every byte is in memory; ' +
        'on GCE a disk created from an image is restored lazily, so recomputing would read every old byte from image storage — the very reads ' +
        'reuse avoids. Carrying the values over trusts the base image; `verify` recomputes them all when wanted (docs/architecture.md, Disk layout).',
    );
  }
  return [INCREMENTAL_START, ...body, INCREMENTAL_END].join('\n\n');
}

/**
 * `md` with its "Incremental rebuilds" section's measured part set to `figures`. The section (with the time model on GCE that
 * report.ts renders below the markers) is taken from `md`, else from `previous` (the file before a full rerun
 * rewrote it), else created before "How to rerun" with a marked place for the time model.
 */
export function spliceIncremental(md: string, figures: string, previous = ''): string {
  const section = (text: string) => new RegExp(`^${INCREMENTAL_HEAD}\\n[\\s\\S]*?(?=^## |(?![\\s\\S]))`, 'm').exec(text)?.[0];
  let sec = section(md) ?? section(previous) ?? [INCREMENTAL_HEAD, '', MEASURED, '', INCREMENTAL_START, INCREMENTAL_END, '', ''].join('\n');
  sec = sec.replace(new RegExp(`${escape(INCREMENTAL_START)}[\\s\\S]*?${escape(INCREMENTAL_END)}`), () => figures);
  const without = section(md) ? md.replace(section(md)!, '') : md;
  const at = without.search(/^## How to rerun/m);
  return at < 0 ? `${without.trimEnd()}\n\n${sec}` : `${without.slice(0, at)}${sec}${without.slice(at)}`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
