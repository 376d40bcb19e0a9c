// What a build creates, as the specs the steps send and --dry-run shows (docs/architecture.md, Workflow): the data
// disk, the VM, the image and its record; and the gcloud command that deletes each by hand.
import { DEVICE_NAME } from '../startup-script/render.js';
import type { ImageRun, VmBuild, VmRun } from '../config/types.js';
import { scriptMetadata } from './steps/script-input.js';
import type { DiskSpec, ImageSpec, InstanceSpec } from '../gcp/types.js';
import type { BuildContext } from './context.js';
import { shellCommand } from '../io/shell-quote.js';
import { vmAccess } from './vm-access.js';
import { VERSION } from '../version.js';
import { dataRecordFor, describeRecord, recordFor, type ImageRecord } from './image-record.js';

export const DEBIAN_12 = 'projects/debian-cloud/global/images/family/debian-12';
export const DEBIAN_12_ARM64 = 'projects/debian-cloud/global/images/family/debian-12-arm64';

/** Arm machine series boot only Arm images (GCE refuses an x86 boot image on them). */
const ARM_SERIES = /^(t2a|c4a|n4a|a4x)-/;

export function bootImageFor(machineType: string): string {
  return ARM_SERIES.test(machineType) ? DEBIAN_12_ARM64 : DEBIAN_12;
}

export function deleteCommand(project: string, what: string, name: string, zone?: string): string {
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
    metadata: scriptMetadata(config, names, ctx.state.base ? 'from-image' : 'blank', ctx.state.data?.plan),
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
  const data = ctx.state.data;
  if (data) return dataRecordFor(data.plan.sources, data.files, data.plan.fingerprint, VERSION);
  return recordFor(config.containerImages, ctx.state.imageDigests, config.platform, config.storeSnapshotChecksum, VERSION);
}

/** A build's --image-name is taken (and --force was not given). */
export function takenImageNameProblem(config: ImageRun): string {
  return `image ${config.imageName} already exists in project ${config.projectName}: choose another --image-name, or delete it first (${shellCommand('gcloud', 'compute', 'images', 'delete', config.imageName, '--project', config.projectName)})`;
}

/** `archiveUrl`: a local build's uploaded archive (the image is then imported from it, not made from a disk). */
export function imageSpecFor(ctx: BuildContext<ImageRun>, archiveUrl?: string): ImageSpec {
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

/** The data disk's size: --disk-size-gb, but never smaller than the base image (GCE refuses a smaller disk). */
export function dataDiskSizeGb(ctx: BuildContext<VmBuild>): number {
  return Math.max(ctx.config.diskSizeGb, ctx.state.base?.diskSizeGb ?? 0);
}

/** The image the run's outputs name: the one it creates, or the family's image that already holds these images. */
export function productImageName(ctx: BuildContext<ImageRun>): string {
  return ctx.state.unchangedImage?.name ?? ctx.config.imageName;
}
