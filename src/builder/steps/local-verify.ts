// verify --local FILE: the verify script run on this machine against the archive or raw disk, read-only
// (docs/architecture.md, Workflow). Writes the phases; `data` only through the shared local-run helpers (a verify has none).
import type { LocalVerify } from '../../config/types.js';
import { openDiskForVerify } from '../../local/verify-local.js';
import { registerLoop, runLocally, scratch, stepSettled } from '../local-run.js';
import type { Step } from './step.js';

export const localVerify: Step<LocalVerify> = {
  name: 'local-verify',
  title: 'Verifying the disk on this machine (--local)',
  uses: ['data'],
  writes: ['vmPhases'],
  async run(ctx, signal) {
    const settled = stepSettled();
    try {
      const work = await scratch(ctx, settled.promise);
      const disk = await openDiskForVerify(ctx.config.file, work, { signal });
      const loop = registerLoop(ctx, disk.device, disk.file, () => disk.release(), settled.promise);
      try {
        await runLocally(ctx, disk.device, work, signal);
      } finally {
        await disk.release();
        ctx.cleanup.release(loop);
      }
    } finally {
      settled.resolve();
    }
  },
};
