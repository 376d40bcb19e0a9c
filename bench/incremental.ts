// Incremental rebuilds on the rig (docs/benchmarks.md, "Incremental rebuilds"): a fresh build of the next release beside
// a rebuild on a disk made from the previous release's image (gdib-data-disk=from-image), where one top layer of about
// 5 % of the bytes changed: on-VM time, bytes the registry served, bytes written to the data disk. Fastest of
// GDIB_BENCH_INC_REPEATS each (2), alternating. Writes docs/benchmarks/incremental.json and incremental.md.
// Alone: `npm run bench -- bench/incremental.ts`.
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { LoopDisk } from '../test/rig/disk.js';
import { pseudoRandom } from '../test/rig/images.js';
import { OciLayout, type Layer } from '../test/rig/oci.js';
import { run } from '../test/rig/proc.js';
import { blobGets, type RegistryRequest } from '../test/rig/registry.js';
import { REPO, startRig } from '../test/rig/rig.js';
import { onVmUnavailable, realLayers, runBuild, type OnVmRun } from './lib/on-vm.js';
import { loadNow, writeResult } from './lib/results.js';
import { table } from './lib/stats.js';

const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
const log = (s: string) => console.log(`[bench] ${s}`);
const MB = (b: number) => (b / 1e6).toFixed(b < 10e6 ? 1 : 0);
const s1 = (v: number) => v.toFixed(1);

interface IncrementalRun {
  wallSec: number;
  cpuSec: number;
  /** Bytes of the blobs (layers and configs) the registry served during the run, and the layer blobs among them. */
  fetchedBytes: number;
  layersFetched: number;
  writtenBytes: number;
  phases: Record<string, number>;
  /** Wall seconds of every run (this is the fastest). */
  samples: number[];
}

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

function fastest(runs: { r: OnVmRun; served: RegistryRequest[] }[], layerDigests: Set<string>): IncrementalRun {
  const best = runs.reduce((a, b) => (b.r.wallSec < a.r.wallSec ? b : a));
  const gets = blobGets(best.served);
  const { wallSec, cpuSec, writtenBytes, phases } = best.r;
  return {
    wallSec,
    cpuSec,
    fetchedBytes: gets.reduce((a, g) => a + g.bytes, 0),
    layersFetched: gets.filter((g) => layerDigests.has(g.digest)).length,
    writtenBytes,
    phases,
    samples: runs.map((x) => x.r.wallSec),
  };
}

describe('incremental rebuilds', () => {
  it('a fresh build vs a rebuild on the previous image (one top layer changed)', { timeout: 900_000 }, async () => {
    const why = onVmUnavailable();
    if (why) throw new Error(`the rig cannot run here: ${why}`);
    const base = realLayers(n('GDIB_BENCH_INC_LAYERS', 4), n('GDIB_BENCH_INC_LAYER_MB', 60));
    const appBytes = Math.round((fileBytes(base) * 0.05) / 0.95);
    const load0 = loadNow();
    const rig = await startRig('bench-inc', { accessLog: true });
    const disks: LoopDisk[] = [];
    try {
      const layout = new OciLayout(join(rig.dir, 'inc-layout'));
      for (const release of [1, 2]) layout.addImage(`release-${release}`, { layers: [...base, appLayer(release, appBytes)] });
      layout.close();
      const layers: { digest: string; size: number }[][] = [];
      for (const tag of ['release-1', 'release-2']) {
        await rig.open.push(layout.dir, tag, REPO);
        const res = await fetch(`http://${rig.open.host}/v2/${REPO}/manifests/${tag}`, {
          headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        layers.push(((await res.json()) as { layers: { digest: string; size: number }[] }).layers);
      }
      const layerDigests = new Set(layers.flat().map((l) => l.digest));
      const image = {
        layers: layers[1]!.length,
        bytes: fileBytes(base) + appBytes,
        changedBytes: appBytes,
        compressed: layers[1]!.reduce((a, l) => a + l.size, 0),
      };
      const diskMiB = Math.max(1024, Math.ceil((2 * image.bytes) / 2 ** 20) + 256);
      const build = async (label: string, opts: Partial<Parameters<typeof runBuild>[3]> = {}) => {
        const from = rig.open.requests().length;
        const r = await runBuild(rig, label, [rig.ref(label === 'inc-release-1' ? 'release-1' : 'release-2')], { diskMiB, ...opts });
        if (!opts.disk) disks.push(r.disk);
        if (r.code !== 0) throw new Error(`${label}: the agent exited ${r.code}:\n${r.output.slice(-3000)}`);
        log(
          `${label}: ${s1(r.wallSec)} s, ${MB(r.writtenBytes)} MB written; ${Object.entries(r.phases)
            .map(([p, s]) => `${p} ${s1(s)}`)
            .join(', ')}`,
        );
        await r.disk.detach();
        return { r, served: rig.open.requests().slice(from) };
      };

      const first = await build('inc-release-1');
      // Release 2 from scratch, and release 2 on a copy of release 1's disk (the "image", 10 % larger), alternating.
      const fresh = [];
      const rebuilt = [];
      for (let k = 1; k <= n('GDIB_BENCH_INC_REPEATS', 2); k++) {
        fresh.push(await build(`inc-fresh-${k}`));
        const copy = join(rig.dir, `inc-from-image-${k}.img`);
        await run('cp', ['--sparse=always', first.r.disk.file, copy]);
        await run('truncate', ['-s', `${Math.round(diskMiB * 1.1)}M`, copy]);
        const disk = await LoopDisk.attach(copy);
        disks.push(disk);
        rebuilt.push(await build(`inc-rebuild-${k}`, { disk, dataDisk: 'from-image' }));
      }
      const f = fastest(fresh, layerDigests);
      const i = fastest(rebuilt, layerDigests);
      const phases = (x: IncrementalRun) =>
        Object.entries(x.phases)
          .filter(([p]) => p !== '(before the first phase)')
          .map(([p, sec]) => `${p} ${s1(sec)}`)
          .join(', ');
      const row = (name: string, x: IncrementalRun) => [
        name,
        `${s1(x.wallSec)} (${x.samples.map(s1).join(' / ')})`,
        s1(x.cpuSec),
        x.layersFetched,
        MB(x.fetchedBytes),
        MB(x.writtenBytes),
        phases(x),
      ];
      const ratio = (a: number, b: number, d = 2) => `${(a / b).toFixed(d)}×`;
      const load = [load0, loadNow()];
      writeResult('incremental', { image, fresh: f, incremental: i, load }, [
        `${image.layers} layers, ${MB(image.bytes)} MB unpacked (${MB(image.compressed)} MB compressed); the next release changes the top layer, ` +
          `${MB(image.changedBytes)} MB. Load average ${load.map((l) => l.toFixed(1)).join(' → ')}.`,
        table(
          [
            'build of the next release',
            'on-VM s, fastest (every run)',
            'CPU s',
            'layers fetched',
            'MB fetched',
            'MB written',
            'phases (s)',
          ],
          [
            row('fresh (blank disk)', f),
            row('incremental (disk from the previous image)', i),
            [
              'incremental / fresh',
              ratio(i.wallSec, f.wallSec),
              ratio(i.cpuSec, f.cpuSec),
              '',
              ratio(i.fetchedBytes, f.fetchedBytes, 3),
              ratio(i.writtenBytes, f.writtenBytes),
              '',
            ],
          ],
          ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
        ),
      ]);
    } finally {
      for (const d of disks) await d.detach();
      await rig.close();
    }
  });
});
