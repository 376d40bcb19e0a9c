// The last step of a build: the VolumeSnapshotContent and VolumeSnapshot for the new image. Its directory was
// checked when the input was validated and is never created here; if the write still fails, the image already
// exists and is kept (the CLI prints the manifests instead).
import { BuildError } from '../../errors.js';
import { writeFileReplacing } from '../../io/safe-file.js';
import { k8sManifests } from '../../k8s/manifests.js';
import type { ImageRun } from '../../config/types.js';
import type { Step } from './step.js';
import { productImageName } from '../specs.js';
import { dataManifestsOf } from '../next-steps.js';

export const writeManifests: Step<ImageRun> = {
  name: 'write-manifests',
  title: 'Writing the Kubernetes manifests',
  uses: ['unchangedImage'],
  writes: ['k8sManifests'],
  async run(ctx, signal) {
    const path = ctx.config.k8sManifestsFilepath;
    if (!path) return;
    try {
      // Written beside the path and renamed over it: a FIFO or a link put there since validation is replaced, never
      // opened (a FIFO would block the write forever, a link would redirect it).
      await writeFileReplacing(
        path,
        k8sManifests(ctx.config.projectName, productImageName(ctx), ctx.config.k8sNamespace, dataManifestsOf(ctx.config)),
        { signal },
      );
    } catch (err) {
      if (signal.aborted) throw err;
      throw new BuildError(`could not write the Kubernetes manifests to ${path} (--k8s-manifests-filepath): ${(err as Error).message}`);
    }
    ctx.state.k8sManifests = path;
  },
};
