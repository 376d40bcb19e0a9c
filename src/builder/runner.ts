// Runs steps in order, each under its own --timeout; maps aborts to the right error (interrupt vs timeout) and
// wraps API failures in a BuildError that names the step. A step marked `alongside` overlaps the steps after it.
import { BuildError, InterruptedError, StepTimeoutError, UsageError } from '../errors.js';
import { ApiError, OperationError } from '../gcp/errors.js';
import { AuthError } from '../gcp/auth.js';
import { abortable } from '../io/abort.js';
import type { BuildContext } from './context.js';
import type { Step } from './steps/step.js';

/**
 * Thrown by a step to run the steps again from an earlier one, whose name it gives (--spot: after a preemption the
 * disk, the VM and the wait start over; docs/architecture.md, Temporary resources). The step has removed what the
 * steps run again will create anew; each of them gets its own --timeout again.
 */
export class RunAgainFrom extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunAgainFrom';
  }
}

export async function runSteps(
  ctx: BuildContext,
  steps: readonly Step[],
  root: AbortSignal,
  stepTimes: Record<string, number>,
): Promise<void> {
  // Each step running alongside the later ones, settled to its error (or undefined).
  const alongside: Array<Promise<Error | undefined>> = [];
  let failure: Error | undefined;
  try {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      root.throwIfAborted();
      if (step.skippedWhenUnchanged && ctx.state.unchangedImage) continue;
      const running = runStep(ctx, step, root, stepTimes);
      // Its failure does not stop the steps after it (they may be making the image); it is reported once they end.
      if (step.alongside) {
        alongside.push(
          running.then(
            () => undefined,
            (err: Error) => err,
          ),
        );
        continue;
      }
      try {
        await running;
      } catch (err) {
        if (!(err instanceof RunAgainFrom)) throw err;
        const from = steps.findIndex((s) => s.name === err.step);
        if (from < 0 || from > i) throw asStepError(step, err, root);
        ctx.log.warn({ step: step.name, from: steps[from]!.name, reason: err.message }, 'running steps again');
        i = from - 1;
      }
    }
  } catch (err) {
    failure = err as Error;
  }
  // Awaited however the others ended: cleanup must not delete what such a step is still working on. The failure
  // of the steps in line comes first: it says what became of the image.
  const late = (await Promise.all(alongside)).find((e) => e !== undefined);
  const error = failure ?? late;
  if (error) throw error;
}

async function runStep(ctx: BuildContext, step: Step, root: AbortSignal, stepTimes: Record<string, number>): Promise<void> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new StepTimeoutError(step.name, ctx.config.timeoutMs)), ctx.config.timeoutMs);
  const signal = AbortSignal.any([root, timeout.signal]);
  const started = Date.now();
  // Listed in the order the steps started (the result's `steps`), though one running alongside may end later; a step
  // run again (RunAgainFrom) counts all its runs.
  stepTimes[step.name] ??= 0;
  ctx.emit({ type: 'step-started', step: step.name, title: step.title });
  ctx.log.info({ step: step.name }, 'step started');
  try {
    // Raced against the signal too, so a call that ignores its signal cannot hold up an interrupt or a timeout.
    await abortable(step.run(ctx, signal), signal);
  } catch (err) {
    if (err instanceof RunAgainFrom && !signal.aborted) {
      ctx.emit({ type: 'step-finished', step: step.name, ms: Date.now() - started });
      throw err;
    }
    ctx.log.error({ step: step.name, err: String((err as Error)?.message ?? err) }, 'step failed');
    throw asStepError(step, err, signal);
  } finally {
    clearTimeout(timer);
    stepTimes[step.name] = (stepTimes[step.name] ?? 0) + (Date.now() - started);
  }
  ctx.emit({ type: 'step-finished', step: step.name, ms: Date.now() - started });
}

function asStepError(step: Step, err: unknown, signal: AbortSignal): Error {
  if (signal.aborted && (signal.reason instanceof InterruptedError || signal.reason instanceof StepTimeoutError)) return signal.reason;
  if (err instanceof InterruptedError || err instanceof StepTimeoutError || err instanceof UsageError) return err;
  if (err instanceof BuildError) return err.step ? err : new BuildError(err.message, step.name, { cause: err });
  if (err instanceof ApiError || err instanceof OperationError || err instanceof AuthError) {
    return new BuildError(`${step.title.toLowerCase()} failed: ${err.message}`, step.name, { cause: err });
  }
  const e = err as Error;
  return new BuildError(`${step.title.toLowerCase()} failed unexpectedly: ${e?.message ?? String(err)}`, step.name, { cause: err });
}
