// The tables of bench/on-vm.ts, from its figures (bench/lib/overlap.ts).
import { describeMode, VARIANTS, type OverlapResult, type Scenario } from './overlap.js';
import { summarize, table } from './stats.js';

const label = (key: string) => VARIANTS.find((v) => v.key === key)?.label ?? key;
const s1 = (v: number) => v.toFixed(1);
const MB = (b: number) => (b / 1e6).toFixed(0);
const med = (xs: number[]) => summarize(xs).median;

function scenarioTable(sc: Scenario): string {
  const wall = (key: string) => med(sc.series.find((s) => s.variant === key)?.samples.map((x) => x.wallSec) ?? [NaN]);
  const rows = sc.series.map((s) => {
    const w = summarize(s.samples.map((x) => x.wallSec));
    return [
      label(s.variant),
      s1(w.median),
      `${s1(w.min)}–${s1(w.max)}`,
      (w.median / wall('go')).toFixed(2),
      s1(med(s.samples.map((x) => x.cpuSec))),
      MB(med(s.samples.map((x) => x.writtenBytes))),
      MB(med(s.samples.map((x) => x.bootWrittenBytes))),
    ];
  });
  const imgs = sc.images.map((i) => `${i.tag} (${i.layers} layers)`).join(', ');
  return [
    `## ${sc.title}`,
    `${imgs}; ${sc.snapshots} distinct layers, ${MB(sc.uniqueBytes)} MB unpacked, ${MB(sc.images.reduce((a, i) => a + i.compressed, 0))} MB pulled; ` +
      `${describeMode(sc.mode)}; ${sc.series[0]!.samples.length} rounds, alternating; same chain IDs and checksums from both: ${sc.checksumsAgree ? 'yes' : '**no**'}.`,
    table(['run', 'wall s (median)', 'range', '× Go model', 'CPU s', 'MB to data disk', 'MB to boot disk'], rows, [
      'l',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
      'r',
    ]),
    table(
      ['run', 'seconds per phase (the median run)'],
      sc.series.map((s) => {
        const sorted = [...s.samples].sort((a, b) => a.wallSec - b.wallSec);
        const m = sorted[Math.floor((sorted.length - 1) / 2)]!;
        const sums = new Map<string, number>();
        for (const p of m.phases) sums.set(p.phase, (sums.get(p.phase) ?? 0) + p.sec);
        return [label(s.variant), [...sums].map(([k, v]) => `${k} ${s1(v)}`).join(', ')];
      }),
      ['l', 'l'],
    ),
  ].join('\n\n');
}

export function overlapTables(r: OverlapResult): string[] {
  const k = r.mkfs;
  return [
    ...r.scenarios.map(scenarioTable),
    `## mkfs.ext4 on a ${k.gb} GB disk (bytes written, priced at ${k.mibPerSec.toFixed(0)} MiB/s)`,
    table(
      ['options', 'wall s here', 'MB written', 's at the rate'],
      k.runs.map((x) => [
        `lazy_itable_init=${x.lazyItable ? 1 : 0},lazy_journal_init=${x.lazyJournal ? 1 : 0}`,
        x.sec.toFixed(2),
        MB(x.writtenBytes),
        s1(x.atRateSec),
      ]),
      ['l', 'r', 'r', 'r'],
    ),
    `e2fsck -f -n after a build onto a disk formatted the agent's way: ${k.fsckClean ? 'clean' : `**not clean**: ${k.fsckDetail}`}.`,
  ];
}
