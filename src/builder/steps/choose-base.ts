// --incremental and --base-image: the step that chooses the image the data disk starts from, so the VM fetches and
// unpacks only the layers it lacks (docs/architecture.md, Workflow). Writes `base`.
import type { VmBuild } from '../../config/types.js';
import type { ImageInfo } from '../../gcp/types.js';
import { baseImageProblem, uriOf } from '../base-image.js';
import { newestOfOurs } from '../image-record.js';
import type { BuildContext } from '../context.js';
import type { Step } from './step.js';

/** The base is chosen: notes what the disk starts from, and its size when --disk-size-gb is smaller. */
function adopt(ctx: BuildContext<VmBuild>, project: string, image: ImageInfo): void {
  const base = { project, name: image.name, uri: uriOf(project, image.name), diskSizeGb: image.diskSizeGb ?? 0 };
  ctx.state.base = base;
  const built = image.creationTimestamp ? ` (built ${image.creationTimestamp})` : '';
  ctx.emit({ type: 'note', message: `incremental build: the data disk starts from image ${base.uri}${built}` });
  if (base.diskSizeGb > ctx.config.diskSizeGb)
    ctx.emit({
      type: 'note',
      message: `the data disk is ${base.diskSizeGb} GB, the size of the base image (--disk-size-gb=${ctx.config.diskSizeGb} is smaller), and so is the new image`,
    });
}

/**
 * After --if-changed found something to build (skipped, like the steps that make the image, when it found
 * nothing): --base-image takes the image preflight checked; --incremental the newest READY image of the family
 * built by this tool — the one --if-changed compared with, when it ran. None, or one that cannot be reused: a full
 * build, with a note that says why.
 */
export const chooseBase: Step<VmBuild> = {
  name: 'choose-base',
  title: 'Choosing the image to start from',
  // An explicit --base-image is the one preflight checked; --incremental reuses what --if-changed listed, if it ran.
  reads: (run) => (run.base?.from === 'image' ? ['checkedBase'] : []),
  uses: ['newestOfFamily'],
  writes: ['base'],
  async run(ctx, signal) {
    const { config } = ctx;
    if (config.base?.from === 'image') {
      const checked = ctx.state.checkedBase;
      if (!checked) throw new Error('preflight must check --base-image before it is used');
      adopt(ctx, checked.project, checked.image);
      return;
    }
    const family = config.imageFamilyName;
    const newest =
      ctx.state.newestOfFamily !== undefined
        ? ctx.state.newestOfFamily
        : (newestOfOurs(await ctx.cloud.compute.listImagesOfFamily(family, signal)) ?? null);
    if (!newest) {
      ctx.emit({
        type: 'note',
        message: `full build: no READY image of family ${family} in project ${config.projectName} was built by this tool (--incremental)`,
      });
      return;
    }
    const problem = baseImageProblem(newest.image, config);
    if (problem) {
      ctx.emit({
        type: 'note',
        message: `full build: image ${newest.image.name}, the newest of family ${family}, cannot be reused: ${problem} (--incremental)`,
      });
      return;
    }
    adopt(ctx, config.projectName, newest.image);
  },
};

/** A build with a base chooses it once there is something to build (an explicit one was checked in preflight). */
export function choosing(run: VmBuild): Step<VmBuild> | false {
  return run.base !== undefined && chooseBase;
}
