// Cost (docs/benchmarks.md, section 3): provisioned GB and the minutes each temporary resource lives, from the emulator's
// ledger, for this tool (measured) and for the Go tool's order of operations (computed from the same measured durations).
import type { LedgerEntry } from './../../test/emulator/index.js';
import type { ScriptedBuild } from './vm-phase.js';

export interface Life {
  resource: 'data disk' | 'boot disk' | 'VM';
  type: string;
  sizeGb: number;
  /** Simulated minutes it lived. */
  minutes: number;
}

export interface CostResult {
  diskSizeGb: number;
  ours: Life[];
  go: Life[];
  /** Simulated minutes from the start of the build. */
  imageReadyMin: { ours: number; go: number };
  finishedMin: { ours: number; go: number };
}

export function cost(b: ScriptedBuild, diskSizeGb: number, diskType: string): CostResult {
  const min = (t: number) => ((t - b.startedAt) * b.k) / 60_000;
  const find = (pred: (e: LedgerEntry) => boolean, what: string) => {
    const e = b.ledger.find(pred);
    if (!e || (e.deletedAt === undefined && e.kind !== 'image')) throw new Error(`no ledger entry for ${what}, or never deleted`);
    return e;
  };
  const vm = find((e) => e.kind === 'instance', 'the VM');
  const data = find((e) => e.kind === 'disk' && e.name.endsWith('-disk') && e.name !== vm.name, 'the data disk');
  const boot = find((e) => e.kind === 'disk' && e.name === vm.name, 'the boot disk');
  const image = find((e) => e.kind === 'image', 'the image');
  const requested = (call: string) => {
    const r = b.requests.find((q) => q.call === call);
    if (!r) throw new Error(`no ${call} request`);
    return min(r.time);
  };
  const life = (resource: Life['resource'], type: string, sizeGb: number, from: number, to: number): Life => ({
    resource,
    type,
    sizeGb,
    minutes: to - min(from),
  });
  const ours: Life[] = [
    life('data disk', diskType, data.sizeGb ?? 0, data.createdAt, min(data.deletedAt!)),
    life('boot disk', 'pd-balanced', boot.sizeGb ?? 0, boot.createdAt, min(boot.deletedAt!)),
    life('VM', '', 0, vm.createdAt, min(vm.deletedAt!)),
  ];
  // The Go tool (daisy): detach → create the image → then delete the VM (with its auto-delete boot disk) and the data
  // disk, in parallel. Same creation times and measured durations, only the order differs: its detach ends when this
  // tool requested the VM's deletion and the image. Its boot disk is --disk-size-gb of --disk-type (imager.go:
  // InitializeParams{DiskSizeGb: req.DiskSizeGB, DiskType: req.DiskType}).
  const goImage = requested('instances.delete') + (min(image.createdAt) - requested('images.insert'));
  const goVmGone = goImage + (min(vm.deletedAt!) - requested('instances.delete'));
  const goDiskGone = goImage + (min(data.deletedAt!) - requested('disks.delete'));
  const go: Life[] = [
    life('data disk', diskType, data.sizeGb ?? 0, data.createdAt, goDiskGone),
    life('boot disk', diskType, diskSizeGb, boot.createdAt, goVmGone),
    life('VM', '', 0, vm.createdAt, goVmGone),
  ];
  return {
    diskSizeGb,
    ours,
    go,
    imageReadyMin: { ours: min(image.createdAt), go: goImage },
    finishedMin: { ours: Math.max(min(data.deletedAt!), min(boot.deletedAt!), min(vm.deletedAt!)), go: Math.max(goVmGone, goDiskGone) },
  };
}
