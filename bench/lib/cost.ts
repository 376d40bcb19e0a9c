// Cost (docs/benchmarks.md, section 3): provisioned GB and the minutes each temporary resource lives, from the emulator's ledger,
// for this tool (measured) and for the Go tool's order of operations (computed from the same measured durations).
import type { LedgerEntry } from './../../test/emulator/index.js';
import type { ScriptedBuild } from './vm-phase.js';

export interface Life {
  resource: string;
  type: string;
  sizeGb: number;
  /** Simulated minutes from the start of the build. */
  createdMin: number;
  deletedMin: number;
  minutes: number;
  gbMinutes: number;
}

export interface CostResult {
  k: number;
  diskSizeGb: number;
  bootDiskGb: number;
  ours: Life[];
  go: Life[];
  /** Simulated seconds, measured on this build. */
  durations: { vmPhase: number; detection: number; detach: number; vmDelete: number; image: number; diskDelete: number };
  /** Simulated minutes from the start of the build. */
  imageReadyMin: { ours: number; go: number };
  finishedMin: { ours: number; go: number };
  /** The image is requested once the disk is detached, with the VM's deletion alongside. */
  order: { imageRequestedBeforeVmGone: boolean; vmGoneAfterImageRequestSec: number; diskDeletedAfterImageSec: number };
  callDelays: Record<string, number>;
}

export function cost(b: ScriptedBuild, opts: { diskSizeGb: number; diskType: string; callDelays: Record<string, number> }): CostResult {
  const k = b.k;
  const min = (t: number) => ((t - b.startedAt) * k) / 60_000;
  const sec = (dt: number) => (dt * k) / 1000;
  const find = (pred: (e: LedgerEntry) => boolean, what: string) => {
    const e = b.ledger.find(pred);
    if (!e) throw new Error(`no ledger entry for ${what}`);
    if (e.deletedAt === undefined && e.kind !== 'image') throw new Error(`${what} was never deleted`);
    return e;
  };
  const vm = find((e) => e.kind === 'instance', 'the VM');
  const data = find((e) => e.kind === 'disk' && e.name.endsWith('-disk') && e.name !== vm.name, 'the data disk');
  const boot = find((e) => e.kind === 'disk' && e.name === vm.name, 'the boot disk');
  const image = find((e) => e.kind === 'image', 'the image');
  const req = (call: string) => {
    const r = b.requests.find((q) => q.call === call);
    if (!r) throw new Error(`no ${call} request`);
    return r.time;
  };
  const detachAt = req('instances.detachDisk');
  const vmDeleteAt = req('instances.delete');
  const imageAt = req('images.insert');
  const diskDeleteAt = req('disks.delete');
  const durations = {
    vmPhase: sec(b.marks.succeeded! - b.vmStartedAt),
    detection: sec(detachAt - b.marks.succeeded!),
    detach: sec(vmDeleteAt - detachAt),
    vmDelete: sec(vm.deletedAt! - vmDeleteAt),
    image: sec(image.createdAt - imageAt),
    diskDelete: sec(data.deletedAt! - diskDeleteAt),
  };
  const life = (resource: string, type: string, sizeGb: number, created: number, deleted: number): Life => ({
    resource,
    type,
    sizeGb,
    createdMin: created,
    deletedMin: deleted,
    minutes: deleted - created,
    gbMinutes: sizeGb * (deleted - created),
  });
  const bootGb = boot.sizeGb ?? 0;
  const ours: Life[] = [
    life('data disk', opts.diskType, data.sizeGb ?? 0, min(data.createdAt), min(data.deletedAt!)),
    life('boot disk', 'pd-balanced', bootGb, min(boot.createdAt), min(boot.deletedAt!)),
    life('VM', '', 0, min(vm.createdAt), min(vm.deletedAt!)),
  ];
  // The Go tool (daisy): detach → create image → cleanup (VM with its auto-delete boot disk, and the data disk, in
  // parallel). Same creation times, same measured durations; only the order differs (the end of the detach is when
  // this tool requested the VM's deletion and the image). Its boot disk is --disk-size-gb of --disk-type (imager.go:
  // InitializeParams{DiskSizeGb: req.DiskSizeGB, DiskType: req.DiskType}).
  const detachEnd = min(vmDeleteAt);
  const goImage = detachEnd + durations.image / 60;
  const goVmGone = goImage + durations.vmDelete / 60;
  const goDiskGone = goImage + durations.diskDelete / 60;
  const go: Life[] = [
    life('data disk', opts.diskType, data.sizeGb ?? 0, min(data.createdAt), goDiskGone),
    life('boot disk', opts.diskType, opts.diskSizeGb, min(boot.createdAt), goVmGone),
    life('VM', '', 0, min(vm.createdAt), goVmGone),
  ];
  return {
    k,
    diskSizeGb: opts.diskSizeGb,
    bootDiskGb: bootGb,
    ours,
    go,
    durations,
    imageReadyMin: { ours: min(image.createdAt), go: goImage },
    finishedMin: { ours: Math.max(...ours.map((l) => l.deletedMin)), go: Math.max(goVmGone, goDiskGone) },
    order: {
      imageRequestedBeforeVmGone: imageAt < vm.deletedAt!,
      vmGoneAfterImageRequestSec: sec(vm.deletedAt! - imageAt),
      diskDeletedAfterImageSec: sec(data.deletedAt! - image.createdAt),
    },
    callDelays: opts.callDelays,
  };
}
