// The temporary VM, with the data disk attached and the bootstrap and agent in its metadata (docs/architecture.md,
// VM metadata). Its console is read a last time before cleanup deletes it.
import type { VmRun } from '../../config/types.js';
import { instanceSpecFor } from '../specs.js';
import { createTracked, lastConsoleRead } from '../tracked.js';
import type { Step } from './step.js';

export const createVm: Step<VmRun> = {
  name: 'create-vm',
  title: 'Creating the temporary VM',
  uses: ['base', 'data'],
  writes: ['vmCreated', 'tracked'],
  run: (ctx, signal) => {
    ctx.state.vmCreated = true;
    const remove = async (s: AbortSignal) => {
      // The console is the one record of why a build hung: read it a last time before the VM and it are gone.
      await lastConsoleRead(ctx, s);
      return ctx.cloud.compute.deleteInstance(ctx.names.vm, s);
    };
    return createTracked(ctx, 'vm', ctx.names.vm, remove, () => ctx.cloud.compute.insertInstance(instanceSpecFor(ctx), signal));
  },
};
