// --local --dry-run: what a local build would create on this machine and in the cloud, and
// nothing created — no disk file, loop device, mount, archive, upload or image. The names and the image body come
// from the same functions the real steps use; the scratch directory's random suffix is shown as XXXXXX.
import { join } from 'node:path';
import { imageBody } from '../../gcp/bodies.js';
import type { BakeRun, LocalBuild, LocalVerify } from '../../config/types.js';
import { scriptMetadata } from './script-input.js';
import type { BuildContext } from '../context.js';
import type { PlannedResource } from '../events.js';
import { archiveObject, scratchParent } from '../local-run.js';
import { PLAN_STEP, plannedLifetime, plannedManifests, recordPlan, wouldBeSkipped } from './plan.js';
import { imageSpecFor } from '../specs.js';
import type { Step } from './step.js';

export const SCRATCH = 'gdib-XXXXXX';

/** The VM's metadata the plan shows (the local metadata server serves the rest): the bootstrap and the agent left out. */
export function scriptInput(ctx: BuildContext<BakeRun | LocalVerify>): Record<string, string> {
  const items = scriptMetadata(ctx.config, ctx.names, 'blank', ctx.state.data?.plan);
  return Object.fromEntries(items.filter((i) => i.key !== 'startup-script' && i.key !== 'gdib-agent').map((i) => [i.key, i.value]));
}

export const planLocal: Step<BakeRun> = {
  ...PLAN_STEP,
  uses: ['unchangedImage', 'imageDigests', 'data'],
  writes: ['plan'],
  run(ctx) {
    const { config } = ctx;
    if (config.kind === 'local-build' && wouldBeSkipped({ ...ctx, config })) return Promise.resolve();
    const scratch = join(scratchParent(ctx), SCRATCH);
    const archive = config.archivePath ?? join(scratch, 'disk.tar.gz');
    const resources: PlannedResource[] = [
      {
        kind: 'file',
        name: join(scratch, 'disk.raw'),
        body: {
          sizeGb: config.diskSizeGb,
          sparse: true,
          attachedAs: 'loop device',
          filesystem: 'ext4',
          script: 'build',
          metadata: scriptInput(ctx),
          removed: 'after packing',
        },
      },
      {
        kind: 'file',
        name: archive,
        body: {
          format: 'disk.raw in a gzip-compressed GNU tar',
          removed: config.archivePath ? 'never (--output)' : 'at the end of the run',
        },
      },
    ];
    if (config.kind === 'local-build') {
      const c: BuildContext<LocalBuild> = { ...ctx, config };
      const { gsUri, url } = archiveObject(c);
      resources.push(
        {
          kind: 'object',
          name: gsUri,
          body: { source: archive, removed: config.keepArchive ? 'never (--keep-archive)' : 'once the image is created' },
        },
        { kind: 'image', name: config.imageName, body: imageBody(imageSpecFor(c, url), config.projectName) },
        ...plannedLifetime(c),
        ...plannedManifests(c),
      );
    }
    recordPlan(ctx, resources);
    return Promise.resolve();
  },
};
