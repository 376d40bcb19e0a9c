// The REST bodies of the resources the tool creates — one place, used both to create them and to show them
// (--dry-run), so what a dry run prints is exactly what a build sends.
import type { DiskSpec, ImageSpec, InstanceSpec } from './types.js';
import { regionOf } from '../config/rules.js';

const API = 'https://www.googleapis.com/compute/v1';

export function diskBody(spec: DiskSpec, project: string, zone: string): Record<string, unknown> {
  return {
    name: spec.name,
    sizeGb: String(spec.sizeGb),
    type: `projects/${project}/zones/${zone}/diskTypes/${spec.type}`,
    labels: spec.labels,
    ...(spec.sourceImage ? { sourceImage: spec.sourceImage } : {}),
  };
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
    serviceAccounts: [{ email: spec.serviceAccount, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
    metadata: { items: spec.metadata.map((m) => ({ key: m.key, value: m.value })) },
    scheduling: { automaticRestart: false, onHostMaintenance: 'MIGRATE' },
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
  };
}

function qualify(ref: string, prefix: string): string {
  if (ref.includes('/')) return ref.replace(`${API}/`, '').replace(/^https:\/\/compute\.googleapis\.com\/compute\/v1\//, '');
  return `${prefix}${ref}`;
}
