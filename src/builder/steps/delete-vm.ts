// The temporary VM deleted (alongside the image's creation in a build; docs/architecture.md, Workflow).
import type { VmRun } from '../../config/types.js';
import type { Step } from './step.js';

export const deleteVm: Step<VmRun> = {
  name: 'delete-vm',
  title: 'Deleting the temporary VM',
  uses: ['tracked'],
  async run(ctx, signal) {
    await ctx.cloud.compute.deleteInstance(ctx.names.vm, signal);
    const h = ctx.state.tracked.vm;
    if (h) ctx.cleanup.release(h);
    ctx.emit({ type: 'resource-deleted', kind: 'vm', name: ctx.names.vm });
  },
};
