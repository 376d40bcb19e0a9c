import type { Run } from '../../config/types.js';
import type { BuildContext, StateKey } from '../context.js';

/**
 * One stage of the workflow (Packer's multistep): runs under the step's own time limit (--timeout). `R` is the
 * kinds of run it belongs to; `run` is a property, not a method, so that the compiler checks that a step is only
 * put into the runs it can serve.
 *
 * A step declares what it takes from and leaves in the run's state (docs/architecture.md, Workflow):
 * `reads`, what an earlier step of the list must have written (checked when the list is built, `checkStepFlow`);
 * `uses`, what it reads when present; `writes`, what it sets. test/builder/step-flow.test.ts checks that the
 * `ctx.state` fields its module (and the builder's helpers it imports) touch are declared.
 */
export interface Step<R extends Run = Run> {
  name: string;
  title: string;
  run: (ctx: BuildContext<R>, signal: AbortSignal) => Promise<void>;
  reads?: readonly StateKey[] | ((run: R) => readonly StateKey[]);
  uses?: readonly StateKey[];
  writes?: readonly StateKey[];
  /**
   * A step that makes the image (disk, VM, bake, upload, image): skipped by the runner once --if-changed found that
   * the family already holds these images.
   */
  skippedWhenUnchanged?: boolean;
  /**
   * Runs alongside the steps after it rather than before them (docs/architecture.md, Workflow): the runner starts it,
   * goes on with the next steps at once, and awaits it before it returns, however those steps end.
   */
  alongside?: boolean;
}
