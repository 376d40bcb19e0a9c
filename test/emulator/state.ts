/**
 * The emulator's live state: plain records in maps, inspectable (and editable) by tests.
 *
 * Keys: zonal resources `project/zone/name`, global ones `project/name`, objects `bucket/name`.
 * Every disk, instance and image ever created also has a ledger entry with its creation and
 * deletion times, so a benchmark can compute provisioned GB × minutes after the fact.
 */
import type { SerialBuffer } from './compute/serial.js';
import type { Operation } from './operations.js';

export type Architecture = 'X86_64' | 'ARM64';
export type Labels = Record<string, string>;

export interface Project {
  name: string;
  id: string;
  number: string;
}
export interface Zone {
  name: string;
  region: string;
}
export interface MachineType {
  name: string;
  guestCpus: number;
  memoryMb: number;
  architecture: Architecture;
}
export interface DiskType {
  name: string;
  minSizeGb: number;
  maxSizeGb: number;
  defaultSizeGb: number;
}
export interface Network {
  project: string;
  name: string;
  id: string;
}
export interface Subnetwork {
  project: string;
  region: string;
  name: string;
  network: string;
  id: string;
  ipCidrRange: string;
}

interface Lifetime {
  id: string;
  /**
   * What the disk holds, opaque to the emulator: a VM hook may set it (e.g. the path of a file backing a
   * loop device) and it travels disk → image (sourceDisk) → disk (sourceImage), so a later VM sees it.
   */
  content?: unknown;
  createdAt: number;
  /** Seeded at start: not reported by `leftovers()`. */
  seeded: boolean;
}

export interface Disk extends Lifetime {
  project: string;
  zone: string;
  name: string;
  sizeGb: number;
  type: string;
  labels: Labels;
  sourceImage?: string;
  sourceImageId?: string;
  architecture?: Architecture;
  /** Names of the instances (same zone) the disk is attached to. */
  users: string[];
  status: 'CREATING' | 'READY' | 'DELETING';
  lastAttachAt?: number;
  /** The Cloud KMS key that encrypts it (CMEK). */
  kmsKeyName?: string;
}

export interface AttachedDisk {
  deviceName: string;
  diskName: string;
  boot: boolean;
  autoDelete: boolean;
  mode: 'READ_WRITE' | 'READ_ONLY';
  index: number;
}

export interface MetadataItem {
  key: string;
  value: string;
}

export interface Instance extends Lifetime {
  project: string;
  zone: string;
  name: string;
  machineType: string;
  status: 'PROVISIONING' | 'RUNNING' | 'STOPPING' | 'TERMINATED';
  disks: AttachedDisk[];
  metadataItems: MetadataItem[];
  labels: Labels;
  /** The insert body's remaining fields, echoed back as given (networkInterfaces, scheduling, ...). */
  spec: Record<string, unknown>;
  serial: SerialBuffer;
  guestAttributes: Map<string, string>;
  /** When set, getGuestAttributes answers this error whatever the guest wrote. */
  guestAttributesError?: { status: number; reason?: string; message?: string };
  /** Aborted when the instance is deleted or the emulator closes: stops its VM behaviour. */
  vm: AbortController;
}

/** GCE's DeprecationStatus of an image: its state and the times recorded (RFC 3339; GCE acts on none of them). */
export interface ImageDeprecation {
  state: 'ACTIVE' | 'DEPRECATED' | 'OBSOLETE' | 'DELETED';
  replacement?: string;
  deprecated?: string;
  obsolete?: string;
  deleted?: string;
}

export interface Image extends Lifetime {
  project: string;
  name: string;
  family?: string;
  description?: string;
  labels: Labels;
  storageLocations: string[];
  diskSizeGb: number;
  architecture?: Architecture;
  sourceDisk?: string;
  sourceDiskId?: string;
  rawDiskSource?: string;
  status: 'PENDING' | 'READY' | 'DELETING';
  /** images.deprecate's status (GCE's DeprecationStatus); absent: never deprecated. */
  deprecated?: ImageDeprecation;
  /** The Cloud KMS key that encrypts it (CMEK). */
  kmsKeyName?: string;
}

/** A Cloud KMS key (kms.ts): what preflight and Compute Engine look at. */
export interface CryptoKey {
  name: string;
  purpose: 'ENCRYPT_DECRYPT' | 'ASYMMETRIC_SIGN' | 'ASYMMETRIC_DECRYPT' | 'MAC';
  /** The state of the primary version; undefined: no primary version. */
  primaryState?: 'ENABLED' | 'DISABLED' | 'DESTROYED' | 'DESTROY_SCHEDULED';
}

export interface Bucket {
  name: string;
  location: string;
  /** The permissions the caller holds on the bucket: `'all'` or an explicit list. */
  permissions: 'all' | string[];
  createdAt: number;
}

export interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  contentType: string;
  generation: number;
  metageneration: number;
  createdAt: number;
  updatedAt: number;
  metadata?: Record<string, string>;
  /** As uploaded (`gzip` for an object stored compressed); downloads transcode it as Cloud Storage does. */
  contentEncoding?: string;
}

export interface LedgerEntry {
  kind: 'disk' | 'instance' | 'image';
  project: string;
  zone?: string;
  name: string;
  sizeGb?: number;
  createdAt: number;
  deletedAt?: number;
}

export interface TokenGrant {
  time: number;
  issuer?: string;
  scope?: string;
  token?: string;
  error?: string;
}

export class EmulatorState {
  readonly projects = new Map<string, Project>();
  readonly zones = new Map<string, Zone>();
  readonly machineTypes = new Map<string, MachineType>();
  readonly diskTypes = new Map<string, DiskType>();
  readonly networks = new Map<string, Network>();
  readonly subnetworks = new Map<string, Subnetwork>();
  readonly disks = new Map<string, Disk>();
  readonly instances = new Map<string, Instance>();
  readonly images = new Map<string, Image>();
  readonly operations = new Map<string, Operation>();
  readonly buckets = new Map<string, Bucket>();
  /** Cloud KMS keys by resource name (projects/P/locations/L/keyRings/R/cryptoKeys/K). */
  readonly cryptoKeys = new Map<string, CryptoKey>();
  readonly objects = new Map<string, StoredObject>();
  readonly ledger: LedgerEntry[] = [];
  readonly tokenGrants: TokenGrant[] = [];
  /**
   * Zones Compute Engine cannot reach: an aggregated list gives such a zone's scope an `UNREACHABLE` warning and none
   * of its resources (SPEC.md, Disks).
   */
  readonly unreachableZones = new Set<string>();
  private nextId = 1000000000000000000n;

  newId(): string {
    this.nextId += 1n;
    return this.nextId.toString();
  }

  disk(project: string, zone: string, name: string): Disk | undefined {
    return this.disks.get(`${project}/${zone}/${name}`);
  }

  instance(project: string, zone: string, name: string): Instance | undefined {
    return this.instances.get(`${project}/${zone}/${name}`);
  }

  image(project: string, name: string): Image | undefined {
    return this.images.get(`${project}/${name}`);
  }

  object(bucket: string, name: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${name}`);
  }

  /** Start a ledger entry; the returned record gets `deletedAt` when the resource goes. */
  record(entry: LedgerEntry): LedgerEntry {
    this.ledger.push(entry);
    return entry;
  }

  closeRecord(kind: LedgerEntry['kind'], project: string, name: string, zone: string | undefined, at: number): void {
    const open = this.ledger.find(
      (e) => e.kind === kind && e.project === project && e.name === name && e.zone === zone && e.deletedAt === undefined,
    );
    if (open) open.deletedAt = at;
  }
}
