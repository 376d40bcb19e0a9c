// The REST bodies of the resources the tool creates — one place, used both to create them and to show them
// (--dry-run), so what a dry run prints is exactly what a build sends.
import type { DeprecationStatus, DiskSpec, ImageSpec, InstanceSpec } from './types.js';
import { regionOf } from '../config/rules.js';

const API = 'https://www.googleapis.com/compute/v1';

export function diskBody(spec: DiskSpec, project: string, zone: string): Record<string, unknown> {
  return {
    name: spec.name,
    sizeGb: String(spec.sizeGb),
    type: `projects/${project}/zones/${zone}/diskTypes/${spec.type}`,
    labels: spec.labels,
    ...(spec.sourceImage ? { sourceImage: spec.sourceImage } : {}),
    ...encryptedWith('diskEncryptionKey', spec.kmsKey),
  };
}

/**
 * CMEK (docs/architecture.md, Temporary resources): GCE encrypts with the key's primary version. A disk or an image
 * made from a CMEK-encrypted source needs no key for the source (sourceDiskEncryptionKey and
 * sourceImageEncryptionKey are for customer-supplied keys only): GCE finds the key itself.
 */
function encryptedWith(field: 'diskEncryptionKey' | 'imageEncryptionKey', key: string | undefined): Record<string, unknown> {
  return key ? { [field]: { kmsKeyName: key } } : {};
}

/**
 * A Spot VM stops when preempted (STOP, not DELETE): it stays, so its status tells the preemption apart from a
 * VM someone deleted (with DELETE it would just be gone); the build then deletes it itself.
 * GCE requires automaticRestart false and onHostMaintenance TERMINATE for Spot VMs.
 */
function scheduling(spot: boolean | undefined): Record<string, unknown> {
  return spot
    ? { provisioningModel: 'SPOT', instanceTerminationAction: 'STOP', automaticRestart: false, onHostMaintenance: 'TERMINATE' }
    : { automaticRestart: false, onHostMaintenance: 'MIGRATE' };
}

export function instanceBody(spec: InstanceSpec, project: string, zone: string): Record<string, unknown> {
  const region = regionOf(zone);
  return {
    name: spec.name,
    machineType: `zones/${zone}/machineTypes/${spec.machineType}`,
    labels: spec.labels,
    disks: [
      {
        boot: true,
        autoDelete: true,
        type: 'PERSISTENT',
        mode: 'READ_WRITE',
        initializeParams: {
          sourceImage: spec.bootImage,
          diskSizeGb: String(spec.bootDiskSizeGb),
          diskType: `zones/${zone}/diskTypes/pd-balanced`,
          labels: spec.labels,
        },
        // On the attached disk, not in initializeParams (which has no such field): it encrypts the new boot disk.
        ...encryptedWith('diskEncryptionKey', spec.kmsKey),
      },
      {
        boot: false,
        autoDelete: false,
        type: 'PERSISTENT',
        mode: 'READ_WRITE',
        deviceName: spec.deviceName,
        source: `projects/${project}/zones/${zone}/disks/${spec.dataDisk}`,
      },
    ],
    networkInterfaces: [
      {
        network: qualify(spec.network, `projects/${project}/global/networks/`),
        ...(spec.subnet ? { subnetwork: qualify(spec.subnet, `projects/${project}/regions/${region}/subnetworks/`) } : {}),
        // Without an external IP the VM reaches registries through Cloud NAT or Private Google Access.
        ...(spec.externalIp === false ? {} : { accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }),
      },
    ],
    // Least privilege (docs/architecture.md): a VM that uses no token gets no service account at all.
    ...(spec.scopes.length ? { serviceAccounts: [{ email: spec.serviceAccount, scopes: [...spec.scopes] }] } : {}),
    metadata: { items: spec.metadata.map((m) => ({ key: m.key, value: m.value })) },
    scheduling: scheduling(spec.spot),
    ...(spec.shieldedVm ? { shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true } } : {}),
    ...(spec.networkTags?.length ? { tags: { items: [...spec.networkTags] } } : {}),
  };
}

export function imageBody(spec: ImageSpec, project: string): Record<string, unknown> {
  const { source } = spec;
  return {
    name: spec.name,
    ...('rawDisk' in source
      ? { rawDisk: { source: source.rawDisk } }
      : { sourceDisk: `projects/${project}/zones/${source.zone}/disks/${source.disk}` }),
    family: spec.family,
    ...(spec.description ? { description: spec.description } : {}),
    labels: spec.labels,
    ...(spec.storageLocations.length ? { storageLocations: [...spec.storageLocations] } : {}),
    ...encryptedWith('imageEncryptionKey', spec.kmsKey),
  };
}

/** The body of images.deprecate (GCE's DeprecationStatus): only the fields given. */
export function deprecationBody(status: DeprecationStatus): Record<string, unknown> {
  return {
    state: status.state,
    ...(status.replacement ? { replacement: status.replacement } : {}),
    ...(status.deprecated ? { deprecated: status.deprecated } : {}),
    ...(status.obsolete ? { obsolete: status.obsolete } : {}),
    ...(status.deleted ? { deleted: status.deleted } : {}),
  };
}

function qualify(ref: string, prefix: string): string {
  if (ref.includes('/')) return ref.replace(`${API}/`, '').replace(/^https:\/\/compute\.googleapis\.com\/compute\/v1\//, '');
  return `${prefix}${ref}`;
}
