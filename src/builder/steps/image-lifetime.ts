// --deprecate-after, --obsolete-after, --delete-after (docs/architecture.md, Image lifetime): right after the image
// is created, its deprecation times are set with images.deprecate, as Packer sets deprecate_at / obsolete_at /
// delete_at. The state stays ACTIVE: GCE acts on the state, never on the times, so the image stays in its family
// until someone (or `prune`) changes the state. The image exists by now and is the product: a failure here is
// reported (exit 1) with the command that does it by hand, and the image is kept.
import { BuildError } from '../../errors.js';
import type { ImageLifetime } from '../../commands/build/deprecation.js';
import type { ImageRun } from '../../config/types.js';
import type { DeprecationStatus } from '../../gcp/types.js';
import type { BuildContext } from '../context.js';
import type { Step } from './step.js';

/** The status that records the lifetimes, counted from `createdAt` (epoch ms). */
export function lifetimeStatus(lifetime: ImageLifetime, createdAt: number): DeprecationStatus {
  const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(createdAt + ms).toISOString());
  const deprecated = at(lifetime.deprecateAfterMs);
  const obsolete = at(lifetime.obsoleteAfterMs);
  const deleted = at(lifetime.deleteAfterMs);
  return {
    state: 'ACTIVE',
    ...(deprecated ? { deprecated } : {}),
    ...(obsolete ? { obsolete } : {}),
    ...(deleted ? { deleted } : {}),
  };
}

/** The gcloud command that sets the same times by hand. */
export function lifetimeCommand(project: string, image: string, status: DeprecationStatus): string {
  const on = [
    status.deprecated && `--deprecate-on=${status.deprecated}`,
    status.obsolete && `--obsolete-on=${status.obsolete}`,
    status.deleted && `--delete-on=${status.deleted}`,
  ].filter(Boolean);
  return `gcloud compute images deprecate ${image} --project ${project} --state=ACTIVE ${on.join(' ')}`;
}

export const setImageLifetime: Step<ImageRun> = {
  name: 'set-image-lifetime',
  title: "Recording the image's deprecation times",
  writes: ['lifetime'],
  async run(ctx: BuildContext<ImageRun>, signal) {
    const { config } = ctx;
    if (!config.lifetime) return;
    const status = lifetimeStatus(config.lifetime, Date.now());
    try {
      await ctx.cloud.compute.deprecateImage(config.imageName, status, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new BuildError(
        `could not record the deprecation times on image ${config.imageName}: ${(err as Error).message}. ` +
          `The image exists and is kept; record them by hand: ${lifetimeCommand(config.projectName, config.imageName, status)}`,
      );
    }
    ctx.state.lifetime = status;
  },
};
