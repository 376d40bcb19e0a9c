// The end-to-end time of a build on real GCP, phase by phase, this tool beside the Go tool: a model computed from what
// the other benchmarks measured here (docs/benchmarks/{cli,on-vm,install}.json: run them first, a missing one leaves its
// rows assumed) and from stated assumptions where nothing here can measure (GCE's own operations); each row says which.
// Writes docs/benchmarks/time-model.json and time-model.md. Alone: `npm run bench -- bench/time-model.ts`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { LatencyResult } from './lib/cli-latency.js';
import { BOOT_RELEASE, type InstallRun } from './lib/install.js';
import { RESULTS, writeResult } from './lib/results.js';
import { summarize, table } from './lib/stats.js';
import type { Sample, Scenario } from './on-vm.js';

/** GB unpacked, the build the model describes, onto a pd-ssd data disk of DISK_GB. */
const U = 10;
const DISK_GB = 200;
const med = (xs: number[]) => summarize(xs).median;
const data = <T>(name: string): T | undefined => {
  const f = join(RESULTS, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { data: T }).data : undefined;
};

interface Row {
  phase: string;
  go: number;
  ours: number;
  basis: string;
}

function timeModel(): Row[] {
  const cli = data<{ latency: LatencyResult; detections: number[] }>('cli');
  const onVm = data<{ scenarios: Scenario[] }>('on-vm');
  const install = data<InstallRun[]>('install') ?? [];
  const invalid = (cli?.latency.kinds.invalid.summary.median ?? 250) / 1000;
  const first = (cli?.latency.kinds['first-request'].summary.median ?? 850) / 1000;
  const cliBasis = cli ? 'measured here (median)' : 'assumed (bench/cli.ts did not run)';
  const inst = (variant: InstallRun['variant'], release = BOOT_RELEASE) =>
    install.filter((r) => r.variant === variant && r.release === release);
  const [withNode, withoutNode, go] = [inst('bootstrap'), inst('bootstrap-without-node'), inst('go', 'bookworm')];
  const instBasis = (xs: InstallRun[]) =>
    xs.length
      ? `measured here: fresh Debian ${BOOT_RELEASE} chroot, this machine's mirror, median of ${xs.length}`
      : 'assumed (bench/install.ts did not run)';
  // The disk-bound single-image runs (the disk held to a 200 GB pd-ssd's rate): their formatting phase, and the data
  // work (fetch, unpack, copy or checksums, writing) without formatting and installing, carried linearly to U GB.
  // (Absent, or written in an older shape: assumed.)
  const single = onVm?.scenarios?.find((s) => s.key === 'single-disk' && s.samples);
  const onVmSec = (who: 'go' | 'ours', f: (x: Sample) => number, fallback: number) => (single ? med(single.samples[who].map(f)) : fallback);
  const formatting = (x: Sample) => x.phases.formatting ?? 0;
  const dataWork = (x: Sample) =>
    ((x.wallSec - Object.entries(x.phases).reduce((a, [p, s]) => a + (/formatting|installing|before/.test(p) ? s : 0), 0)) * U * 1e9) /
    single!.uniqueBytes;
  const onVmBasis = single
    ? `measured on the rig (disk-bound: ${DISK_GB} GB pd-ssd's rate; ${(single.uniqueBytes / 1e6).toFixed(0)} MB image, median)`
    : 'assumed (bench/on-vm.ts did not run)';
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
      ours: withNode.length && withoutNode.length ? med(withNode.map((r) => r.agentSec!)) - med(withoutNode.map((r) => r.installSec)) : 10,
      basis: `this tool: ${instBasis(withNode)} (the bootstrap with nodejs, until the agent runs, less the bootstrap without it)`,
    },
    {
      phase: `format the data disk (${DISK_GB} GB), start containerd`,
      go: onVmSec('go', formatting, 44),
      ours: onVmSec('ours', formatting, 0.1),
      basis: onVmBasis,
    },
    {
      phase: `pull, unpack, checksum, write ${U} GB`,
      go: onVmSec('go', dataWork, 600),
      ours: onVmSec('ours', dataWork, 150),
      basis: `${onVmBasis}, carried linearly to ${U} GB; 2 CPUs here, 16 on the VM`,
    },
    {
      phase: 'notice that the VM is done',
      go: 5,
      ours: cli ? med(cli.detections) : 4,
      basis: `this tool: ${cli ? 'measured here (simulated, median)' : 'assumed'}; Go: a 10 s poll`,
    },
    { phase: 'detach the disk, create the image', go: 305, ours: 305, basis: 'assumed: GCE operations' },
    { phase: 'delete what is left', go: 40, ours: 5, basis: 'assumed (this tool deletes the VM while the image is made)' },
  ];
}

describe('the time model', () => {
  it('a build on real GCP, phase by phase, from the measured figures', () => {
    const rows = timeModel();
    const s = (v: number) => (v < 1 ? v.toFixed(2) : v.toFixed(0));
    const total = (pick: (r: Row) => number) => `**${s(rows.reduce((a, r) => a + pick(r), 0))}**`;
    writeResult('time-model', rows, [
      `A build of ${U} GB unpacked onto a ${DISK_GB} GB pd-ssd, boot image Debian ${BOOT_RELEASE}; seconds.`,
      table(
        ['phase', 'Go tool', 'this tool', 'basis'],
        [...rows.map((r) => [r.phase, s(r.go), s(r.ours), r.basis]), ['**total**', total((r) => r.go), total((r) => r.ours), '']],
        ['l', 'r', 'r', 'l'],
      ),
    ]);
  });
});
