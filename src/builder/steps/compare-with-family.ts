// --if-changed: after preflight has resolved every container image, and before anything is created, the newest
// image of --image-family-name that this tool built is compared with what this build would bake. The same
// record (docs/architecture.md, Image record) means the family already holds these images: the steps that make
// an image are then skipped (the runner skips every step marked `skippedWhenUnchanged`).
import { BuildError } from '../../errors.js';
import type { ImageRun } from '../../config/types.js';
import { compareRecords, newestOfOurs } from '../image-record.js';
import { imageRecordFor, takenImageNameProblem } from '../specs.js';
import type { Step } from './step.js';

export const compareWithFamily: Step<ImageRun> = {
  name: 'compare-with-family',
  title: 'Comparing with the newest image of the family (--if-changed)',
  uses: ['imageNameTaken', 'imageDigests', 'data'],
  writes: ['newestOfFamily', 'unchangedImage', 'ifChanged'],
  async run(ctx, signal) {
    const { config } = ctx;
    const family = config.imageFamilyName;
    const now = imageRecordFor(ctx);
    const newest = newestOfOurs(await ctx.cloud.compute.listImagesOfFamily(family, signal));
    ctx.state.newestOfFamily = newest ?? null;
    let changes: string[];
    if (!newest) {
      changes = [`no image of family ${family} in project ${config.projectName} was built by this tool`];
    } else {
      const c = compareRecords(newest.record, now);
      if (c.same) {
        ctx.state.unchangedImage = {
          name: newest.image.name,
          ...(newest.image.creationTimestamp ? { createdAt: newest.image.creationTimestamp } : {}),
        };
        ctx.state.ifChanged = { upToDate: true, comparedWith: newest.image.name, changes: [] };
        ctx.emit({
          type: 'note',
          message: `image ${newest.image.name}, the newest of family ${family}, already holds these ${ctx.state.data ? 'files' : 'images'}: nothing to build`,
        });
        return;
      }
      changes = c.changes;
    }
    ctx.state.ifChanged = { upToDate: false, ...(newest ? { comparedWith: newest.image.name } : {}), changes };
    const since = newest ? `changed since image ${newest.image.name}` : 'building';
    for (const change of changes) ctx.emit({ type: 'note', message: `${since}: ${change}` });
    // Preflight let a taken --image-name pass in case there was nothing to build; there is.
    if (ctx.state.imageNameTaken) throw new BuildError(takenImageNameProblem(config), 'compare-with-family');
  },
};
