// The image: from the detached data disk, or (--local) imported from the uploaded archive. Once it exists it is the
// product and is never deleted (docs/architecture.md, Workflow).
import type { ImageRun } from '../../config/types.js';
import { deleteCommand, imageSpecFor } from '../specs.js';
import { keepImage } from '../tracked.js';
import type { Step } from './step.js';

export const createImage: Step<ImageRun> = {
  name: 'create-image',
  title: 'Creating the image from the data disk',
  // A local build's image is imported from the uploaded archive.
  reads: (run) => (run.kind === 'local-build' ? ['archiveUrl'] : []),
  uses: ['imageDigests', 'data'],
  writes: ['imageCreated', 'tracked'],
  async run(ctx, signal) {
    const { config } = ctx;
    const c = ctx.cloud.compute;
    // While the insert is in flight the image is ours to remove: a failure or interrupt then deletes it.
    ctx.state.tracked.image = ctx.cleanup.register({
      kind: 'image',
      name: config.imageName,
      command: deleteCommand(config.projectName, 'images', config.imageName),
      remove: (s) => c.deleteImage(config.imageName, s),
    });
    await c.insertImage(imageSpecFor(ctx, ctx.state.archiveUrl), signal);
    // Once it exists it is the product: nothing that fails or is interrupted later (an output file, the
    // cleanup of temporary resources) may delete what the user has paid for.
    keepImage(ctx);
    ctx.state.imageCreated = true;
    ctx.emit({ type: 'resource-created', kind: 'image', name: config.imageName });
  },
};
