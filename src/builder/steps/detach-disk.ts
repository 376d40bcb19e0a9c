// The data disk detached from the VM: the image is made from it while the VM is deleted alongside.
import type { VmRun } from '../../config/types.js';
import { DEVICE_NAME } from '../../startup-script/render.js';
import type { Step } from './step.js';

export const detachDisk: Step<VmRun> = {
  name: 'detach-disk',
  title: 'Detaching the data disk',
  async run(ctx, signal) {
    await ctx.cloud.compute.detachDisk(ctx.names.vm, DEVICE_NAME, signal);
  },
};
