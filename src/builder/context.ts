// What every step works with: the config, the run's names, the cloud adapters, the emitter and the timings.
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Cloud } from '../gcp/types.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../gcp/retry.js';
import type { CleanupRegistry } from './cleanup.js';
import type { Emit } from './events.js';
import type { SerialLog } from './serial-log.js';
import type { LogsUploader } from './logs.js';

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
};

export interface RunNames {
  runId: string;
  disk: string;
  vm: string;
  /** Object prefix in the bucket for this run's logs (no trailing slash). */
  logPrefix: string;
  logsUrl: string;
  labels: Record<string, string>;
}

export function runNames(config: Config, runId: string): RunNames {
  const dir = `${config.jobName}-${runId}`;
  const logPrefix = config.gcsPrefix ? `${config.gcsPrefix}/${dir}` : dir;
  return {
    runId,
    disk: `${config.jobName}-${runId}-disk`,
    vm: `${config.jobName}-${runId}-vm`,
    logPrefix,
    logsUrl: `gs://${config.gcsBucket}/${logPrefix}/`,
    labels: { 'gdib-run': runId, 'gdib-job': config.jobName, 'gdib-managed': 'true' },
  };
}

export interface BuildContext {
  config: Config;
  names: RunNames;
  cloud: Cloud;
  emit: Emit;
  log: Logger;
  tuning: Tuning;
  cleanup: CleanupRegistry;
  serial: SerialLog;
  logsUploader?: LogsUploader;
  /** The environment of the run (--local passes the script's seams through from it: docs/architecture.md, Test seams). */
  env: Record<string, string | undefined>;
  /** Filled by steps as they learn things. */
  state: {
    sourceImageSizeGb?: number;
    vmPhases: Record<string, number>;
    /** Manifest digest of each container image, as resolved in preflight. */
    imageDigests: Record<string, string>;
    vmOutcome?: { state: 'succeeded' | 'failed'; error?: string };
    /** A VM insert was sent: serial-port-1.log is written whatever happens next. */
    vmCreated?: boolean;
    /** This run created the image (it exists and is kept, whatever happens after). */
    imageCreated?: boolean;
    k8sManifests?: string;
    plan?: import('./events.js').PlannedResource[];
    /** --local: the baked disk file, its archive, and the archive's URL once uploaded. */
    localDisk?: string;
    archive?: string;
    archiveUrl?: string;
  };
}
