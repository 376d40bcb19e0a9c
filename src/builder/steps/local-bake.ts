// --local: the bake, the agent run on this machine against a sparse file on a loop device (docs/architecture.md,
// Workflow). Writes `localDisk`, the baked disk file.
import { join } from 'node:path';
import type { BakeRun } from '../../config/types.js';
import { createLoopDisk } from '../../local/disk.js';
import { registerLoop, runLocally, scratch, scratchParent, stepSettled } from '../local-run.js';
import type { Step } from './step.js';

export const localBake: Step<BakeRun> = {
  name: 'local-bake',
  title: 'Baking the disk on this machine (--local)',
  uses: ['data'],
  writes: ['localDisk', 'vmPhases'],
  async run(ctx, signal) {
    // Cleanup (which starts as soon as a signal or the step's timeout comes) waits for this step's own ending.
    const settled = stepSettled();
    try {
      const work = await scratch(ctx, settled.promise, scratchParent(ctx));
      const disk = await createLoopDisk(join(work, 'disk.raw'), ctx.config.diskSizeGb);
      const loop = registerLoop(ctx, disk.device, disk.file, () => disk.detach(), settled.promise);
      try {
        await runLocally(ctx, disk.device, work, signal);
      } finally {
        await disk.detach();
        ctx.cleanup.release(loop);
      }
      ctx.state.localDisk = disk.file;
    } finally {
      settled.resolve();
    }
  },
};
