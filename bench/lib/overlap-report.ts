// The markdown of §5's "beside the Go tool's script" part, from measureOverlap's figures (overlap.ts).
import { describeMode, median, VARIANTS, type MkfsRun, type OverlapResult, type Scenario, type Series } from './overlap.js';
import { summarize, table } from './stats.js';

/** The goal the on-VM stage is held to on the disk-bound multi-image build: this tool ≤ 0.6 × the Go tool's model. */
export const TARGET_RATIO = 0.6;

const MBs = (b: number) => (b / 1e6).toFixed(0);
const s1 = (v: number) => v.toFixed(1);
const s2 = (v: number) => v.toFixed(2);
const label = (key: string) => VARIANTS.find((v) => v.key === key)?.label ?? key;
const series = (sc: Scenario, key: string) => sc.series.find((s) => s.variant === key);
const med = (s: Series, f: (x: Series['samples'][number]) => number) => summarize(s.samples.map(f)).median;
const factor = (x: number) => x.toFixed(x >= 10 ? 0 : 2);
const times = (before: number, after: number) =>
  after <= before ? `${factor(before / after)}× faster` : `${factor(after / before)}× slower`;

/** The sample whose wall time is the median (or the one just above it), for its phases. */
function medianSample(s: Series) {
  const sorted = [...s.samples].sort((a, b) => a.wallSec - b.wallSec);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function overlapBlocks(r: OverlapResult | { skipped: string } | undefined): string[] {
  const head = "### The on-VM stage beside the Go tool's script, on a disk that costs what a disk costs";
  if (!r) return [head, '**Not measured: the benchmark did not run** (see the `npm run bench` output).'];
  if ('skipped' in r) return [head, `**Skipped: ${r.skipped}.**`];
  const out: string[] = [head];
  const ml = r.scenarios[0]!;
  out.push(
    'Above, the loop device writes into the page cache of its backing file, so writing a byte twice costs next to nothing. Here the data disk is ' +
      `**disk-bound**: the loop device does direct I/O (\`losetup --direct-io=on\`) and the block layer holds it to ${ml.mode.kind === 'disk-bound' ? `${ml.mode.mibPerSec.toFixed(0)} MiB/s, a ${ml.mode.modelGb} GB pd-ssd's rate` : 'a rate'} ` +
      "(0.48 MiB/s per GB; a blkio throttle rule on the loop device, which holds the kernel's writeback too). The page cache above the filesystem stays, as " +
      "on a VM: writes are held back only when they must reach the disk (a `sync`, the unmount). The work dir (containerd's root: the content store; for " +
      'the Go tool, its snapshots too) is on a boot disk of its own held to the same rate — generous to the Go tool, whose boot disk is smaller and slower. ' +
      "**The Go tool's model** (`bench/lib/go-model.sh`) runs its script's steps in its order: the same mkfs, containerd rooted on the boot disk, images " +
      'pulled one after another, then for each committed snapshot a view, `ctr snapshot mount` to find it, `cp -r -p` to the data disk and the ' +
      '`find … -exec md5sum {} + | cut | sort | md5sum` pipeline over the copy, one snapshot after another, then `sync` and unmount (its package installs ' +
      `and token fetch are left out, as they are of this tool's runs). ${r.rounds} round${r.rounds === 1 ? '' : 's'}, the variants of each scenario alternating (each round starts one ` +
      `further on); the figure is the median. This machine: ${r.machine.cpus} CPUs, so the script pulls ${r.machine.pullJobs} images at once.`,
  );
  for (const sc of r.scenarios) {
    const go = series(sc, 'go')!;
    const goMed = median(go);
    const rows = sc.series.map((s) => {
      const w = summarize(s.samples.map((x) => x.wallSec));
      return [
        s.variant === 'ours' ? `**${label(s.variant)}**` : label(s.variant),
        `${s.variant === 'ours' ? '**' : ''}${s1(w.median)}${s.variant === 'ours' ? '**' : ''}`,
        `${s1(w.min)}–${s1(w.max)}`,
        s.variant === 'go' ? '1' : `${s.variant === 'ours' ? '**' : ''}${s2(w.median / goMed)}${s.variant === 'ours' ? '**' : ''}`,
        s1(med(s, (x) => x.cpuSec)),
        MBs(med(s, (x) => x.writtenBytes)),
        MBs(med(s, (x) => x.bootWrittenBytes)),
      ];
    });
    out.push(
      `**${sc.title}** (${sc.images.map((i) => `\`${i.tag}\``).join(', ')}: ${sc.images[0]!.layers} layers each, ${sc.snapshots} distinct, ` +
        `${MBs(sc.uniqueBytes)} MB of distinct files unpacked, ${MBs(sc.images.reduce((a, i) => a + i.compressed, 0))} MB pulled in all; ` +
        `${describeMode(sc.mode)})` +
        (sc.checksumsAgree === undefined
          ? ''
          : `; both tools list the same chain IDs with the same checksums: ${sc.checksumsAgree ? 'yes' : '**no**'}`) +
        ':',
      table(['run', 'wall s (median)', 'range, s', '× Go model', 'CPU s', 'MB to the data disk', 'MB to the boot disk'], rows, [
        'l',
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
      ]),
    );
  }
  const ours = median(series(ml, 'ours')!);
  const goMl = median(series(ml, 'go')!);
  const ratio = ours / goMl;
  const formatting = (key: string) =>
    med(series(ml, key)!, (x) => x.phases.filter((p) => p.phase === 'formatting').reduce((a, p) => a + p.sec, 0));
  const ratioNoFormat = (ours - formatting('ours')) / (goMl - formatting('go'));
  out.push(
    `**Target (this tool ≤ ${TARGET_RATIO}× the Go tool's model, multi-image, disk-bound): ${ratio <= TARGET_RATIO ? 'met' : '**not met**'}** — ` +
      `${s1(ours)} s against ${s1(goMl)} s, **${s2(ratio)}×**. Without the formatting phase (the same runs, mkfs taken out of both): ` +
      `${s1(ours - formatting('ours'))} s against ${s1(goMl - formatting('go'))} s, ${s2(ratioNoFormat)}×. ` +
      'Besides the bytes, this tool does work of a fixed size that the model does not: it reads its parameters from the metadata server and checks ' +
      'its commands (`installing`), records each image (a `jq` over its manifest and one over its config, a label on each snapshot) and writes ' +
      '`gdib.json`, reports each phase to the guest attributes, and stops its containerd before unmounting; it keeps that work to few processes ' +
      '(docs/vm-script.md, Overlap). On images of a few hundred MB it still weighs on the total (see where the time goes, below), on images of ' +
      "several GB it does not. Pulls at once share this machine's CPUs with each other and with the checksum worker.",
  );
  const toggle = (sc: Scenario, key: string, what: string, how: string) => {
    const off = series(sc, key);
    const on = series(sc, 'ours');
    if (!off || !on) return undefined;
    const [a, b] = [median(off), median(on)];
    return [what, `${s1(a)} s`, `${s1(b)} s`, times(a, b), how];
  };
  const single = r.scenarios.find((s) => s.key === 'single-disk');
  const cache = r.scenarios.find((s) => s.key === 'ml-cache');
  const rows = [
    toggle(
      ml,
      'serial-pulls',
      'several images pulled at once',
      `\`GDIB_PULL_JOBS=1\` (without) vs the script's bound, min(CPUs, 4, GiB of memory) = ${r.machine.pullJobs} here`,
    ),
    toggle(
      ml,
      'late-checksums',
      "each image's snapshots checksummed while the next images pull",
      '`GDIB_CHECKSUM_OVERLAP=0`: all checksums after the last pull',
    ),
    toggle(
      ml,
      'late-flush',
      "each image's unpacked files written out to the disk while the next images pull (a background `sync -f`)",
      '`GDIB_FLUSH_OVERLAP=0`: written only by the final sync and unmount',
    ),
    toggle(
      ml,
      'first-with-others',
      'the first image pulled alone (containerd 1.6 unpacks a layer two pulls need at once twice)',
      '`GDIB_FIRST_PULL_ALONE=0`: the next images start with the first',
    ),
    toggle(
      ml,
      'eager-mkfs',
      'inode tables and journal not written by mkfs (`lazy_itable_init=1,lazy_journal_init=1`, mounted `noinit_itable`)',
      '`GDIB_MKFS_LAZY_ITABLE=0 GDIB_MKFS_LAZY_JOURNAL=0`: both written, as before',
    ),
    ...mkfsSteps(r).map(([what, before, now, how]) => [
      `${what}, ${r.mkfs.gb} GB disk`,
      `${s1(before.atRateSec)} s (${MBs(before.writtenBytes)} MB)`,
      `${s1(now.atRateSec)} s (${MBs(now.writtenBytes)} MB)`,
      times(before.atRateSec, now.atRateSec),
      `${how}; bytes measured, priced at the rate (see mkfs below)`,
    ]),
    toggle(ml, 'none', 'all of them together, multi-image', 'all the switches'),
    single ? toggle(single, 'none', 'all of them together, one large image', 'all the switches') : undefined,
    cache ? toggle(cache, 'none', 'all of them together, multi-image, page cache', 'all the switches') : undefined,
  ].filter((x): x is string[] => x !== undefined);
  out.push(
    '**Each overlap, toggled** (disk-bound unless said; "without" sets the benchmark-only switch the script reads, docs/architecture.md, Test seams):',
    table(['optimisation', 'without it', 'with it', 'effect', 'switch'], rows, ['l', 'r', 'r', 'l', 'l']),
  );
  const phaseRows: string[][] = [];
  for (const key of ['go', 'ours']) {
    const s = medianSample(series(ml, key)!);
    const totals = new Map<string, number>();
    for (const p of s.phases) totals.set(p.phase, (totals.get(p.phase) ?? 0) + p.sec);
    phaseRows.push([label(key), [...totals].map(([p, v]) => `${p} ${s1(v)}`).join(', '), s1(s.wallSec)]);
  }
  out.push(
    '**Where the time goes** (the median run of each, multi-image, disk-bound; seconds per phase, summed over its stretches — with several pulls ' +
      "at once this tool's `pulling` and `unpacking` overlap, so each stretch is named by the last phase line seen):",
    table(['run', 'phases, s', 'wall s'], phaseRows, ['l', 'l', 'r']),
  );
  const m = r.mkfs;
  const flagsOf = (x: MkfsRun) => `\`lazy_itable_init=${x.lazyItable ? 1 : 0},lazy_journal_init=${x.lazyJournal ? 1 : 0}\``;
  const now = (x: MkfsRun) => x.lazyItable && x.lazyJournal;
  out.push(
    `**mkfs on a ${m.gb} GB disk** (a sparse file, direct I/O, no rate limit: the bytes are counted, then priced at ${m.mibPerSec.toFixed(0)} MiB/s; ` +
      'mke2fs zeroes with `BLKZEROOUT`, which the loop device turns into allocation, so the time here says little and the bytes say what a disk pays):',
    table(
      ['', 'wall s here', 'MB written', `s at ${m.mibPerSec.toFixed(0)} MiB/s`],
      m.runs.map((x) => [
        `${flagsOf(x)}${now(x) ? ' (now)' : !x.lazyItable && !x.lazyJournal ? ' (before)' : ''}`,
        s2(x.sec),
        MBs(x.writtenBytes),
        s1(x.atRateSec),
      ]),
      ['l', 'r', 'r', 'r'],
    ),
    'What is left is the superblocks, the group descriptors and the bitmaps. A new persistent disk reads as zeros, ' +
      "so the unwritten inode tables and journal read as what mkfs would have written: the journal's superblock says it is empty, so no mount replays it " +
      '(mke2fs warns that an unzeroed journal is a risk after a crash on a disk that held old data: a new disk holds none, and a failed build ' +
      'discards its disk), and the block groups say which inodes were never used, so neither the kernel nor ' +
      '`e2fsck` reads those, and `noinit_itable` keeps the kernel from zeroing them in the background while the build writes (without it, the first ' +
      'read-write mount would write them anyway). GKE mounts the disk read-only. The image holds fewer written blocks, never more. ' +
      `\`e2fsck -f -n\` after a build onto a disk formatted this way: ${m.fsckClean ? 'clean' : `**not clean** (${m.fsckDetail})`}; the rig's disk checks ` +
      '(test/startup-script/build.test.ts: overlay mounts equal to each image, checksums, e2fsck) run on such disks. ' +
      `${m.fsckClean ? 'Adopted.' : '**Not clean: this must not ship.**'}`,
  );
  return out;
}

/** The two mkfs steps measured: each the runs before and after it, with what it changes and its switch. */
function mkfsSteps(r: OverlapResult): Array<[string, MkfsRun, MkfsRun, string]> {
  const find = (itable: boolean, journal: boolean) => r.mkfs.runs.find((x) => x.lazyItable === itable && x.lazyJournal === journal);
  const [before, itable, both] = [find(false, false), find(true, false), find(true, true)];
  if (!before || !itable || !both) return [];
  return [
    ['inode tables not written by mkfs (`lazy_itable_init=1`, mounted `noinit_itable`)', before, itable, '`GDIB_MKFS_LAZY_ITABLE=0`'],
    ['journal not zeroed by mkfs either (`lazy_journal_init=1`)', itable, both, '`GDIB_MKFS_LAZY_JOURNAL=0`'],
  ];
}
