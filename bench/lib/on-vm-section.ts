// §5 of docs/benchmarks.md: the on-VM stage on the rig, the optimisations toggled, and --local vs the VM path.
import { join } from 'node:path';
import { STANDARD_PATH } from '../../src/local/command.js';
import { hostsToml, REPO, startRig, type Rig } from '../../test/rig/rig.js';
import { localVsVm, type LocalVsVm } from './local-vs-vm.js';
import {
  ctrShim,
  onVmUnavailable,
  phaseTotals,
  pushBenchImages,
  runBuild,
  toggles,
  type BenchImage,
  type OnVmRun,
  type Toggles,
} from './on-vm.js';
import type { InstallBench } from './install.js';
import { startThrottle } from './throttle.js';
import type { OnVmFigures } from './report.js';
import { table } from './stats.js';

export interface RunSummary {
  label: string;
  image: BenchImage;
  wallSec: number;
  cpuSec: number;
  writtenBytes: number;
  phases: [string, { sec: number; cpuSec: number; writtenBytes: number }][];
  env?: string;
  /** Wall seconds of every run when this is the best of several. */
  samples?: number[];
}

export interface Downloads {
  /** Per-connection limit of the throttling proxy, bytes/s. */
  bytesPerSec: number;
  parallel: RunSummary & { connections: number; maxOpen: number };
  serial: RunSummary & { connections: number; maxOpen: number };
}

export type OnVmResult =
  | { skipped: string }
  | {
      /** bench-big, bench-real, bench-small, in that order. */
      runs: RunSummary[];
      /** On the disk of the bench-real run. */
      toggles: Toggles;
      /** bench-big and bench-real again with CONTAINERD_DISABLE_PIGZ=0: containerd decompresses with unpigz. */
      pigzOn: RunSummary[];
      downloads?: Downloads;
      downloadsError?: string;
      localVsVm?: LocalVsVm;
      localVsVmError?: string;
      sizes: { layers: number; layerMB: number; filesPerLayer: number; smallFiles: number };
    };

/** One phase's totals in a run, if the run had that phase. */
const phaseOf = (x: RunSummary, name: string) => x.phases.find((p) => p[0] === name)?.[1];

/** The fastest of runs of the same kind, with every run's wall time. */
function bestOf(xs: RunSummary[]): RunSummary {
  const best = xs.reduce((a, b) => (b.wallSec < a.wallSec ? b : a));
  return { ...best, samples: xs.map((x) => x.wallSec) };
}

const summary = (r: OnVmRun, image: BenchImage, env?: string): RunSummary => ({
  label: r.label,
  image,
  wallSec: r.wallSec,
  cpuSec: r.cpuSec,
  writtenBytes: r.writtenBytes,
  phases: [...phaseTotals(r)],
  ...(env ? { env } : {}),
});

/** Per-connection rate of the throttled registry in the parallel-downloads toggle (an assumption, see §5). */
const THROTTLE_MBPS = 20;
/** Runs of each image with unpigz and without (GDIB_BENCH_REPEATS). */
const REPEATS = process.env.GDIB_BENCH_REPEATS ? Number(process.env.GDIB_BENCH_REPEATS) : 3;

export async function measureOnVm(log: (s: string) => void): Promise<OnVmResult> {
  const why = onVmUnavailable();
  if (why) return { skipped: why };
  const n = (name: string, d: number) => (process.env[name] ? Number(process.env[name]) : d);
  const sizes = {
    layers: n('GDIB_BENCH_LAYERS', 4),
    layerMB: n('GDIB_BENCH_LAYER_MB', 80),
    filesPerLayer: 8,
    smallFiles: n('GDIB_BENCH_SMALL_FILES', 3000),
  };
  const rig = await startRig('bench');
  try {
    const [big, real, small] = await pushBenchImages(rig, sizes);
    log(
      `images: ${[big, real, small].map((i) => `${i!.tag} ${(i!.bytes / 1e6).toFixed(0)} MB unpacked, ${(i!.compressed / 1e6).toFixed(0)} MB compressed, ${i!.files} files`).join('; ')}`,
    );
    const diskMiB = Math.max(1024, Math.ceil((3 * Math.max(big!.bytes, real!.bytes)) / 2 ** 20) + 256);
    const one = async (label: string, image: BenchImage, env?: Record<string, string>, ref = rig.ref(image.tag)): Promise<OnVmRun> => {
      const r = await runBuild(rig, label, [ref], { diskMiB: image === small ? 1024 : diskMiB, ...(env ? { env } : {}) });
      if (r.code !== 0) throw new Error(`${r.label}: the build script exited ${r.code}:\n${r.output.slice(-3000)}`);
      log(
        `${r.label}: ${r.wallSec.toFixed(1)} s, ${r.cpuSec.toFixed(1)} CPU s, ${(r.writtenBytes / 1e6).toFixed(0)} MB written; ${r.phases.map((p) => `${p.phase} ${p.sec.toFixed(1)}`).join(', ')}`,
      );
      return r;
    };
    // The script sets CONTAINERD_DISABLE_PIGZ=1 unless it is set: 0 lets containerd use unpigz (installed by the rig).
    const UNPIGZ = { CONTAINERD_DISABLE_PIGZ: '0' };
    const detached = async (r: OnVmRun, image: BenchImage, env?: string) => {
      await r.disk.detach();
      return summary(r, image, env);
    };
    // Without unpigz (the product) and with it: alternating runs, best of REPEATS each, so that a burst of other
    // work cannot decide it.
    const pair = async (image: BenchImage, label: string, first?: (r: OnVmRun) => Promise<void>) => {
      const product: RunSummary[] = [];
      const withUnpigz: RunSummary[] = [];
      for (let i = 1; i <= REPEATS; i++) {
        const r = await one(`${label}-${i}`, image);
        if (i === 1 && first) await first(r);
        product.push(await detached(r, image));
        withUnpigz.push(await detached(await one(`${label}-unpigz-${i}`, image, UNPIGZ), image, 'CONTAINERD_DISABLE_PIGZ=0 (unpigz)'));
      }
      return [bestOf(product), bestOf(withUnpigz)] as const;
    };
    const [bigRun, bigPigz] = await pair(big!, 'big');
    let t: Toggles | undefined;
    const [realRun, realPigz] = await pair(real!, 'real', async (r) => {
      t = await toggles(r);
      log(`toggles: ${JSON.stringify(t)}`);
    });
    const smallRun = await detached(await one('small', small!), small!);
    let downloads: Downloads | undefined;
    let downloadsError: string | undefined;
    try {
      downloads = await measureDownloads(rig, real!, one, detached);
      log(
        `downloads at ${THROTTLE_MBPS} MB/s a connection: parallel ${downloads.parallel.wallSec.toFixed(1)} s (${downloads.parallel.maxOpen} at once), one at a time ${downloads.serial.wallSec.toFixed(1)} s`,
      );
    } catch (err) {
      downloadsError = (err as Error).message.split('\n')[0];
      log(`downloads: ${downloadsError}`);
    }
    let lv: LocalVsVm | undefined;
    let lvError: string | undefined;
    try {
      lv = await localVsVm(rig, rig.ref(real!.tag), { diskGb: 10, maxDiskMiB: diskMiB });
      log(`--local ${lv.local.wallSec.toFixed(1)} s, VM path ${lv.vm.wallSec.toFixed(1)} s`);
    } catch (err) {
      lvError = (err as Error).message.split('\n')[0];
      log(`--local vs VM: ${lvError}`);
    }
    return {
      runs: [bigRun, realRun, smallRun],
      toggles: t!,
      pigzOn: [bigPigz, realPigz],
      ...(downloads ? { downloads } : { downloadsError: downloadsError ?? 'not run' }),
      ...(lv ? { localVsVm: lv } : {}),
      ...(lvError ? { localVsVmError: lvError } : {}),
      sizes,
    };
  } finally {
    await rig.close();
  }
}

/**
 * bench-real through a proxy that holds every connection to THROTTLE_MBPS: once as the script runs it (containerd
 * fetches the layers at once, each on its connection), once with `--max-concurrent-downloads 1` added to
 * `ctr images pull` by a PATH shim (one layer at a time, as with a sequential puller).
 */
async function measureDownloads(
  rig: Rig,
  image: BenchImage,
  one: (label: string, image: BenchImage, env?: Record<string, string>, ref?: string) => Promise<OnVmRun>,
  detached: (r: OnVmRun, image: BenchImage, env?: string) => Promise<RunSummary>,
): Promise<Downloads> {
  const bytesPerSec = THROTTLE_MBPS * 1e6;
  const run = async (label: string, env?: Record<string, string>, what?: string) => {
    const proxy = await startThrottle(rig.open.host, bytesPerSec);
    try {
      hostsToml(rig.hostsDir, proxy.host, proxy.host);
      const r = await one(label, image, env, `${proxy.host}/${REPO}:${image.tag}`);
      const { connections, maxOpen } = proxy.stats();
      return { ...(await detached(r, image, what)), connections, maxOpen };
    } finally {
      await proxy.close();
    }
  };
  const parallel = await run('real-throttled', undefined, `${THROTTLE_MBPS} MB/s a connection`);
  const shim = ctrShim(join(rig.dir, 'ctr-serial'), ['--max-concurrent-downloads', '1']);
  const serial = await run(
    'real-throttled-serial',
    { PATH: `${shim}:${STANDARD_PATH}` },
    `${THROTTLE_MBPS} MB/s a connection, one download at a time`,
  );
  return { bytesPerSec, parallel, serial };
}

const MB = (b: number) => (b / 1e6).toFixed(0);
const s1 = (v: number) => v.toFixed(1);
const s2 = (v: number) => v.toFixed(2);

/** The markdown blocks of §5. */
export function onVmSection(r: OnVmResult | undefined, machineLine: string, install?: InstallBench | { skipped: string }): string[] {
  const head = '## 5. The on-VM stage';
  if (!r) return [head, '**Skipped: the benchmark did not run** (it failed or was interrupted; see the `npm run bench` output).'];
  if ('skipped' in r)
    return [
      head,
      `**Skipped: ${r.skipped}.** The rig (test/rig) needs root, Linux, loop devices, overlayfs, containerd, docker-registry, skopeo, pigz and a cgroup v1 cpuacct hierarchy; §6 keeps its estimates for these phases.`,
    ];
  const out: string[] = [head];
  const [big, real] = [r.runs[0]!, r.runs[1]!];
  out.push(
    `**Measured on the startup-script rig, on ${machineLine}.** The rendered build script (the exact \`startup-script\` value) runs under bash as root ` +
      'against the local registry (plain http on 127.0.0.1) and a sparse file on a loop device as the data disk, with its own containerd. Phase times come ' +
      "from the script's `gdib: phase=` lines, timestamped as they arrive; CPU seconds from a cpuacct cgroup holding the script and everything it starts " +
      '(containerd, ctr, unpigz, md5sum …); bytes written from `/sys/block/loopN/stat` (sectors written) before and after. Three images: random bytes ' +
      '(gzip gains nothing: the worst case for the network, the best for decompression), real files of this machine (compressible like real layers), ' +
      'and many small files:',
    table(
      ['image', 'content', 'layers', 'files', 'unpacked', 'compressed (pulled)', 'ratio'],
      r.runs.map((x) => [
        x.image.tag,
        x.image.what,
        String(x.image.layers),
        String(x.image.files),
        `${MB(x.image.bytes)} MB`,
        `${MB(x.image.compressed)} MB`,
        `${(x.image.bytes / x.image.compressed).toFixed(2)}×`,
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  const order = ['(before the first phase)', 'installing', 'formatting', 'pulling', 'unpacking', 'checksumming', 'done'];
  const rows: string[][] = [];
  for (const x of [...r.runs, ...r.pigzOn]) {
    const name = x.env ? `${x.image.tag}, ${x.env}` : x.image.tag;
    const map = new Map(x.phases);
    for (const ph of order) {
      const p = map.get(ph);
      if (!p) continue;
      const rate =
        ph === 'unpacking' || ph === 'pulling' || ph === 'checksumming' ? `${(x.image.bytes / 1e6 / p.sec).toFixed(0)} MB/s` : '';
      rows.push([name, ph, s2(p.sec), s2(p.cpuSec), MB(p.writtenBytes), rate]);
    }
    rows.push([
      name,
      x.samples && x.samples.length > 1
        ? `**whole run** (fastest of ${x.samples.length}: ${x.samples.map(s1).join(' / ')} s)`
        : '**whole run**',
      `**${s1(x.wallSec)}**`,
      `**${s1(x.cpuSec)}**`,
      `**${MB(x.writtenBytes)}**`,
      `${(x.image.bytes / 1e6 / x.wallSec).toFixed(0)} MB/s`,
    ]);
  }
  out.push(
    table(['run', 'phase', 'wall s', 'CPU s', 'MB written to the data disk', 'unpacked MB / phase s'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
    ]),
    '`pulling` is the fetch of the layers from the registry and `unpacking` their decompression and extraction onto the data disk (containerd does both ' +
      'inside one `ctr images pull`, the script marks the switch when the content is fetched); `installing` is only the `command -v` checks here, every ' +
      'package being installed already (the install on a fresh system is measured below). Bytes written per phase follow the ' +
      "kernel's writeback, not the phase that dirtied them: most of the unpacked data reaches the loop device when the checksum pass or the final " +
      '`sync`/unmount flushes it; the whole-run figure is exact. The loop device writes into the page cache of its backing file, so the disk here is far ' +
      'faster than a pd-ssd: these are the CPU-side costs, and the disk-bound time on GCE is computed in §6.',
  );
  const t = r.toggles;
  const unp = (x: RunSummary) => phaseOf(x, 'unpacking') ?? { sec: NaN, cpuSec: NaN, writtenBytes: 0 };
  const pullSec = (x: RunSummary) => phaseOf(x, 'pulling')?.sec ?? 0;
  const pull = (x: RunSummary) => pullSec(x) + unp(x).sec;
  const times = (before: number, after: number) =>
    after <= before ? `${(before / after).toFixed(2)}× faster` : `${(after / before).toFixed(2)}× slower`;
  const [bigPigz, realPigz] = [r.pigzOn[0]!, r.pigzOn[1]!];
  const pigzRow = (product: RunSummary, pigz: RunSummary, what: string) => [
    `decompression by unpigz, ${what} (pull + unpack)`,
    `${s2(pull(product))} s; unpacking ${s2(unp(product).sec)} s, ${s2(unp(product).cpuSec)} CPU s`,
    `${s2(pull(pigz))} s; unpacking ${s2(unp(pigz).sec)} s, ${s2(unp(pigz).cpuSec)} CPU s`,
    `${times(pull(product), pull(pigz))} (whole run ${s1(product.wallSec)} s → ${s1(pigz.wallSec)} s)`,
    '**without** (decided by these figures, see below)',
    "with: `CONTAINERD_DISABLE_PIGZ=0` in the script's environment and unpigz installed; without: the script as it is (it sets 1, so containerd decompresses with Go's gzip, as on the Go tool's VM)",
  ];
  const toggleRows: string[][] = [
    [
      `parallel checksums: ${t.snapshots} snapshots of \`bench-real\` (${MB(t.bytes)} MB)`,
      `${s2(t.checksum.serialSec)} s`,
      `${s2(t.checksum.parallelSec)} s`,
      `${times(t.checksum.serialSec, t.checksum.parallelSec)} (${t.checksum.jobs} workers on ${t.checksum.jobs} CPUs); same checksums: ${t.checksum.agree ? 'yes' : '**no**'}`,
      'with',
      "without: the Go tool's `find … -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum` per snapshot; with: the script's own `snapshot_checksum` (taken from common.sh: files dealt to one md5sum per CPU, largest first); page cache warm for both, fastest of 3",
    ],
    [
      'no second copy (the Go tool copies every snapshot with `cp -r -p`, then `sync`)',
      `${s2(t.copy.sec)} s, ${MB(t.copy.writtenBytes)} MB written`,
      '0 s, 0 MB',
      `removed: a second write of every unpacked byte (${((t.copy.writtenBytes / real.writtenBytes) * 100).toFixed(0)} % on top of the build's ${MB(real.writtenBytes)} MB)`,
      'with',
      'the same directories copied to another directory of the data disk; on the loop device this is memory speed — on a 200 GB pd-ssd it is disk-bound (§6)',
    ],
    pigzRow(real, realPigz, 'real files'),
    pigzRow(big, bigPigz, 'random bytes'),
  ];
  if (r.downloads) {
    const d = r.downloads;
    toggleRows.push([
      `parallel layer downloads (\`bench-real\`, ${real.image.layers} layers, registry at ${(d.bytesPerSec / 1e6).toFixed(0)} MB/s a connection)`,
      `${s2(pullSec(d.serial))} s fetching (${d.serial.maxOpen} connection${d.serial.maxOpen === 1 ? '' : 's'} at once)`,
      `${s2(pullSec(d.parallel))} s fetching (${d.parallel.maxOpen} connections at once)`,
      `${times(pullSec(d.serial), pullSec(d.parallel))} (whole run ${s1(d.serial.wallSec)} s → ${s1(d.parallel.wallSec)} s)`,
      "with (the Go tool too: both leave containerd's default)",
      "without: `--max-concurrent-downloads 1` added to `ctr images pull` by a `ctr` wrapper first on the script's PATH; with: the script as it is (containerd's default: no limit). The rate limit is a proxy in front of the registry; connections count the manifest and config requests too",
    ]);
  }
  out.push(
    '**Each optimisation, toggled without changing the product** ("without" is the Go tool\'s way where it has one):',
    table(['optimisation', 'without it', 'with it', 'effect', 'this tool', 'how it was toggled'], toggleRows, [
      'l',
      'r',
      'r',
      'l',
      'l',
      'l',
    ]),
  );
  const pigzGain = pull(real) / pull(realPigz);
  const range = (x: RunSummary) =>
    x.samples && x.samples.length > 1 ? [Math.min(...x.samples), Math.max(...x.samples)] : [x.wallSec, x.wallSec];
  const overlap = (a: RunSummary, b: RunSummary) => range(a)[0]! <= range(b)[1]! && range(b)[0]! <= range(a)[1]!;
  const spread = (x: RunSummary) => (x.samples && x.samples.length > 1 ? `${range(x).map(s1).join('–')} s` : `${s1(x.wallSec)} s`);
  out.push(
    `**unpigz, decided by these figures.** On real files unpigz makes pull + unpack ${times(pull(real), pull(realPigz))} ` +
      `at ${s1(unp(realPigz).cpuSec - unp(real).cpuSec)} more CPU seconds of unpacking — ${overlap(real, realPigz) ? 'within' : 'beyond'} the run-to-run ` +
      `spread (whole runs ${spread(real)} without, ${spread(realPigz)} with); on random bytes ${times(pull(big), pull(bigPigz))} (gzip stores such data nearly verbatim, so inflating it costs ` +
      'next to nothing and unpigz only adds a process and a pipe). Inflating is not what bounds unpacking: containerd extracts one layer at a time and ' +
      'writing the files costs as much as decompressing them, and unpigz itself inflates in one thread (a gzip stream cannot be split). Large images ' +
      'often carry incompressible layers (model weights, media, archives), where it loses clearly. ' +
      (pigzGain >= 1.25 || pull(bigPigz) <= pull(big)
        ? 'These figures differ from the runs the decision was made on (a small gain on real layers, a clear loss on incompressible ones): revisit it.'
        : 'So the script does not install pigz, and it sets `CONTAINERD_DISABLE_PIGZ=1` so that a machine that has it (a `--local` runner) ' +
          'decompresses the same way; `build --local` still uses pigz, when present, to compress its archive, where it does run on every core.'),
  );
  out.push(
    '**Not toggled:** unpacking onto the data disk instead of the boot disk (the same containerd work either way — what it saves is the copy ' +
      'above); `sync`: the script syncs once, before unmounting (the only one needed for the disk to be complete); guest-attribute polling and the ' +
      'VM-before-image order (measured in §2–§4 against the emulator).' +
      (r.downloadsError ? ` Parallel downloads: not measured — ${r.downloadsError}.` : ''),
  );
  out.push(...installBlock(install));
  if (r.localVsVm) {
    const lv = r.localVsVm;
    const ph = (x: Record<string, number>) =>
      Object.entries(x)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`)
        .join(', ');
    out.push(
      `**\`build --local\` vs the VM path, end to end** (measured): \`${lv.image.replace(/^[^/]+\//, '')}\` (${MB(real.image.bytes)} MB unpacked), ` +
        '`--disk-size-gb=10`, the CLI in-process against the emulator; the VM path in real-VM mode (the emulated VM runs the same script on a loop ' +
        'device; its GCE operations complete at once, so no VM creation, boot or image-from-disk time is in it).',
      table(
        ['', '--local', 'VM path (emulator, real VM)'],
        [
          ['wall time, CLI start to end', `${s1(lv.local.wallSec)} s`, `${s1(lv.vm.wallSec)} s`],
          ['script phases (result.json, s)', ph(lv.local.vmPhases), ph(lv.vm.vmPhases)],
          [
            'compute API calls',
            String(
              Object.entries(lv.local.requests)
                .filter(([k]) => !k.startsWith('storage.'))
                .reduce((a, [, v]) => a + v, 0),
            ),
            String(
              Object.entries(lv.vm.requests)
                .filter(([k]) => !k.startsWith('storage.'))
                .reduce((a, [, v]) => a + v, 0),
            ),
          ],
        ],
        ['l', 'r', 'r'],
      ),
      `The difference on this machine, ${s1(lv.local.wallSec - lv.vm.wallSec)} s, is what --local adds locally beyond the script: packing the 10 GiB sparse raw disk ` +
        "into a tar.gz, and uploading it (to the emulator on loopback). The VM path's call count comes from the e2e tests' fast polling " +
        "(guest attributes every 20 ms), not the product's 6.5 s (§2).",
    );
  } else if (r.localVsVmError) {
    out.push(`**\`build --local\` vs the VM path:** not measured — the run failed: ${r.localVsVmError}`);
  }
  out.push(
    '**On real GCP (model; measured here vs assumed):** --local **removes** VM creation and boot (assumed 25 s + 25 s, 30–60 s in all, §6), the ' +
      `package install on the VM (${install && !('skipped' in install) ? `${s1(best(install.ours.wallSec))} s measured above on a fresh Debian 12` : 'assumed 25 s on a fresh image'}; a --local runner has the packages already), the data disk's create/detach/delete ` +
      '(assumed ~15 s) and the image-from-disk step (assumed 300 s for `images.insert` from a disk); it **adds** the upload of the archive (the unpacked ' +
      `bytes gzip-compressed — ${MB(real.image.compressed)} MB for \`bench-real\`; assumed 50–100 MB/s from a well-connected machine: ` +
      `${(real.image.compressed / 100e6).toFixed(0)}–${(real.image.compressed / 50e6).toFixed(0)} s) and a rawDisk import (\`images.insert\` from a GCS tar.gz: assumed ` +
      'of the same order as image-from-disk, a few minutes, growing with the archive). The script itself (pull, unpack, checksums) runs in either case, on ' +
      "this machine instead of the VM, and is measured above. Net: --local saves about a minute of VM start and install and the VM's cost, and costs " +
      'the upload; for archives of a few GB over a slow uplink the VM path is faster.',
  );
  return out;
}

/** The rates §6 carries to the VM, from the real-file image's runs and the toggles. */
export function figuresOf(r: OnVmResult | undefined, install?: InstallBench | { skipped: string }): OnVmFigures | undefined {
  if (!r || 'skipped' in r) return undefined;
  const inst = install && !('skipped' in install) ? install : undefined;
  const [real, realPigz] = [r.runs[1]!, r.pigzOn[1]!];
  const phase = (x: RunSummary, name: string) => phaseOf(x, name)?.sec ?? NaN;
  const mb = real.image.bytes / 1e6;
  const t = r.toggles;
  return {
    unpackMBps: { pigz: mb / phase(realPigz, 'unpacking'), noPigz: mb / phase(real, 'unpacking') },
    fetchMBps: real.image.compressed / 1e6 / phase(real, 'pulling'),
    compressionRatio: real.image.bytes / real.image.compressed,
    checksum: {
      serialMBps: t.bytes / 1e6 / t.checksum.serialSec,
      parallelMBps: t.bytes / 1e6 / t.checksum.parallelSec,
      jobs: t.checksum.jobs,
    },
    ...(inst
      ? {
          install: {
            goSec: best(inst.go.wallSec),
            oursSec: best(inst.ours.wallSec),
            basis: `fastest of ${inst.ours.wallSec.length} runs each in a fresh Debian 12 chroot from this machine's mirror (§5); a GCE VM's mirror and package lists differ`,
          },
        }
      : {}),
  };
}

const best = (xs: number[]) => Math.min(...xs);

/** The package installation on a fresh Debian 12 (bench/lib/install.ts), this tool's vs the Go tool's commands. */
function installBlock(ib: InstallBench | { skipped: string } | undefined): string[] {
  if (!ib) return ['**Package installation:** not measured (the benchmark did not run).'];
  if ('skipped' in ib) return [`**Package installation:** not measured — ${ib.skipped}; §6 keeps an estimate.`];
  const row = (x: InstallBench['ours']) => [
    x.label,
    x.commands.map((c) => `\`${c}\``).join('; '),
    `**${s1(best(x.wallSec))}**`,
    x.wallSec.map(s1).join(' / '),
    x.downloadedMB === undefined ? '' : x.downloadedMB.toFixed(1),
    String(x.packages),
  ];
  return [
    `**Package installation on a fresh Debian 12** (measured; the \`installing\` phase on a new VM, where containerd and jq are missing): ` +
      `each sequence runs in a fresh chroot made by ${ib.base}, with empty apt lists and cache, runs alternating. This tool's is the script's own ` +
      "`install_missing` function (cut from common.sh) with the command list of build.sh; the Go tool's are the apt lines of its startup script, verbatim.",
    table(
      ['', 'commands', 'wall s (fastest)', 'every run, s', 'MB fetched (lists + packages)', 'packages installed'],
      [row(ib.ours), row(ib.go)],
      ['l', 'l', 'r', 'r', 'r', 'r'],
    ),
    `Effect: ${(best(ib.go.wallSec) / best(ib.ours.wallSec)).toFixed(1)}× faster, ${s1(best(ib.go.wallSec) - best(ib.ours.wallSec))} s less on every build. ` +
      'Notes: ' +
      ib.notes.join('; ') +
      '.',
  ];
}
