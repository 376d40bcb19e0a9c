// The workflow (docs/architecture.md, Workflow): preflight → disk → VM → wait → detach → image, with the VM's deletion
// alongside the image, then cleanup of everything
// temporary — on success, failure, timeout and interrupt — and the logs and result written to GCS.
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import {
  isBakeRun,
  isCloudRun,
  isImageRun,
  isVmRun,
  modeOf,
  runOf,
  type ImageRun,
  diskKindOf,
  type LocalArchive,
  type LocalBuild,
  type Run,
  type RunPlan,
  type VmBuild,
} from '../config/types.js';
import { BuildError, InterruptedError, StepTimeoutError } from '../errors.js';
import type { Cloud } from '../gcp/types.js';
import type { Redactor } from '../io/redact.js';
import { CleanupRegistry } from './cleanup.js';
import { DEFAULT_TUNING, runNames, type BuildContext, type StateKey, type Tuning } from './context.js';
import { checkStepFlow } from './step-flow.js';
import { SPOT_ATTEMPTS } from './preemption.js';
import type { BuildResult, Emit } from './events.js';
import { LogsUploader } from './logs.js';
import { runSteps } from './runner.js';
import { SerialLog } from './serial-log.js';
import { preflight } from './steps/preflight.js';
import { createDisk } from './steps/create-disk.js';
import { createVm } from './steps/create-vm.js';
import { detachDisk } from './steps/detach-disk.js';
import { deleteVm } from './steps/delete-vm.js';
import { replaceOldImage } from './steps/replace-image.js';
import { createImage } from './steps/create-image.js';
import { keepForDebugging } from './tracked.js';
import { plan } from './steps/plan.js';
import { planLocal } from './steps/plan-local.js';
import { planLocalVerify } from './steps/plan-local-verify.js';
import { localBake } from './steps/local-bake.js';
import { packArchive } from './steps/pack-archive.js';
import { uploadArchive } from './steps/upload-archive.js';
import { localVerify } from './steps/local-verify.js';
import { dataManifestsOf, nextStepsFor } from './next-steps.js';
import { k8sManifests } from '../k8s/manifests.js';
import type { Step } from './steps/step.js';
import { waitForVm } from './steps/wait-for-vm.js';
import { writeManifests } from './steps/write-manifests.js';
import { checkCluster, type ClusterChecks } from './steps/cluster-checks.js';
import { dataSummary, listDataSources } from './steps/list-data-sources.js';
import { setImageLifetime } from './steps/image-lifetime.js';
import { compareWithFamily } from './steps/compare-with-family.js';
import { choosing } from './steps/choose-base.js';
import { dataDiskSizeGb } from './specs.js';
import { deadline } from '../io/abort.js';
import { shellCommand } from '../io/shell-quote.js';
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
  /** --cluster: doctor's checks of the cluster (steps/cluster-checks.ts). */
  clusterChecks?: ClusterChecks;
}

export interface BuildOutcome {
  result: BuildResult;
  error?: Error;
}

/** Slack for the clocks of this machine and of the one that runs `cleanup`, and for a loaded event loop. */
export const DEADLINE_MARGIN_MS = 10 * 60_000;

/**
 * The latest a run started at `startedAt` can still be working (docs/architecture.md, Temporary resources): each of
 * its steps its full --timeout (a step runs under its own), the steps a --spot preemption runs again (`create-disk`
 * through `wait-vm`) counted once more per retry, then the limits of the final cleanup (an interrupted insert's
 * settling included) and of the log writes, and a margin. A bound, not a forecast: `cleanup` leaves the run's disk
 * and VM alone until it has passed.
 */
export function runDeadline(run: Run, tuning: Tuning, startedAt: number): number {
  const steps = stepsFor(run);
  let stepRuns = steps.length;
  const spot = (run.kind === 'vm-build' || run.kind === 'vm-verify') && run.spot;
  const from = steps.findIndex((s) => s.name === createDisk.name);
  const to = steps.findIndex((s) => s.name === waitForVm.name);
  if (spot && from >= 0 && to >= from) stepRuns += (SPOT_ATTEMPTS - 1) * (to - from + 1);
  return (
    startedAt + stepRuns * run.timeoutMs + tuning.insertSettleMs + tuning.cleanupTimeoutMs + tuning.logUploadTimeoutMs + DEADLINE_MARGIN_MS
  );
}

export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 6 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** A step bound to the run it is part of: the compiler checked that the step serves that kind of run. */
export interface PlannedStep {
  name: string;
  title: string;
  run: (ctx: BuildContext, signal: AbortSignal) => Promise<void>;
  /** What it reads, writes and may read of the run's state, for this run (see `Step`). */
  reads: readonly StateKey[];
  uses: readonly StateKey[];
  writes: readonly StateKey[];
  skippedWhenUnchanged?: boolean;
  alongside?: boolean;
}

/** The steps bound to the run, their state checked to flow from the steps before them (`checkStepFlow`). */
function bind<R extends Run>(config: R, steps: ReadonlyArray<Step<R> | false | undefined>): PlannedStep[] {
  const planned = steps
    .filter((s): s is Step<R> => !!s)
    .map((step) => ({
      name: step.name,
      title: step.title,
      run: (ctx: BuildContext, signal: AbortSignal) => step.run({ ...ctx, config }, signal),
      reads: typeof step.reads === 'function' ? step.reads(config) : (step.reads ?? []),
      uses: step.uses ?? [],
      writes: step.writes ?? [],
      ...(step.skippedWhenUnchanged ? { skippedWhenUnchanged: true } : {}),
      ...(step.alongside ? { alongside: true } : {}),
    }));
  checkStepFlow(planned);
  return planned;
}

/**
 * The steps that make the image: skipped when --if-changed found that the family already holds these images (the
 * steps after them, such as writing the manifests, then act on that image).
 */
function makingTheImage<R extends Run>(steps: ReadonlyArray<Step<R> | false | undefined>): Array<Step<R> | false | undefined> {
  return steps.map((s) => s && { ...s, skippedWhenUnchanged: true });
}

/**
 * The detached disk is all the image needs: it is requested while the VM is being deleted, and exists that much
 * sooner (docs/architecture.md, Workflow).
 */
function alongsideTheImage<R extends Run>(step: Step<R>): Step<R> {
  return { ...step, alongside: true };
}

/** A data disk's sources are listed right after preflight (docs/architecture.md, Data disks). */
function dataDisk(run: ImageRun | LocalArchive): boolean {
  return diskKindOf(run) === 'data';
}

/** --if-changed compares before anything is created; --force means always build, so there is nothing to compare. */
function comparing(run: ImageRun): Step<ImageRun> | false {
  return run.ifChanged && !run.force && compareWithFamily;
}

/**
 * The steps of a run. A dry run only reads: preflight's GETs and permission tests, and a plan — never a step that
 * creates, uploads, attaches or writes anything.
 */
export function stepsFor(plan: RunPlan): PlannedStep[] {
  switch (plan.kind) {
    case 'dry-run':
      return dryRunSteps(plan.run);
    case 'vm-build':
      return bind(plan, [
        preflight,
        dataDisk(plan) && listDataSources,
        comparing(plan),
        ...makingTheImage<VmBuild>([
          choosing(plan),
          createDisk,
          createVm,
          dataDisk(plan) ? { ...waitForVm, title: 'Waiting for the VM to download and check the files' } : waitForVm,
          detachDisk,
          alongsideTheImage(deleteVm),
          plan.force && replaceOldImage,
          createImage,
          plan.lifetime && setImageLifetime,
        ]),
        plan.k8sManifestsFilepath !== undefined && writeManifests,
        plan.cluster && checkCluster,
      ]);
    case 'vm-verify':
      return bind(plan, [preflight, createDisk, createVm, waitForVm, deleteVm]);
    case 'local-build':
      return bind(plan, [
        preflight,
        dataDisk(plan) && listDataSources,
        comparing(plan),
        ...makingTheImage<LocalBuild>([
          localBake,
          packArchive,
          uploadArchive,
          plan.force && replaceOldImage,
          createImage,
          plan.lifetime && setImageLifetime,
        ]),
        plan.k8sManifestsFilepath !== undefined && writeManifests,
        plan.cluster && checkCluster,
      ]);
    case 'local-archive':
      return bind(plan, [dataDisk(plan) && listDataSources, localBake, packArchive]);
    case 'local-verify':
      return bind(plan, [localVerify]);
  }
}

function dryRunSteps(run: Run): PlannedStep[] {
  switch (run.kind) {
    case 'vm-build':
      return bind(run, [preflight, dataDisk(run) && listDataSources, comparing(run), ...makingTheImage<VmBuild>([choosing(run)]), plan]);
    case 'vm-verify':
      return bind(run, [preflight, plan]);
    case 'local-build':
      return bind(run, [preflight, dataDisk(run) && listDataSources, comparing(run), planLocal]);
    case 'local-archive':
      return bind(run, [dataDisk(run) && listDataSources, planLocal]);
    case 'local-verify':
      return bind(run, [planLocalVerify]);
  }
}

/** Whether a run calls the cloud (and so needs credentials): all but a local bake to a file and a local verify. */
export function usesCloud(plan: RunPlan): boolean {
  return isCloudRun(runOf(plan));
}

/** What the result says of the run: where it worked and which image it made or checked. */
function describeRun(
  run: Run,
  unchanged?: { name: string },
): Pick<BuildResult, 'project' | 'zone' | 'image' | 'containerImages' | 'diskSizeGb'> {
  const image = (name: string, project: string, family?: string) => ({
    name,
    uri: `projects/${project}/global/images/${name}`,
    ...(family ? { family } : {}),
  });
  switch (run.kind) {
    case 'vm-build':
      return {
        project: run.projectName,
        zone: run.zone,
        image: image(unchanged?.name ?? run.imageName, run.projectName, run.imageFamilyName),
        containerImages: run.containerImages,
        diskSizeGb: run.diskSizeGb,
      };
    case 'local-build':
      return {
        project: run.projectName,
        image: image(unchanged?.name ?? run.imageName, run.projectName, run.imageFamilyName),
        containerImages: run.containerImages,
        diskSizeGb: run.diskSizeGb,
      };
    case 'vm-verify':
      return { project: run.projectName, zone: run.zone, image: image(run.imageName, run.projectName), containerImages: [] };
    case 'local-archive':
      return { containerImages: run.containerImages, diskSizeGb: run.diskSizeGb };
    case 'local-verify':
      return { containerImages: [] };
  }
}

export async function runBuild(runPlan: RunPlan, deps: BuildDeps): Promise<BuildOutcome> {
  const config = runOf(runPlan);
  const dryRun = runPlan.kind === 'dry-run';
  const tuning: Tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  // A dry run's bodies show the deadline a build started now would carry.
  const names = runNames(config, deps.runId ?? newRunId(), runDeadline(config, tuning, Date.now()));
  const logLines: string[] = [];
  const buildLog = { write: (s: string) => void logLines.push(deps.redactor.redact(s)) };
  const streams: pino.StreamEntry[] = [{ level: 'debug', stream: buildLog }];
  if (deps.diagnostics)
    streams.push({
      level: deps.diagnostics.level,
      stream: { write: (s: string) => deps.diagnostics!.sink.write(deps.redactor.redact(s)) },
    });
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
    ...(names.logs
      ? { logsUploader: new LogsUploader(deps.cloud.storage, names.logs.bucket, names.logs.prefix, serial, deps.redactor) }
      : {}),
    state: { tracked: {}, vmPhases: {}, imageDigests: {} },
    env: deps.env ?? {},
    ...(deps.clusterChecks ? { clusterChecks: deps.clusterChecks } : {}),
  };
  const startedAt = new Date();
  const stepTimes: Record<string, number> = {};
  emit({ type: 'run-started', runId: names.runId, mode: modeOf(config), ...(names.logs ? { logs: names.logs.url } : {}) });

  let error: Error | undefined;
  try {
    await runSteps(ctx, stepsFor(runPlan), deps.signal, stepTimes);
  } catch (err) {
    error = err as Error;
  }

  // Once the image exists, what failed was an output, not the bake: the disk and VM hold nothing to debug.
  const vm = isVmRun(config) ? config : undefined;
  if (error && vm?.keepOnFailure && !(error instanceof InterruptedError) && !ctx.state.imageCreated) {
    const kept = keepForDebugging(ctx);
    if (kept.length) {
      const where = ['--project', vm.projectName, '--zone', vm.zone];
      emit({
        type: 'kept',
        resources: kept.map((t) => ({ kind: t.kind, name: t.name, command: t.command })),
        hints: [
          shellCommand('gcloud', 'compute', 'ssh', names.vm, ...where),
          shellCommand('gcloud', 'compute', 'instances', 'get-serial-port-output', names.vm, ...where),
        ],
      });
    }
  }
  const leftovers = await cleanUp(ctx, stepTimes);
  const interrupted = error instanceof InterruptedError || (deps.signal.aborted && !error);
  if (!error && deps.signal.aborted) error = deps.signal.reason as Error;
  const imageRun = isImageRun(config) ? config : undefined;
  const unchanged = ctx.state.unchangedImage;
  const result: BuildResult = {
    version: 1,
    state: !error ? (dryRun ? 'planned' : unchanged ? 'unchanged' : 'succeeded') : interrupted ? 'interrupted' : 'failed',
    mode: modeOf(config),
    runId: names.runId,
    // A dry run names the image a build would create, even when it would create none.
    ...describeRun(config, dryRun ? undefined : unchanged),
    imageDigests: ctx.state.imageDigests,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    steps: stepTimes,
    vmPhases: ctx.state.vmPhases,
    ...(names.logs ? { logs: names.logs.url } : {}),
    leftovers,
    ...(ctx.state.data ? { data: dataSummary(ctx.state.data) } : {}),
    ...(ctx.state.k8sManifests ? { k8sManifests: ctx.state.k8sManifests } : {}),
    ...(ctx.state.imageCreated && imageRun?.k8sManifestsFilepath && !ctx.state.k8sManifests
      ? {
          unwrittenK8sManifests: {
            path: imageRun.k8sManifestsFilepath,
            contents: k8sManifests(imageRun.projectName, imageRun.imageName, imageRun.k8sNamespace, dataManifestsOf(imageRun)),
          },
        }
      : {}),
    ...(!error && !dryRun && imageRun ? { next: nextStepsFor(imageRun, unchanged?.name ?? imageRun.imageName) } : {}),
    ...(ctx.state.ifChanged ? { ifChanged: ctx.state.ifChanged } : {}),
    // An incremental build: the image its data disk started from, and the disk's size (at least the base's).
    ...(ctx.state.base && config.kind === 'vm-build' ? { base: ctx.state.base.uri, diskSizeGb: dataDiskSizeGb({ ...ctx, config }) } : {}),
    ...(unchanged?.createdAt ? { imageCreatedAt: unchanged.createdAt } : {}),
    ...(ctx.state.plan ? { plan: ctx.state.plan } : {}),
    ...(ctx.state.lifetime ? { lifetime: ctx.state.lifetime } : {}),
    ...(isBakeRun(config) && config.archivePath && ctx.state.archive ? { archive: ctx.state.archive } : {}),
    ...(error
      ? { error: { step: (error as BuildError).step, message: deps.redactor.redact(error.message), ...consoleTailFor(ctx, error) } }
      : {}),
  };
  // Also on a failure or interrupt after the image was made: it exists and was not deleted.
  if (result.image && ctx.state.imageCreated) result.image.created = true;
  log.info({ result }, 'finished');
  // A preflight failure means the bucket may not be writable; don't add a second error about it.
  const canWriteLogs = !(error instanceof BuildError && error.step === 'preflight') && !dryRun;
  if (canWriteLogs && ctx.logsUploader) {
    await ctx.logsUploader
      .uploadFinal(
        logLines.join(''),
        `${JSON.stringify(result, null, 2)}\n`,
        !!ctx.state.vmCreated,
        deadline(ctx.tuning.logUploadTimeoutMs),
      )
      .catch((err: Error) => emit({ type: 'warning', message: `could not write the logs to ${names.logs?.url}: ${err.message}` }));
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
  const failures = await ctx.cleanup.runAll(deadline(ctx.tuning.cleanupTimeoutMs), (t) =>
    ctx.emit({ type: 'resource-deleted', kind: t.kind, name: t.name }),
  );
  stepTimes.cleanup = Date.now() - started;
  for (const f of failures) ctx.emit({ type: 'cleanup-failed', kind: f.kind, name: f.name, error: f.error, command: f.command });
  return failures.map((f) => ({ kind: f.kind, name: f.name, command: f.command }));
}

export { CleanupRegistry };
