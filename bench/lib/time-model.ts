// The end-to-end time of a build on real GCP, phase by phase, this tool beside the Go tool: a model, computed from what
// the other benchmarks measured on this machine (docs/benchmarks/{cli,on-vm,install}.json) and from stated
// assumptions where nothing here can measure (GCE's own operations). Each row says which.
import { summarize, table } from './stats.js';
import type { CliFigures } from './cli-tables.js';
import type { InstallRun, Release } from './install.js';
import type { OverlapResult } from './overlap.js';

export interface ModelInputs {
  cli?: CliFigures;
  onVm?: OverlapResult;
  install?: InstallRun[];
  /** The Debian release of the boot image (src/builder/specs.ts). */
  release: Release;
}

export interface Row {
  phase: string;
  go: number;
  ours: number;
  basis: string;
}

/** GB unpacked, the build the model describes, onto a pd-ssd data disk of DISK_GB. */
const U = 10;
const DISK_GB = 200;
const med = (xs: number[]) => summarize(xs).median;

export function timeModel(m: ModelInputs): Row[] {
  const kind = (k: string) => m.cli?.latency.kinds.find((x) => x.key === k)?.summary.median;
  const invalid = (kind('invalid') ?? 250) / 1000;
  const first = (kind('first-request') ?? 850) / 1000;
  const cliBasis = m.cli ? 'measured here (median)' : 'assumed (bench/cli.ts did not run)';
  const inst = (variant: InstallRun['variant'], release: Release) =>
    m.install?.filter((r) => r.variant === variant && r.release === release) ?? [];
  const withNode = inst('bootstrap', m.release);
  const withoutNode = inst('bootstrap-without-node', m.release);
  const go = inst('go', 'bookworm');
  const nodeShare =
    withNode.length && withoutNode.length ? med(withNode.map((r) => r.agentSec!)) - med(withoutNode.map((r) => r.installSec)) : 10;
  const instBasis = (xs: InstallRun[]) =>
    xs.length
      ? `measured here: fresh Debian ${m.release} chroot, this machine's mirror, median of ${xs.length}`
      : 'assumed (bench/install.ts did not run)';
  // The on-VM data work (fetch, unpack, copy or checksums, writing to the disk), from the disk-bound single-image runs
  // (the disk held to a 200 GB pd-ssd's rate), without their formatting and installing phases, carried to U GB.
  const single = m.onVm?.scenarios.find((s) => s.key === 'single-disk');
  const dataSec = (variant: string, fallback: number) => {
    const s = single?.series.find((x) => x.variant === variant);
    if (!single || !s) return fallback;
    const work = s.samples.map(
      (x) => x.wallSec - x.phases.filter((p) => /formatting|installing|before/.test(p.phase)).reduce((a, p) => a + p.sec, 0),
    );
    return (med(work) * U * 1e9) / single.uniqueBytes;
  };
  const mkfs = (lazy: boolean) => m.onVm?.mkfs.runs.find((r) => r.lazyItable === lazy && r.lazyJournal === lazy)?.atRateSec;
  const onVmBasis = single
    ? `measured on the rig (disk-bound: ${DISK_GB} GB pd-ssd's rate; ${(single.uniqueBytes / 1e6).toFixed(0)} MB image, median), carried linearly to ${U} GB; 2 CPUs here, 16 on the VM`
    : 'assumed (bench/on-vm.ts did not run)';
  const detection = m.cli ? med(m.cli.detections.map((d) => d.delaySec)) : 4;
  return [
    { phase: 'start the CLI, validate the flags', go: 0.05, ours: invalid, basis: `this tool: ${cliBasis}; Go binary: assumed` },
    {
      phase: 'load the API clients, first request',
      go: 0.1,
      ours: Math.max(0, first - invalid),
      basis: `this tool: ${cliBasis}; Go: assumed`,
    },
    { phase: 'preflight and image checks', go: 1, ours: 2, basis: 'assumed: a few API and registry round trips' },
    { phase: 'create the data disk and the VM', go: 30, ours: 30, basis: 'assumed: GCE operations' },
    { phase: 'boot until the startup script runs', go: 25, ours: 25, basis: 'assumed' },
    {
      phase: 'install packages (containerd; Go: and jq)',
      go: go.length ? med(go.map((r) => r.installSec)) : 40,
      ours: withoutNode.length ? med(withoutNode.map((r) => r.installSec)) : 25,
      basis: `Go: ${go.length ? `measured here (its apt lines, Debian bookworm, median of ${go.length})` : 'assumed'}; this tool: ${instBasis(withoutNode)}`,
    },
    {
      phase: 'install nodejs and start the agent',
      go: 0,
      ours: nodeShare,
      basis: `this tool: ${instBasis(withNode)} (the bootstrap with nodejs, until the agent runs, less the bootstrap without it)`,
    },
    {
      phase: `format the data disk (${DISK_GB} GB)`,
      go: mkfs(false) ?? 44,
      ours: mkfs(true) ?? 0.1,
      basis: m.onVm ? `bytes mkfs writes, measured here, at ${m.onVm.mkfs.mibPerSec.toFixed(0)} MiB/s` : 'assumed',
    },
    { phase: `pull, unpack, checksum, write ${U} GB`, go: dataSec('go', 600), ours: dataSec('ours', 150), basis: onVmBasis },
    {
      phase: 'notice that the VM is done',
      go: 5,
      ours: detection,
      basis: `this tool: ${m.cli ? 'measured here (simulated, median)' : 'assumed'}; Go: a 10 s poll`,
    },
    { phase: 'detach the disk, create the image', go: 305, ours: 305, basis: 'assumed: GCE operations' },
    { phase: 'delete what is left', go: 40, ours: 5, basis: 'assumed (this tool deletes the VM while the image is made)' },
  ];
}

export function timeModelTables(rows: Row[], release: Release): string[] {
  const s = (v: number) => (v < 1 ? v.toFixed(2) : v.toFixed(0));
  const total = (pick: (r: Row) => number) => rows.reduce((a, r) => a + pick(r), 0);
  return [
    `A build of ${U} GB unpacked onto a ${DISK_GB} GB pd-ssd, boot image Debian ${release}; seconds.`,
    table(
      ['phase', 'Go tool', 'this tool', 'basis'],
      [
        ...rows.map((r) => [r.phase, s(r.go), s(r.ours), r.basis]),
        ['**total**', `**${s(total((r) => r.go))}**`, `**${s(total((r) => r.ours))}**`, ''],
      ],
      ['l', 'r', 'r', 'l'],
    ),
  ];
}
