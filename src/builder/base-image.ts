// --incremental and --base-image (docs/architecture.md, Workflow): whether an image can be the base of a build, and
// preflight's check of an explicit --base-image. The base is only read — the disk is created from it — and never
// tracked for cleanup, so no failure or interrupt can change or delete it.
import type { VmBuild } from '../config/types.js';
import type { ImageInfo } from '../gcp/types.js';
import { diskKindOfRecord, DISK_FORMAT_VERSION, parseRecord } from './image-record.js';
import type { BuildContext } from './context.js';

export const uriOf = (project: string, name: string) => `projects/${project}/global/images/${name}`;

/** Why an image cannot be the base of this build, or undefined when it can. */
export function baseImageProblem(image: ImageInfo, config: VmBuild): string | undefined {
  if (image.status !== 'READY') return `it is ${image.status ?? 'not ready'}, not READY`;
  const record = parseRecord(image.description);
  if (!record) return 'it was not built by this tool (its description holds no record of what is on the disk)';
  if (diskKindOfRecord(record) === 'data') return 'it is a data disk (--data-source), not a disk of container images';
  if (record.disk !== DISK_FORMAT_VERSION)
    return `its disk format is version ${record.disk}, and this version of the tool reuses only version ${DISK_FORMAT_VERSION}`;
  if (record.platform !== config.platform)
    return `it holds images for ${record.platform}, and this build is for ${config.platform} (--platform)`;
  return undefined;
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
