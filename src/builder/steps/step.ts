import type { BuildContext } from '../context.js';

/** One stage of the workflow (Packer's multistep): runs under the step's own time limit (--timeout). */
export interface Step {
  name: string;
  title: string;
  run(ctx: BuildContext, signal: AbortSignal): Promise<void>;
}
