// What a run is, as a type: parsing the command line yields one of these plans, each carrying only the fields its
// mode uses. Everything that depends on the mode — the steps, the result, the success text — is an exhaustive
// switch over `kind`, so the compiler finds a forgotten mode (docs/architecture.md, Run plans).
import type { ImagePullAuth } from '../startup-script/render.js';
import type { ClusterRef, RegistrySecret } from './rules.js';
import type { DataSource } from '../vm/contract.js';
import type { ImageLifetime } from '../commands/build/deprecation.js';

export type { RegistrySecret };

/** What the result calls the run: an image built, or one verified. */
export type Mode = 'build' | 'verify';

export type KeyFile =
  | { path: string; type: 'service_account'; clientEmail: string; privateKey: string; privateKeyId?: string; tokenUri: string }
  | { path: string; type: 'authorized_user'; clientId: string; clientSecret: string; refreshToken: string; tokenUri: string };

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'off';

export interface OutputSettings {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly logLevel: LogLevel;
}

/** What every run has. */
interface RunBase {
  readonly output: OutputSettings;
  /** Limit of each step. */
  readonly timeoutMs: number;
  /** Prefix of the temporary resources. */
  readonly jobName: string;
  readonly keyFile?: KeyFile;
}

/** A run that works in a project and writes its logs to GCS. */
export interface CloudSettings {
  readonly projectName: string;
  readonly gcsPath: string;
  readonly gcsBucket: string;
  /** Object prefix inside the bucket, without leading or trailing slashes ("" for the bucket root). */
  readonly gcsPrefix: string;
  /** --kms-key: the Cloud KMS key of every disk and image the run creates (docs/architecture.md, Temporary resources). */
  readonly kmsKey?: string;
}

/** What goes on the disk: the images, pulled for a platform, unpacked on a disk of this size. */
export interface BakeSettings {
  readonly containerImages: readonly string[];
  readonly platform: string;
  readonly imagePullAuth: ImagePullAuth;
  /** --registry-secret: hosts whose credentials are read from Secret Manager where the pull happens. */
  readonly registrySecrets: readonly RegistrySecret[];
  readonly storeSnapshotChecksum: boolean;
  readonly skipImageCheck: boolean;
  readonly diskSizeGb: number;
  /** --pull-stall-timeout: a pull that receives no bytes this long fails (whole seconds). */
  readonly pullStallTimeoutMs: number;
  /**
   * --data-source: the disk is a data disk of these sources (containerImages is then empty), as parsed; preflight
   * resolves them (docs/architecture.md, Data disks). Empty: a disk of container images.
   */
  readonly dataSources: readonly DataSource[];
  /** --hf-token-secret: `projects/P/secrets/NAME/versions/V`, the Hugging Face token the VM reads itself. */
  readonly hfTokenSecret?: string;
}

/** What a disk holds: container images (GKE's CONTAINER_IMAGE_CACHE) or data files (a plain disk). */
export type DiskKind = 'images' | 'data';

export function diskKindOf(bake: Pick<BakeSettings, 'dataSources'>): DiskKind {
  return bake.dataSources.length > 0 ? 'data' : 'images';
}

/** The image a build creates, and what is written about it. */
export interface ImageSettings {
  readonly imageName: string;
  readonly imageFamilyName: string;
  readonly imageLabels: Readonly<Record<string, string>>;
  readonly storageLocations: readonly string[];
  readonly force: boolean;
  /** --if-changed: create nothing when the family's newest image holds the same images (unless --force). */
  readonly ifChanged: boolean;
  readonly k8sManifestsFilepath?: string;
  readonly k8sNamespace: string;
  /** --deprecate-after, --obsolete-after, --delete-after: set on the image once it exists (absent: none given). */
  readonly lifetime?: ImageLifetime;
  /** --cluster: the GKE cluster checked for the image (docs/architecture.md, Doctor). */
  readonly cluster?: ClusterRef;
}

/** The temporary VM and its zone. */
export interface VmSettings {
  readonly zone: string;
  readonly region: string;
  readonly machineType: string;
  readonly diskType: string;
  readonly bootDiskSizeGb: number;
  readonly serviceAccount: string;
  readonly network: string;
  readonly subnet?: string;
  /** Unset: Debian 12 for the machine type's architecture. */
  readonly bootImage?: string;
  readonly externalIp: boolean;
  readonly shieldedVm: boolean;
  readonly networkTags: readonly string[];
  /** --spot: the VM is a Spot VM; a preempted one is retried once on a fresh VM and disk. */
  readonly spot: boolean;
  readonly keepOnFailure: boolean;
  /** Passed to the VM's script as for a build (verify ignores the images). */
  readonly imagePullAuth: ImagePullAuth;
  readonly platform: string;
}

/**
 * Where the data disk of an incremental build starts from (docs/architecture.md, Run plans): an image named by
 * --base-image, or (--incremental) the newest image of --image-family-name that this tool built.
 */
export type BaseImageChoice = { readonly from: 'image'; readonly project: string; readonly name: string } | { readonly from: 'family' };

/** build: a VM bakes the disk, the image is made from it. */
export interface VmBuild extends RunBase, CloudSettings, BakeSettings, ImageSettings, VmSettings {
  readonly kind: 'vm-build';
  /** Absent: the data disk starts blank. */
  readonly base?: BaseImageChoice;
}

/** verify: a VM checks a disk made from an existing image. */
export interface VmVerify extends RunBase, CloudSettings, VmSettings {
  readonly kind: 'vm-verify';
  readonly imageName: string;
  /** The disk is at least this large (and at least the image's size). */
  readonly diskSizeGb: number;
  readonly storeSnapshotChecksum: boolean;
}

/** build --local: this machine bakes the disk, which is packed, uploaded and imported as the image. */
export interface LocalBuild extends RunBase, CloudSettings, BakeSettings, ImageSettings {
  readonly kind: 'local-build';
  /** --output: the archive is also kept here. */
  readonly archivePath?: string;
  readonly keepArchive: boolean;
}

/** build --local --output FILE without --image-name: only the archive, no cloud call. */
export interface LocalArchive extends RunBase, BakeSettings {
  readonly kind: 'local-archive';
  readonly archivePath: string;
}

/** verify --local FILE: a disk file or archive checked on this machine, no cloud call. */
export interface LocalVerify extends RunBase {
  readonly kind: 'local-verify';
  readonly file: string;
}

/** A run that does what it says. */
export type Run = VmBuild | VmVerify | LocalBuild | LocalArchive | LocalVerify;
export type RunKind = Run['kind'];

/** --dry-run: the same run's checks and plan, and nothing created. */
export interface DryRun {
  readonly kind: 'dry-run';
  readonly run: Run;
}

export type RunPlan = Run | DryRun;

/** cleanup: delete what killed builds left. */
export interface CleanupPlan {
  readonly kind: 'cleanup';
  readonly projectName: string;
  readonly zone?: string;
  readonly keyFile?: KeyFile;
  readonly olderThanMs: number;
  readonly dryRun: boolean;
}

/** The run behind a plan (a dry run's own). */
export function runOf(plan: RunPlan): Run {
  return plan.kind === 'dry-run' ? plan.run : plan;
}

/** Whether the result speaks of an image built or one verified. */
export function modeOf(run: Run): Mode {
  switch (run.kind) {
    case 'vm-build':
    case 'local-build':
    case 'local-archive':
      return 'build';
    case 'vm-verify':
    case 'local-verify':
      return 'verify';
  }
}

/** The runs that work in a project (preflight, logs in GCS). */
export type CloudRun = VmBuild | VmVerify | LocalBuild;
/** The runs that create an image. */
export type ImageRun = VmBuild | LocalBuild;
/** The runs with a temporary VM. */
export type VmRun = VmBuild | VmVerify;
/** The runs that bake a disk on this machine. */
export type BakeRun = LocalBuild | LocalArchive;
/** The runs that work on this machine (--local). */
export type LocalRun = LocalBuild | LocalArchive | LocalVerify;

// The kinds of each group, once: the guards below and the parser (which knows a kind before its run exists) use them.
export const CLOUD_KINDS: readonly RunKind[] = ['vm-build', 'vm-verify', 'local-build'];
export const IMAGE_KINDS: readonly RunKind[] = ['vm-build', 'local-build'];
export const VM_KINDS: readonly RunKind[] = ['vm-build', 'vm-verify'];
export const BAKE_KINDS: readonly RunKind[] = ['local-build', 'local-archive'];
export const LOCAL_KINDS: readonly RunKind[] = ['local-build', 'local-archive', 'local-verify'];

export const isCloudRun = (run: Run): run is CloudRun => CLOUD_KINDS.includes(run.kind);
export const isImageRun = (run: Run): run is ImageRun => IMAGE_KINDS.includes(run.kind);
export const isVmRun = (run: Run): run is VmRun => VM_KINDS.includes(run.kind);
export const isBakeRun = (run: Run): run is BakeRun => BAKE_KINDS.includes(run.kind);
export const isLocalRun = (run: Run): run is LocalRun => LOCAL_KINDS.includes(run.kind);
