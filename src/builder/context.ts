// What every step works with: the config, the run's names, the cloud adapters, the emitter and the timings.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isCloudRun, type Run } from '../config/types.js';
import type { Cloud } from '../gcp/types.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../gcp/retry.js';
import { DEADLINE_LABEL, formatDeadline } from '../gcp/inventory.js';
import type { CleanupRegistry, Tracked } from './cleanup.js';
import type { Emit } from './events.js';
import type { SerialLog } from './serial-log.js';
import type { LogsUploader } from './logs.js';
import type { ClusterChecks } from './steps/cluster-checks.js';

/** Polling and retry intervals. The defaults respect GCE's limits; tests pass smaller ones. */
export interface Tuning {
  retry: RetryPolicy;
  /** Guest attributes: GCE allows 10 queries a minute per VM. */
  guestAttributesIntervalMs: number;
  /** Serial reads: sooner while output flows, backing off to the max while idle. */
  serialMinIntervalMs: number;
  serialMaxIntervalMs: number;
  /** The serial log in GCS is rewritten at least this often while the VM runs. */
  serialUploadIntervalMs: number;
  /** After the outcome: time between the console reads that wait for its line (the console lags the attribute). */
  serialSettleMs: number;
  /** Time limit of the cleanup that runs after a failure or interrupt. */
  cleanupTimeoutMs: number;
  /** How long an interrupted insert may settle before its resource is deleted. */
  insertSettleMs: number;
  /**
   * Time limit of the log writes at the end of a run (the last serial copy, build.log, result.json): a GCS write
   * that hangs delays the exit by at most this, then becomes a warning.
   */
  logUploadTimeoutMs: number;
  /** Limit of the last read of the VM's console before the VM is deleted (it must never hold up the delete). */
  lastConsoleReadMs: number;
  /** --spot: how often the VM's status is read while waiting, to notice a preemption. */
  instanceStatusIntervalMs: number;
}

export const DEFAULT_TUNING: Tuning = {
  retry: DEFAULT_RETRY,
  // 6.5 s, not 6: a margin under GCE's 10 queries a minute per VM for the jitter of request times.
  guestAttributesIntervalMs: 6_500,
  serialMinIntervalMs: 6_500,
  serialMaxIntervalMs: 30_000,
  serialUploadIntervalMs: 30_000,
  serialSettleMs: 1_000,
  cleanupTimeoutMs: 10 * 60_000,
  insertSettleMs: 120_000,
  logUploadTimeoutMs: 60_000,
  lastConsoleReadMs: 5_000,
  instanceStatusIntervalMs: 10_000,
};

export interface RunNames {
  runId: string;
  /**
   * Sent to the VM in metadata gdib-status-nonce; a serial status line counts only when it ends with
   * ` nonce=<this>` (docs/architecture.md, VM status). Random, never derived from anything a registry could see.
   */
  statusNonce: string;
  disk: string;
  vm: string;
  /** Where the run's logs go in GCS; absent for a run with no --gcs-path (a local bake to a file, a local verify). */
  logs?: { bucket: string; /** Object prefix for this run's logs (no trailing slash). */ prefix: string; url: string };
  /**
   * The labels of the disk and VM: the run, the job, `gdib-managed=true`, and the run's deadline (`runDeadline`) when
   * it has one, so that `cleanup` leaves them alone until then (docs/architecture.md, Temporary resources).
   */
  labels: Record<string, string>;
}

export function runNames(run: Run, runId: string, deadlineMs?: number): RunNames {
  const dir = `${run.jobName}-${runId}`;
  let logs: RunNames['logs'];
  if (isCloudRun(run)) {
    const prefix = run.gcsPrefix ? `${run.gcsPrefix}/${dir}` : dir;
    logs = { bucket: run.gcsBucket, prefix, url: `gs://${run.gcsBucket}/${prefix}/` };
  }
  return {
    runId,
    statusNonce: randomBytes(18).toString('base64url'),
    disk: `${run.jobName}-${runId}-disk`,
    vm: `${run.jobName}-${runId}-vm`,
    ...(logs ? { logs } : {}),
    labels: {
      'gdib-run': runId,
      'gdib-job': run.jobName,
      'gdib-managed': 'true',
      ...(deadlineMs !== undefined ? { [DEADLINE_LABEL]: formatDeadline(deadlineMs) } : {}),
    },
  };
}

/** The image an incremental build's data disk is created from. */
export interface BaseImage {
  project: string;
  name: string;
  /** projects/P/global/images/NAME */
  uri: string;
  diskSizeGb: number;
}

/** A field of the run's state (`BuildContext.state`) that steps write and read (see `Step`'s reads and writes). */
export type StateKey = keyof BuildContext['state'];

/**
 * The fields runBuild sets before the first step (empty), which any step may use: cleanup handles, VM phases and the
 * resolved digests (preflight fills those; a run with --skip-image-check or without preflight has none).
 */
export const RUN_OWNED_STATE: readonly StateKey[] = ['tracked', 'vmPhases', 'imageDigests'];

/** What a step works with; `R` is the kinds of run the step is part of (see stepsFor). */
export interface BuildContext<R extends Run = Run> {
  config: R;
  names: RunNames;
  cloud: Cloud;
  emit: Emit;
  log: Logger;
  tuning: Tuning;
  cleanup: CleanupRegistry;
  serial: SerialLog;
  /** Present exactly when the run writes its logs to GCS (runNames' `logs`). */
  logsUploader?: LogsUploader;
  /** The environment of the run (--local passes the script's seams through from it: docs/architecture.md, Test seams). */
  env: Record<string, string | undefined>;
  /** --cluster: doctor's checks of the cluster, given by the command layer (steps/cluster-checks.ts). */
  clusterChecks?: ClusterChecks;
  /** Filled by steps as they learn things. */
  state: {
    /** The cleanup handles of what this run created (released once deleted, or kept with --keep-on-failure). */
    tracked: { disk?: Tracked; vm?: Tracked; image?: Tracked };
    sourceImageSizeGb?: number;
    vmPhases: Record<string, number>;
    /** Manifest digest of each container image, as resolved in preflight. */
    imageDigests: Record<string, string>;
    vmOutcome?: { state: 'succeeded' | 'failed'; error?: string };
    /** --spot: how many times GCE preempted the build's VM (docs/architecture.md, Temporary resources). */
    preemptions?: number;
    /** A VM insert was sent: serial-port-1.log is written whatever happens next. */
    vmCreated?: boolean;
    /** This run created the image (it exists and is kept, whatever happens after). */
    imageCreated?: boolean;
    k8sManifests?: string;
    /** --deprecate-after & co: the deprecation status recorded on the new image. */
    lifetime?: import('../gcp/types.js').DeprecationStatus;
    /** --if-changed and preflight found --image-name taken: an error unless there is nothing to build. */
    imageNameTaken?: boolean;
    /** --if-changed: the family's image that already holds these images (nothing is built). */
    unchangedImage?: { name: string; createdAt?: string };
    /**
     * --if-changed: the family's newest READY image built by this tool (null: none), as compared; --incremental
     * starts from that same image.
     */
    newestOfFamily?: { image: import('../gcp/types.js').ImageInfo; record: import('./image-record.js').ImageRecord } | null;
    /** --base-image, as preflight found it usable (choose-base adopts it once there is something to build). */
    checkedBase?: { project: string; image: import('../gcp/types.js').ImageInfo };
    /** --incremental or --base-image: the image the data disk starts from (only read, never changed). */
    base?: BaseImage;
    /** --if-changed: what the comparison found. */
    ifChanged?: import('./events.js').IfChangedResult;
    plan?: import('./events.js').PlannedResource[];
    /** --data-source: what preflight listed, the plan sent to the VM (steps/list-data-sources.ts). */
    data?: import('./steps/list-data-sources.js').DataListing;
    /** --local: the baked disk file, its archive, and the archive's URL once uploaded. */
    localDisk?: string;
    archive?: string;
    archiveUrl?: string;
  };
}
