// --incremental and --base-image: the data disk starts from an image this tool built, so the VM fetches and unpacks
// only the layers it lacks (docs/architecture.md, Run plans). The base is only read — the disk is created from it —
// and never tracked for cleanup, so no failure or interrupt can change or delete it.
import type { VmBuild } from '../../config/types.js';
import type { ImageInfo } from '../../gcp/types.js';
import { DISK_FORMAT_VERSION, newestOfOurs, parseRecord } from '../image-record.js';
import type { BuildContext } from '../context.js';
import type { Step } from './step.js';

const uriOf = (project: string, name: string) => `projects/${project}/global/images/${name}`;

/** Why an image cannot be the base of this build, or undefined when it can. */
export function baseImageProblem(image: ImageInfo, config: VmBuild): string | undefined {
  if (image.status !== 'READY') return `it is ${image.status ?? 'not ready'}, not READY`;
  const record = parseRecord(image.description);
  if (!record) return 'it was not built by this tool (its description holds no record of what is on the disk)';
  if (record.disk !== DISK_FORMAT_VERSION)
    return `its disk format is version ${record.disk}, and this version of the tool reuses only version ${DISK_FORMAT_VERSION}`;
  if (record.platform !== config.platform)
    return `it holds images for ${record.platform}, and this build is for ${config.platform} (--platform)`;
  return undefined;
}

/** The data disk's size: --disk-size-gb, but never smaller than the base image (GCE refuses a smaller disk). */
export function dataDiskSizeGb(ctx: BuildContext<VmBuild>): number {
  return Math.max(ctx.config.diskSizeGb, ctx.state.base?.diskSizeGb ?? 0);
}

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

/** Preflight's check of an explicit --base-image: a problem (exit 1) when it cannot be the base. */
export async function checkBaseImage(ctx: BuildContext<VmBuild>, signal: AbortSignal): Promise<string | undefined> {
  const choice = ctx.config.base;
  if (choice?.from !== 'image') return undefined;
  const { project, name } = choice;
  const image = await ctx.cloud.compute.getImage(name, signal, project);
  if (!image) return `base image ${uriOf(project, name)} does not exist (--base-image)`;
  const problem = baseImageProblem(image, ctx.config);
  if (problem) return `base image ${uriOf(project, name)} cannot be reused: ${problem} (--base-image)`;
  ctx.state.checkedBase = { project, image };
  return undefined;
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
