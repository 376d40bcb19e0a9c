// The event stream the core emits; the CLI decides how to render it. Core code never prints.
import type { DataNextSteps, NextSteps } from './next-steps.js';

export type VmState = 'running' | 'succeeded' | 'failed';

export type BuildEvent =
  /** logs: where the run's logs go in GCS (a run without --gcs-path has none). */
  | { type: 'run-started'; runId: string; mode: 'build' | 'verify'; logs?: string }
  | { type: 'step-started'; step: string; title: string }
  | { type: 'step-finished'; step: string; ms: number }
  | { type: 'resource-created'; kind: ResourceKind; name: string }
  | { type: 'resource-deleted'; kind: ResourceKind; name: string }
  | { type: 'vm-phase'; phase: string; progress?: string }
  | { type: 'vm-progress'; progress: string }
  | { type: 'serial'; line: string }
  | { type: 'serial-gap'; lostBytes: number }
  | { type: 'warning'; message: string }
  /** Information the user should see (what --if-changed found). */
  | { type: 'note'; message: string }
  | { type: 'retry'; call: string; attempt: number; cause: string; delayMs: number }
  | { type: 'cleanup-started'; resources: string[] }
  | { type: 'cleanup-failed'; kind: ResourceKind; name: string; error: string; command: string }
  | { type: 'plan'; resources: PlannedResource[] }
  | { type: 'kept'; resources: Array<{ kind: ResourceKind; name: string; command: string }>; hints: string[] }
  | { type: 'result'; result: BuildResult };

/** What a build would create, with the exact REST body it would send (--dry-run). */
export interface PlannedResource {
  kind: ResourceKind;
  name: string;
  /** The call that sends the body when it is not the resource's insert (images.deprecate). */
  call?: string;
  body: Record<string, unknown>;
}

export type ResourceKind = 'disk' | 'vm' | 'image' | 'object' | 'file';

/** A data disk's contents as preflight listed them (docs/architecture.md, Data disks). */
export interface DataSummary {
  /** Each source as resolved (`gs://B/P/=DEST`, `hf://ORG/MODEL@COMMIT=DEST`). */
  sources: string[];
  files: number;
  bytes: number;
  /** dataFingerprint of the listing: what the image record keeps and --if-changed compares. */
  fingerprint: string;
  /** The commands that give the VM's service account what it needs to read the sources. */
  grants: string[];
}

export interface BuildResult {
  version: 1;
  /** unchanged: --if-changed found the family's newest image holds these images; nothing was created. */
  state: 'succeeded' | 'failed' | 'interrupted' | 'planned' | 'unchanged';
  mode: 'build' | 'verify';
  runId: string;
  /** Absent for a run that works in no project (a local bake to a file, a local verify). */
  project?: string;
  /** Absent for a run with no VM. */
  zone?: string;
  /**
   * The image built or verified (absent for a run that has none). `created`: this run created the image and it
   * exists — on success, and on a failure or interrupt after it.
   */
  image?: { name: string; uri: string; family?: string; created?: boolean };
  containerImages: readonly string[];
  /** A data disk (--data-source): what it holds; absent for a disk of container images. */
  data?: DataSummary;
  /** Manifest digest of each image for the platform, where preflight could resolve it. */
  imageDigests: Record<string, string>;
  startedAt: string;
  finishedAt: string;
  /** Wall time of each CLI step, in ms. */
  steps: Record<string, number>;
  /** Wall time of each phase the VM reported, in ms. */
  vmPhases: Record<string, number>;
  /** Where the logs are in GCS (absent for a run without --gcs-path). */
  logs?: string;
  /** consoleTail: the VM's last serial lines, when the wait for the VM ran out of time. */
  error?: { step?: string; message: string; consoleTail?: string[] };
  /** Resources that could not be deleted and must be deleted by hand. */
  leftovers: Array<{ kind: ResourceKind; name: string; command: string }>;
  k8sManifests?: string;
  /** The image was created but --k8s-manifests-filepath could not be written: where, and what to save elsewhere. */
  unwrittenK8sManifests?: { path: string; contents: string };
  /** Size of the image (= of the disk on every node), in GB. */
  diskSizeGb?: number;
  /** The next step, ready to paste: the node-pool command, Terraform, the Autopilot allowlist and nodeSelector. */
  next?: NextSteps | DataNextSteps;
  /** --local --output: the archive written. */
  archive?: string;
  /** State unchanged: when the image that already holds these images was created (GCE's creationTimestamp). */
  imageCreatedAt?: string;
  /**
   * --incremental or --base-image: the image the data disk started from (projects/P/global/images/NAME); absent
   * for a full build (also when --incremental found no image to start from).
   */
  base?: string;
  /** --if-changed: what the comparison with the family's newest image found. */
  ifChanged?: IfChangedResult;
  /** --dry-run: what would have been created. */
  plan?: PlannedResource[];
  /** --deprecate-after & co: the deprecation status recorded on the new image (state ACTIVE, the times). */
  lifetime?: import('../gcp/types.js').DeprecationStatus;
}

export type Emit = (event: BuildEvent) => void;

export interface IfChangedResult {
  /** The family's newest image already holds these images: nothing is (or, with --dry-run, would be) built. */
  upToDate: boolean;
  /** The image compared with (absent: the family has no image built by this tool). */
  comparedWith?: string;
  /** What differs, one line each. */
  changes: string[];
}
