// --force: the old image deleted once the new disk is ready (the name is free until the new image exists).
import type { ImageRun } from '../../config/types.js';
import type { Step } from './step.js';

/** --force: the new disk is ready, so the old image can go (the name is free until the new image exists). */
export const replaceOldImage: Step<ImageRun> = {
  name: 'replace-image',
  title: 'Deleting the old image (--force)',
  async run(ctx, signal) {
    const outcome = await ctx.cloud.compute.deleteImage(ctx.config.imageName, signal);
    if (outcome === 'deleted') ctx.emit({ type: 'resource-deleted', kind: 'image', name: ctx.config.imageName });
  },
};
