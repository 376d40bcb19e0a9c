// The image: from the detached data disk, or (--local) imported from the uploaded archive. Once it exists it is the
// product and is never deleted (docs/architecture.md, Workflow).
import type { ImageRun } from '../../config/types.js';
import { BuildError } from '../../errors.js';
import { isAlreadyExists } from '../../gcp/errors.js';
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
    const tracked = (ctx.state.tracked.image = ctx.cleanup.register({
      kind: 'image',
      name: config.imageName,
      command: deleteCommand(config.projectName, 'images', config.imageName),
      remove: (s) => c.deleteImage(config.imageName, s),
    }));
    let outcome: { afterFailedWait?: string };
    try {
      outcome = await c.insertImage(imageSpecFor(ctx, ctx.state.archiveUrl), signal);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // The name was free at preflight and taken since (a concurrent build, a retried job): that image is not this
      // build's, and is left as it is.
      ctx.cleanup.release(tracked);
      throw new BuildError(
        `--image-name: an image named ${config.imageName} was created by someone else while this build ran; it is not this build's and is left as it is (choose another name)`,
        'create-image',
        { cause: err },
      );
    }
    // Waiting for the image failed, but GCE made it: it is the product all the same, and a lesser failure must
    // not delete it.
    if (outcome.afterFailedWait !== undefined)
      ctx.emit({
        type: 'warning',
        message: `waiting for the image failed (${outcome.afterFailedWait}), but it is READY: kept as this build's image`,
      });
    // Once it exists it is the product: nothing that fails or is interrupted later (an output file, the
    // cleanup of temporary resources) may delete what the user has paid for.
    keepImage(ctx);
    ctx.state.imageCreated = true;
    ctx.emit({ type: 'resource-created', kind: 'image', name: config.imageName });
  },
};
