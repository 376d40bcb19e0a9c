// The workflow (docs/architecture.md, Workflow): preflight → disk → VM → wait → detach → delete VM → image, then cleanup of everything
// temporary — on success, failure, timeout and interrupt — and the logs and result written to GCS.
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import type { Config } from '../config/types.js';
import { BuildError, InterruptedError, StepTimeoutError } from '../errors.js';
import type { Cloud } from '../gcp/types.js';
import type { Redactor } from '../io/redact.js';
import { CleanupRegistry } from './cleanup.js';
import { DEFAULT_TUNING, runNames, type BuildContext, type Tuning } from './context.js';
import type { BuildResult, Emit } from './events.js';
import { LogsUploader } from './logs.js';
import { runSteps } from './runner.js';
import { SerialLog } from './serial-log.js';
import { preflight } from './steps/preflight.js';
import { createDisk, createImage, createVm, deleteVm, detachDisk, keepForDebugging, replaceOldImage } from './steps/resources.js';
import { plan } from './steps/plan.js';
import { planLocal, planLocalVerify } from './steps/plan-local.js';
import { localBake, localVerify, packArchive, uploadArchive } from './steps/local.js';
import { nextSteps } from './next-steps.js';
import { k8sManifests } from '../k8s/manifests.js';
import type { Step } from './steps/step.js';
import { waitForVm } from './steps/wait-for-vm.js';
import { writeManifests } from './steps/write-manifests.js';
import { deadline } from '../io/abort.js';
import type { ProcessWarnings } from '../io/warnings.js';

export interface BuildDeps {
  cloud: Cloud;
  emit: Emit;
  redactor: Redactor;
  /** Aborted on SIGINT/SIGTERM (reason: InterruptedError). */
  signal: AbortSignal;
  tuning?: Partial<Tuning>;
  runId?: string;
  /** Pass one in to see, on a second Ctrl-C, what is still being deleted. */
  cleanup?: CleanupRegistry;
  env?: Record<string, string | undefined>;
  /** --log-level: the diagnostic log also goes here (redacted), from this level up. */
  diagnostics?: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; sink: { write(text: string): void } };
  /** Process warnings (the auth libraries emit some): they go to the diagnostic log, not the terminal. */
  warnings?: ProcessWarnings;
}

export interface BuildOutcome {
  result: BuildResult;
  error?: Error;
}

export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 6 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/**
 * The steps of a run. A dry run only reads: preflight's GETs and permission tests, and a plan — never a step that
 * creates, uploads, attaches or writes anything.
 */
export function stepsFor(config: Config): Step[] {
  if (config.local && config.mode === 'verify') return config.dryRun ? [planLocalVerify] : [localVerify];
  if (config.local) {
    if (config.localOnly) return config.dryRun ? [planLocal] : [localBake, packArchive];
    if (config.dryRun) return [preflight, planLocal];
    return [
      preflight,
      localBake,
      packArchive,
      uploadArchive,
      ...(config.force ? [replaceOldImage] : []),
      createImage,
      ...(config.k8sManifestsFilepath ? [writeManifests] : []),
    ];
  }
  if (config.dryRun) return [preflight, plan];
  if (config.mode === 'verify') return [preflight, createDisk, createVm, waitForVm, deleteVm];
  return [
    preflight,
    createDisk,
    createVm,
    waitForVm,
    detachDisk,
    deleteVm,
    ...(config.force ? [replaceOldImage] : []),
    createImage,
    ...(config.k8sManifestsFilepath ? [writeManifests] : []),
  ];
}

/** Whether a run calls the cloud (and so needs credentials): all but a local bake to a file and a local verify. */
export function usesCloud(config: Config): boolean {
  return !(config.local && (config.localOnly || config.mode === 'verify'));
}

export async function runBuild(config: Config, deps: BuildDeps): Promise<BuildOutcome> {
  const tuning: Tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const names = runNames(config, deps.runId ?? newRunId());
  const logLines: string[] = [];
  const buildLog = { write: (s: string) => void logLines.push(deps.redactor.redact(s)) };
  const streams: pino.StreamEntry[] = [{ level: 'debug', stream: buildLog }];
  if (deps.diagnostics) streams.push({ level: deps.diagnostics.level, stream: { write: (s: string) => deps.diagnostics!.sink.write(deps.redactor.redact(s)) } });
  const level = deps.diagnostics?.level === 'trace' ? 'trace' : 'debug';
  const log = pino({ level, base: { runId: names.runId }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams));
  const emit: Emit = (e) => {
    if (e.type !== 'serial') log.debug({ event: e }, e.type);
    deps.emit(e);
  };
  const stopWarnings = deps.warnings?.drainTo((w) => log.debug({ warning: { name: w.name, message: w.message } }, 'process warning'));
  const serial = new SerialLog(deps.redactor);
  const ctx: BuildContext = {
    config,
    names,
    cloud: deps.cloud,
    emit,
    log,
    tuning,
    cleanup: deps.cleanup ?? new CleanupRegistry(),
    serial,
    logsUploader: new LogsUploader(deps.cloud.storage, config.gcsBucket, names.logPrefix, serial, deps.redactor),
    state: { vmPhases: {}, imageDigests: {} },
    env: deps.env ?? {},
  };
  const startedAt = new Date();
  const stepTimes: Record<string, number> = {};
  emit({ type: 'run-started', runId: names.runId, mode: config.mode, logs: names.logsUrl });

  let error: Error | undefined;
  try {
    await runSteps(ctx, stepsFor(config), deps.signal, stepTimes);
  } catch (err) {
    error = err as Error;
  }

  // Once the image exists, what failed was an output, not the bake: the disk and VM hold nothing to debug.
  if (error && config.keepOnFailure && !(error instanceof InterruptedError) && !ctx.state.imageCreated) {
    const kept = keepForDebugging(ctx);
    if (kept.length) {
      const where = `--project ${config.projectName} --zone ${config.zone}`;
      emit({
        type: 'kept',
        resources: kept.map((t) => ({ kind: t.kind, name: t.name, command: t.command })),
        hints: [`gcloud compute ssh ${names.vm} ${where}`, `gcloud compute instances get-serial-port-output ${names.vm} ${where}`],
      });
    }
  }
  const leftovers = await cleanUp(ctx, stepTimes);
  const interrupted = error instanceof InterruptedError || (deps.signal.aborted && !error);
  if (!error && deps.signal.aborted) error = deps.signal.reason as Error;
  const result: BuildResult = {
    version: 1,
    state: !error ? (config.dryRun ? 'planned' : 'succeeded') : interrupted ? 'interrupted' : 'failed',
    mode: config.mode,
    runId: names.runId,
    project: config.projectName,
    zone: config.zone,
    image: {
      name: config.imageName,
      uri: `projects/${config.projectName}/global/images/${config.imageName}`,
      ...(config.mode === 'build' ? { family: config.imageFamilyName } : {}),
      // Also on a failure or interrupt after the image was made: it exists and was not deleted.
      ...(ctx.state.imageCreated ? { created: true } : {}),
    },
    containerImages: config.containerImages,
    imageDigests: ctx.state.imageDigests,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    steps: stepTimes,
    vmPhases: ctx.state.vmPhases,
    logs: names.logsUrl,
    leftovers,
    ...(ctx.state.k8sManifests ? { k8sManifests: ctx.state.k8sManifests } : {}),
    ...(ctx.state.imageCreated && config.k8sManifestsFilepath && !ctx.state.k8sManifests
      ? { unwrittenK8sManifests: { path: config.k8sManifestsFilepath, contents: k8sManifests(config.projectName, config.imageName, config.k8sNamespace) } }
      : {}),
    ...(config.mode === 'build' ? { diskSizeGb: config.diskSizeGb } : {}),
    ...(!error && !config.dryRun && !config.localOnly && config.mode === 'build' ? { next: nextSteps(config.projectName, config.imageName) } : {}),
    ...(ctx.state.plan ? { plan: ctx.state.plan } : {}),
    ...(config.archivePath && ctx.state.archive ? { archive: ctx.state.archive } : {}),
    ...(error ? { error: { step: (error as BuildError).step, message: deps.redactor.redact(error.message), ...consoleTailFor(ctx, error) } } : {}),
  };
  log.info({ result }, 'finished');
  // A preflight failure means the bucket may not be writable; don't add a second error about it.
  const canWriteLogs = !(error instanceof BuildError && error.step === 'preflight') && !config.dryRun && !!config.gcsBucket;
  if (canWriteLogs) {
    await ctx.logsUploader!.uploadFinal(logLines.join(''), `${JSON.stringify(result, null, 2)}\n`, !!ctx.state.vmCreated, deadline(ctx.tuning.logUploadTimeoutMs)).catch((err: Error) =>
      emit({ type: 'warning', message: `could not write the logs to ${names.logsUrl}: ${err.message}` }),
    );
  }
  emit({ type: 'result', result });
  stopWarnings?.();
  return { result, ...(error ? { error } : {}) };
}

/** How many of the console's last lines a timed-out wait for the VM shows with its error. */
export const CONSOLE_TAIL_LINES = 20;

/** A wait for the VM that ran out of time: what the VM was doing is the first thing the user needs. */
function consoleTailFor(ctx: BuildContext, error: Error): { consoleTail?: string[] } {
  if (!(error instanceof StepTimeoutError) || error.step !== waitForVm.name) return {};
  return { consoleTail: ctx.serial.tail(CONSOLE_TAIL_LINES) };
}

/** Deletes every registered resource under a fresh time limit, so an interrupted build still cleans up. */
async function cleanUp(ctx: BuildContext, stepTimes: Record<string, number>): Promise<BuildResult['leftovers']> {
  const pending = ctx.cleanup.pending();
  if (pending.length === 0) return [];
  const started = Date.now();
  ctx.emit({ type: 'cleanup-started', resources: pending.map((p) => `${p.kind} ${p.name}`) });
  const failures = await ctx.cleanup.runAll(deadline(ctx.tuning.cleanupTimeoutMs), (t) => ctx.emit({ type: 'resource-deleted', kind: t.kind, name: t.name }));
  stepTimes.cleanup = Date.now() - started;
  for (const f of failures) ctx.emit({ type: 'cleanup-failed', kind: f.kind, name: f.name, error: f.error, command: f.command });
  return failures.map((f) => ({ kind: f.kind, name: f.name, command: f.command }));
}

export { CleanupRegistry };
