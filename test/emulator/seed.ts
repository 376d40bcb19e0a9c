/**
 * What exists when the emulator starts, and the options that change it.
 */
import type { Architecture, Bucket, CryptoKey, DiskType, EmulatorState, Image, ImageDeprecation, MachineType } from './state.js';

export interface EmulatorOptions {
  /** Projects the caller may use (default `['test-project']`); `debian-cloud` is always added. */
  projects?: string[];
  /** Zone names; the region is the name without its last `-x` (default us-central1-a/-b, europe-west4-a). */
  zones?: string[];
  machineTypes?: MachineType[];
  diskTypes?: DiskType[];
  /** Buckets (default `test-bucket`, all permissions). */
  buckets?: Array<{ name: string; permissions?: 'all' | string[]; location?: string }>;
  /** Extra public images, e.g. another family. */
  images?: Array<{
    project: string;
    name: string;
    family?: string;
    diskSizeGb?: number;
    architecture?: Architecture;
    /** As images.insert stores it (e.g. a record of the tool, or a foreign text). */
    description?: string;
    /** Default READY. */
    status?: Image['status'];
    /** Creation time (epoch ms; default: just before the emulator started, in the order given). */
    createdAt?: number;
    /** Its deprecation status, as images.deprecate sets it. */
    deprecated?: ImageDeprecation;
  }>;
  /** Cloud KMS keys (default SEEDED_KEYS). */
  cryptoKeys?: CryptoKey[];
  /** Serial console window per instance (default 1 MiB, as GCE). */
  serialWindowBytes?: number;
  /** How long `operations.wait` holds an operation that never finishes (default 20 ms). */
  operationWaitMs?: number;
  /** Spacing of the default VM run's steps (default 5 ms). */
  vmStepMs?: number;
  /** Require a bearer token on compute and storage calls (default true). */
  requireAuth?: boolean;
  /** Tokens accepted from the start. */
  acceptTokens?: string[];
  /** Clock for timestamps and the ledger (default Date.now). */
  clock?: () => number;
}

export const DEFAULT_MACHINE_TYPES: MachineType[] = [
  { name: 'e2-standard-4', guestCpus: 4, memoryMb: 16384, architecture: 'X86_64' },
  { name: 'e2-standard-8', guestCpus: 8, memoryMb: 32768, architecture: 'X86_64' },
  { name: 'n2-standard-8', guestCpus: 8, memoryMb: 32768, architecture: 'X86_64' },
  { name: 'n2-standard-16', guestCpus: 16, memoryMb: 65536, architecture: 'X86_64' },
  { name: 'n2d-standard-16', guestCpus: 16, memoryMb: 65536, architecture: 'X86_64' },
  { name: 't2a-standard-4', guestCpus: 4, memoryMb: 16384, architecture: 'ARM64' },
  { name: 'c4a-standard-8', guestCpus: 8, memoryMb: 32768, architecture: 'ARM64' },
];

export const DEFAULT_DISK_TYPES: DiskType[] = [
  { name: 'pd-standard', minSizeGb: 10, maxSizeGb: 65536, defaultSizeGb: 500 },
  { name: 'pd-balanced', minSizeGb: 10, maxSizeGb: 65536, defaultSizeGb: 100 },
  { name: 'pd-ssd', minSizeGb: 10, maxSizeGb: 65536, defaultSizeGb: 100 },
  { name: 'hyperdisk-balanced', minSizeGb: 4, maxSizeGb: 65536, defaultSizeGb: 100 },
];

const RING = 'projects/test-project/locations';
/** Keys of test-project's key ring `gdib` in a region, a multi-region and global, and one whose primary is disabled. */
export const SEEDED_KEYS: CryptoKey[] = [
  { name: `${RING}/us-central1/keyRings/gdib/cryptoKeys/disks`, purpose: 'ENCRYPT_DECRYPT', primaryState: 'ENABLED' },
  { name: `${RING}/us/keyRings/gdib/cryptoKeys/multi`, purpose: 'ENCRYPT_DECRYPT', primaryState: 'ENABLED' },
  { name: `${RING}/global/keyRings/gdib/cryptoKeys/global`, purpose: 'ENCRYPT_DECRYPT', primaryState: 'ENABLED' },
  { name: `${RING}/europe-west4/keyRings/gdib/cryptoKeys/eu`, purpose: 'ENCRYPT_DECRYPT', primaryState: 'ENABLED' },
  { name: `${RING}/us-central1/keyRings/gdib/cryptoKeys/disabled`, purpose: 'ENCRYPT_DECRYPT', primaryState: 'DISABLED' },
];

const DEBIAN_IMAGES = [
  { name: 'debian-12-bookworm-v20240110', family: 'debian-12', architecture: 'X86_64' as const, deprecated: true },
  { name: 'debian-12-bookworm-v20240312', family: 'debian-12', architecture: 'X86_64' as const },
  { name: 'debian-12-bookworm-arm64-v20240312', family: 'debian-12-arm64', architecture: 'ARM64' as const },
];

const regionOf = (zone: string): string => zone.replace(/-[a-z]$/, '');

export function seed(state: EmulatorState, opts: EmulatorOptions, now: number): void {
  const projects = [...new Set([...(opts.projects ?? ['test-project']), 'debian-cloud'])];
  projects.forEach((name, i) => state.projects.set(name, { name, id: String(7000000000 + i), number: String(123456789012 + i) }));

  const zones = opts.zones ?? ['us-central1-a', 'us-central1-b', 'europe-west4-a'];
  for (const name of zones) state.zones.set(name, { name, region: regionOf(name) });
  for (const m of opts.machineTypes ?? DEFAULT_MACHINE_TYPES) state.machineTypes.set(m.name, m);
  for (const d of opts.diskTypes ?? DEFAULT_DISK_TYPES) state.diskTypes.set(d.name, d);

  const regions = [...new Set(zones.map(regionOf))];
  for (const project of projects) {
    if (project === 'debian-cloud') continue;
    state.networks.set(`${project}/default`, { project, name: 'default', id: state.newId() });
    regions.forEach((region, i) =>
      state.subnetworks.set(`${project}/${region}/default`, {
        project,
        region,
        name: 'default',
        network: 'default',
        id: state.newId(),
        ipCidrRange: `10.${128 + i}.0.0/20`,
      }),
    );
  }

  const images = [...DEBIAN_IMAGES.map((i) => ({ ...i, project: 'debian-cloud', diskSizeGb: 10 })), ...(opts.images ?? [])];
  images.forEach((i, n) => {
    const image: Image = {
      project: i.project,
      name: i.name,
      labels: {},
      storageLocations: ['eu', 'us', 'asia'],
      diskSizeGb: i.diskSizeGb ?? 10,
      status: ('status' in i && i.status) || 'READY',
      id: state.newId(),
      createdAt: ('createdAt' in i && i.createdAt) || now - (images.length - n) * 1000,
      ...('description' in i && i.description !== undefined ? { description: i.description } : {}),
      seeded: true,
      ...(i.family ? { family: i.family } : {}),
      ...(i.architecture ? { architecture: i.architecture } : {}),
      ...('deprecated' in i && i.deprecated ? { deprecated: i.deprecated === true ? { state: 'DEPRECATED' } : { ...i.deprecated } } : {}),
    };
    if (!state.projects.has(i.project))
      state.projects.set(i.project, { name: i.project, id: state.newId(), number: state.newId().slice(-12) });
    state.images.set(`${i.project}/${i.name}`, image);
  });

  for (const k of opts.cryptoKeys ?? SEEDED_KEYS) state.cryptoKeys.set(k.name, { ...k });

  const buckets = opts.buckets ?? [{ name: 'test-bucket' }];
  for (const b of buckets) {
    const bucket: Bucket = { name: b.name, location: b.location ?? 'US', permissions: b.permissions ?? 'all', createdAt: now };
    state.buckets.set(b.name, bucket);
  }
}
