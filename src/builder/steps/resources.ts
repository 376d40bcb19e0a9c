// The steps that create and delete the temporary disk and VM, and the image.
import { DEVICE_NAME } from '../../startup-script/render.js';
import type { ImageRun, VmRun } from '../../config/types.js';
import { scriptMetadata } from './script-input.js';
import { dataDiskSizeGb } from './base-image.js';
import type { DeleteOutcome, DiskSpec, ImageSpec, InstanceSpec } from '../../gcp/types.js';
import type { BuildContext } from '../context.js';
import type { Tracked } from '../cleanup.js';
import type { Step } from './step.js';
import { deadline } from '../../io/abort.js';
import { shellCommand } from '../../io/shell-quote.js';
import { vmAccess } from '../vm-access.js';
import { VERSION } from '../../version.js';
import { describeRecord, recordFor, type ImageRecord } from '../image-record.js';

export const DEBIAN_12 = 'projects/debian-cloud/global/images/family/debian-12';
export const DEBIAN_12_ARM64 = 'projects/debian-cloud/global/images/family/debian-12-arm64';

/** Arm machine series boot only Arm images (GCE refuses an x86 boot image on them). */
const ARM_SERIES = /^(t2a|c4a|n4a|a4x)-/;

export function bootImageFor(machineType: string): string {
  return ARM_SERIES.test(machineType) ? DEBIAN_12_ARM64 : DEBIAN_12;
}

function gcloud(project: string, what: string, name: string, zone?: string): string {
  return shellCommand('gcloud', 'compute', what, 'delete', name, '--project', project, ...(zone ? ['--zone', zone] : []), '--quiet');
}

/** The specs of what a build creates, shared by the steps and by --dry-run. */
export function diskSpecFor(ctx: BuildContext<VmRun>): DiskSpec {
  const { config, names } = ctx;
  const base = { name: names.disk, type: config.diskType, labels: names.labels, ...(config.kmsKey ? { kmsKey: config.kmsKey } : {}) };
  switch (config.kind) {
    case 'vm-build': {
      // An incremental build's disk is created from its base image, and is never smaller than it.
      const from = ctx.state.base;
      return { ...base, sizeGb: dataDiskSizeGb({ ...ctx, config }), ...(from ? { sourceImage: from.uri } : {}) };
    }
    case 'vm-verify':
      return {
        ...base,
        sizeGb: Math.max(config.diskSizeGb, ctx.state.sourceImageSizeGb ?? 0),
        sourceImage: `projects/${config.projectName}/global/images/${config.imageName}`,
      };
  }
}

export function instanceSpecFor(ctx: BuildContext<VmRun>): InstanceSpec {
  const { config, names } = ctx;
  return {
    name: names.vm,
    machineType: config.machineType,
    bootImage: config.bootImage ?? bootImageFor(config.machineType),
    bootDiskSizeGb: config.bootDiskSizeGb,
    dataDisk: names.disk,
    deviceName: DEVICE_NAME,
    network: config.network,
    subnet: config.subnet,
    serviceAccount: config.serviceAccount,
    scopes: vmAccess(config).scopes,
    metadata: scriptMetadata(config, names, ctx.state.base ? 'from-image' : 'blank'),
    labels: names.labels,
    externalIp: config.externalIp,
    shieldedVm: config.shieldedVm,
    networkTags: config.networkTags,
    ...(config.kmsKey ? { kmsKey: config.kmsKey } : {}),
    ...(config.spot ? { spot: true } : {}),
  };
}

/** What the image holds: the references with the digests preflight resolved (none with --skip-image-check). */
export function imageRecordFor(ctx: BuildContext<ImageRun>): ImageRecord {
  const { config } = ctx;
  return recordFor(config.containerImages, ctx.state.imageDigests, config.platform, config.storeSnapshotChecksum, VERSION);
}

/** A build's --image-name is taken (and --force was not given). */
export function takenImageNameProblem(config: ImageRun): string {
  return `image ${config.imageName} already exists in project ${config.projectName}: choose another --image-name, or delete it first (${shellCommand('gcloud', 'compute', 'images', 'delete', config.imageName, '--project', config.projectName)})`;
}

/** `archiveUrl`: a local build's uploaded archive (the image is then imported from it, not made from a disk). */
export function imageSpecFor(ctx: BuildContext<ImageRun>, archiveUrl = ctx.state.archiveUrl): ImageSpec {
  const { config, names } = ctx;
  let source: ImageSpec['source'];
  switch (config.kind) {
    case 'vm-build':
      source = { disk: names.disk, zone: config.zone };
      break;
    case 'local-build':
      if (!archiveUrl) throw new Error('the archive must be uploaded before the image is created');
      source = { rawDisk: archiveUrl };
      break;
  }
  return {
    name: config.imageName,
    source,
    family: config.imageFamilyName,
    labels: { ...config.imageLabels },
    storageLocations: config.storageLocations,
    description: describeRecord(imageRecordFor(ctx)),
    ...(config.kmsKey ? { kmsKey: config.kmsKey } : {}),
  };
}

/**
 * Registers a temporary resource for cleanup *before* its insert is sent — an interrupt during the insert cannot
 * leak it — then creates it.
 */
async function createTracked(
  ctx: BuildContext<VmRun>,
  kind: 'disk' | 'vm',
  name: string,
  remove: (s: AbortSignal) => Promise<DeleteOutcome>,
  insert: () => Promise<void>,
): Promise<void> {
  ctx.state.tracked[kind] = ctx.cleanup.register({
    kind,
    name,
    command: gcloud(ctx.config.projectName, kind === 'vm' ? 'instances' : 'disks', name, ctx.config.zone),
    remove,
  });
  await insert();
  ctx.emit({ type: 'resource-created', kind, name });
}

export const createDisk: Step<VmRun> = {
  name: 'create-disk',
  title: 'Creating the temporary data disk',
  run: (ctx, signal) =>
    createTracked(
      ctx,
      'disk',
      ctx.names.disk,
      (s) => ctx.cloud.compute.deleteDisk(ctx.names.disk, s),
      () => ctx.cloud.compute.insertDisk(diskSpecFor(ctx), signal),
    ),
};

export const createVm: Step<VmRun> = {
  name: 'create-vm',
  title: 'Creating the temporary VM',
  run: (ctx, signal) => {
    ctx.state.vmCreated = true;
    const remove = async (s: AbortSignal) => {
      // The console is the one record of why a build hung: read it a last time before the VM and it are gone.
      await lastConsoleRead(ctx, s);
      return ctx.cloud.compute.deleteInstance(ctx.names.vm, s);
    };
    return createTracked(ctx, 'vm', ctx.names.vm, remove, () => ctx.cloud.compute.insertInstance(instanceSpecFor(ctx), signal));
  },
};

/**
 * Best effort and bounded (tuning.lastConsoleReadMs): a console that does not answer must never hold up the
 * delete. What it returns is kept for serial-port-1.log, not printed.
 */
export async function lastConsoleRead(ctx: BuildContext, signal: AbortSignal): Promise<void> {
  try {
    await ctx.serial.read(ctx.cloud.compute, ctx.names.vm, deadline(ctx.tuning.lastConsoleReadMs, signal));
    for (const line of ctx.serial.flush()) ctx.log.debug({ line }, 'serial');
  } catch (err) {
    ctx.log.debug({ err: String((err as Error)?.message ?? err) }, 'last read of the serial console failed');
  }
}

export const detachDisk: Step<VmRun> = {
  name: 'detach-disk',
  title: 'Detaching the data disk',
  async run(ctx, signal) {
    await ctx.cloud.compute.detachDisk(ctx.names.vm, DEVICE_NAME, signal);
  },
};

export const deleteVm: Step<VmRun> = {
  name: 'delete-vm',
  title: 'Deleting the temporary VM',
  async run(ctx, signal) {
    await ctx.cloud.compute.deleteInstance(ctx.names.vm, signal);
    const h = ctx.state.tracked.vm;
    if (h) ctx.cleanup.release(h);
    ctx.emit({ type: 'resource-deleted', kind: 'vm', name: ctx.names.vm });
  },
};

export const createImage: Step<ImageRun> = {
  name: 'create-image',
  title: 'Creating the image from the data disk',
  async run(ctx, signal) {
    const { config } = ctx;
    const c = ctx.cloud.compute;
    // While the insert is in flight the image is ours to remove: a failure or interrupt then deletes it.
    ctx.state.tracked.image = ctx.cleanup.register({
      kind: 'image',
      name: config.imageName,
      command: gcloud(config.projectName, 'images', config.imageName),
      remove: (s) => c.deleteImage(config.imageName, s),
    });
    await c.insertImage(imageSpecFor(ctx), signal);
    // Once it exists it is the product: nothing that fails or is interrupted later (an output file, the
    // cleanup of temporary resources) may delete what the user has paid for.
    keepImage(ctx);
    ctx.state.imageCreated = true;
    ctx.emit({ type: 'resource-created', kind: 'image', name: config.imageName });
  },
};

/** --force: the new disk is ready, so the old image can go (the name is free until the new image exists). */
export const replaceOldImage: Step<ImageRun> = {
  name: 'replace-image',
  title: 'Deleting the old image (--force)',
  async run(ctx, signal) {
    const outcome = await ctx.cloud.compute.deleteImage(ctx.config.imageName, signal);
    if (outcome === 'deleted') ctx.emit({ type: 'resource-deleted', kind: 'image', name: ctx.config.imageName });
  },
};

/** --keep-on-failure: leave the VM and the disk for debugging; returns what was kept. */
export function keepForDebugging(ctx: BuildContext): Tracked[] {
  const h = ctx.state.tracked;
  const kept = [h.vm, h.disk].filter((t): t is Tracked => t !== undefined && ctx.cleanup.pending().includes(t));
  for (const t of kept) ctx.cleanup.release(t);
  return kept;
}

/** The image exists: it is the product, not a temporary resource. */
function keepImage(ctx: BuildContext): void {
  const h = ctx.state.tracked.image;
  if (h) ctx.cleanup.release(h);
}
