// The temporary data disk: blank, or from the base image of an incremental build, or (verify) from the image.
import type { VmRun } from '../../config/types.js';
import { diskSpecFor } from '../specs.js';
import { createTracked } from '../tracked.js';
import type { Step } from './step.js';

export const createDisk: Step<VmRun> = {
  name: 'create-disk',
  title: 'Creating the temporary data disk',
  uses: ['base', 'sourceImageSizeGb'],
  writes: ['tracked'],
  run: (ctx, signal) =>
    createTracked(
      ctx,
      'disk',
      ctx.names.disk,
      (s) => ctx.cloud.compute.deleteDisk(ctx.names.disk, s),
      () => ctx.cloud.compute.insertDisk(diskSpecFor(ctx), signal),
    ),
};
