// The project's own view of the cloud: what the builder needs, nothing more. The real implementation talks to
// the Google client libraries (compute.ts, storage.ts); unit tests use an in-memory fake of the same shape.

export interface Labels {
  [key: string]: string;
}

export interface DiskSpec {
  name: string;
  sizeGb: number;
  /** Disk type name, e.g. pd-ssd. */
  type: string;
  sourceImage?: string;
  labels: Labels;
  /** Cloud KMS key that encrypts the disk (CMEK). */
  kmsKey?: string;
}

export interface InstanceSpec {
  name: string;
  machineType: string;
  bootImage: string;
  bootDiskSizeGb: number;
  dataDisk: string;
  deviceName: string;
  network: string;
  subnet?: string;
  serviceAccount: string;
  /** The scopes of the service account; empty: the VM gets no service account (src/builder/vm-access.ts). */
  scopes: readonly string[];
  metadata: ReadonlyArray<{ key: string; value: string }>;
  labels: Labels;
  /** false: no external IP (org policies); the VM then needs Cloud NAT or Private Google Access. */
  externalIp?: boolean;
  shieldedVm?: boolean;
  networkTags?: readonly string[];
  /** Cloud KMS key that encrypts the boot disk (CMEK). */
  kmsKey?: string;
  /** A Spot VM (docs/architecture.md, Temporary resources). */
  spot?: boolean;
}

export interface ImageSpec {
  name: string;
  /** The temporary disk in its zone, or (local builds) the archive's URL in GCS, imported as `rawDisk`. */
  source: { disk: string; zone: string } | { rawDisk: string };
  family: string;
  labels: Labels;
  storageLocations: readonly string[];
  /** What the image holds, as a record this tool reads back (src/builder/image-record.ts). */
  description?: string;
  /** Cloud KMS key that encrypts the image (CMEK). */
  kmsKey?: string;
}

/**
 * GCE's DeprecationStatus of an image (REST `deprecated`): the state, and the times recorded for the later states
 * (RFC 3339). GCE changes nothing when a time comes: the times are information; only `state` has effects (a
 * DEPRECATED image drops out of its family, OBSOLETE and DELETED refuse new uses, and DELETED deletes nothing).
 */
export interface DeprecationStatus {
  state: 'ACTIVE' | 'DEPRECATED' | 'OBSOLETE' | 'DELETED';
  /** The image that replaces this one (a URL or projects/P/global/images/NAME). */
  replacement?: string;
  deprecated?: string;
  obsolete?: string;
  deleted?: string;
}

export interface SerialChunk {
  contents: string;
  /** The byte offset the contents really start at (greater than asked when output was lost). */
  start: number;
  next: number;
}

export interface ImageInfo {
  name: string;
  selfLink?: string;
  diskSizeGb?: number;
  status?: string;
  family?: string;
  description?: string;
  /** RFC 3339, as GCE reports it. */
  creationTimestamp?: string;
  /** Absent: never deprecated (ACTIVE). */
  deprecated?: DeprecationStatus;
}

export type DeleteOutcome = 'deleted' | 'not-found';

/** What instances.get says of a VM: its status (RUNNING, STOPPING, TERMINATED, ...) and id. */
export interface InstanceState {
  status: string;
  id: string;
}

export interface ComputeApi {
  getProject(signal: AbortSignal): Promise<void>;
  getZone(signal: AbortSignal): Promise<void>;
  /** An image of the run's project, or of `project` (a --base-image elsewhere); undefined when it does not exist. */
  getImage(name: string, signal: AbortSignal, project?: string): Promise<ImageInfo | undefined>;
  /** The images of a family in the project, in any order and any status. */
  listImagesOfFamily(family: string, signal: AbortSignal): Promise<ImageInfo[]>;
  machineTypeExists(name: string, signal: AbortSignal): Promise<boolean>;
  diskTypeExists(name: string, signal: AbortSignal): Promise<boolean>;
  networkExists(ref: string, signal: AbortSignal): Promise<boolean>;
  subnetExists(ref: string, signal: AbortSignal): Promise<boolean>;
  insertDisk(spec: DiskSpec, signal: AbortSignal): Promise<void>;
  deleteDisk(name: string, signal: AbortSignal): Promise<DeleteOutcome>;
  insertInstance(spec: InstanceSpec, signal: AbortSignal): Promise<void>;
  deleteInstance(name: string, signal: AbortSignal): Promise<DeleteOutcome>;
  detachDisk(instance: string, deviceName: string, signal: AbortSignal): Promise<void>;
  /**
   * Creates the image. When waiting for it fails but GCE makes it all the same (READY, with this spec's description),
   * it resolves with the failed wait's message in `afterFailedWait` instead of throwing.
   */
  insertImage(spec: ImageSpec, signal: AbortSignal): Promise<{ afterFailedWait?: string }>;
  deleteImage(name: string, signal: AbortSignal): Promise<DeleteOutcome>;
  /** Sets an image's deprecation status (images.deprecate), replacing the one it had. */
  deprecateImage(name: string, status: DeprecationStatus, signal: AbortSignal): Promise<void>;
  getSerialPortOutput(instance: string, start: number, signal: AbortSignal): Promise<SerialChunk>;
  /** The VM's status and id, or undefined when it does not exist (--spot: docs/architecture.md, Temporary resources). */
  getInstance(name: string, signal: AbortSignal): Promise<InstanceState | undefined>;
  /** Whether GCE preempted the VM of this id (a `compute.instances.preempted` operation in the zone). */
  wasPreempted(name: string, id: string, signal: AbortSignal): Promise<boolean>;
  /** The guest attributes under a namespace, or undefined when none are readable yet. */
  getGuestAttributes(instance: string, namespace: string, signal: AbortSignal): Promise<Record<string, string> | undefined>;
}

export interface StorageApi {
  /** Checks the bucket exists and returns which of the permissions the caller holds. */
  testBucketPermissions(bucket: string, permissions: readonly string[], signal: AbortSignal): Promise<string[]>;
  writeObject(bucket: string, name: string, data: string, contentType: string, signal: AbortSignal): Promise<void>;
  /** A resumable upload of a local file, with progress in bytes sent. */
  uploadFile(bucket: string, name: string, path: string, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<void>;
  deleteObject(bucket: string, name: string, signal: AbortSignal): Promise<DeleteOutcome>;
}

export interface Cloud {
  compute: ComputeApi;
  storage: StorageApi;
  /** Resolves container images from this machine (preflight). */
  registry: import('../registry/client.js').ImageRegistry;
  /**
   * The caller's access token (a local build pulls with it where the VM would use its service account's; preflight
   * gets one first, so credentials that fail are one problem rather than one per check).
   */
  accessToken: (signal?: AbortSignal) => Promise<string>;
  /** Checks the VM's service account exists (preflight). */
  iam: import('./iam.js').IamApi;
  /** Reads the --kms-key (preflight). */
  kms: import('./kms.js').KmsApi;
  /** Reads --registry-secret secrets with the caller's token (preflight). */
  secretManager: import('./secret-manager.js').SecretManagerApi;
  /** Lists --data-source sources with the caller's credentials (preflight; docs/architecture.md, Data disks). */
  dataSources: DataSourcesApi;
}

/** What preflight needs to list a data disk's sources: Cloud Storage with the caller's token, Hugging Face with `hfToken`. */
export interface DataSourcesApi {
  resolve(
    source: import('../vm/contract.js').DataSource,
    index: number,
    hfToken: string | undefined,
    signal: AbortSignal,
  ): Promise<{ source: import('../vm/contract.js').DataSource; files: import('../vm/contract.js').DataFile[] }>;
}
