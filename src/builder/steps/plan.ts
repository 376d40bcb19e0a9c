// --dry-run: after validation and preflight, the resources a build would create, with the exact bodies it would
// send (built by the same functions as the real requests), and nothing created.
import { deprecationBody, diskBody, imageBody, instanceBody } from '../../gcp/bodies.js';
import { lifetimeStatus } from './image-lifetime.js';
import { k8sManifests } from '../../k8s/manifests.js';
import type { ImageRun, VmBuild, VmRun } from '../../config/types.js';
import type { BuildContext } from '../context.js';
import type { PlannedResource } from '../events.js';
import { diskSpecFor, imageSpecFor, instanceSpecFor } from '../specs.js';
import type { Step } from './step.js';
import { vmAccess } from '../vm-access.js';
import { productImageName } from '../specs.js';
import { dataManifestsOf } from '../next-steps.js';

/** Every dry run ends in one step of this name, whatever kind of run it plans. */
export const PLAN_STEP = { name: 'plan', title: 'Planning (--dry-run: nothing is created)' } as const;

export const plan: Step<VmRun> = {
  ...PLAN_STEP,
  uses: ['unchangedImage', 'base', 'sourceImageSizeGb', 'imageDigests', 'data'],
  writes: ['plan'],
  run(ctx) {
    const { config } = ctx;
    if (config.kind === 'vm-build' && wouldBeSkipped({ ...ctx, config })) return Promise.resolve();
    const { projectName: p, zone: z } = config;
    ctx.emit({ type: 'note', message: `the VM's access: ${vmAccess(config).why}` });
    const resources: PlannedResource[] = [
      { kind: 'disk', name: ctx.names.disk, body: diskBody(diskSpecFor(ctx), p, z) },
      { kind: 'vm', name: ctx.names.vm, body: instanceBody(instanceSpecFor(ctx), p, z) },
    ];
    if (config.kind === 'vm-build') {
      const c: BuildContext<VmBuild> = { ...ctx, config };
      resources.push(
        { kind: 'image', name: config.imageName, body: imageBody(imageSpecFor(c), p) },
        ...plannedLifetime(c),
        ...plannedManifests(c),
      );
    }
    recordPlan(ctx, resources);
    return Promise.resolve();
  },
};

/**
 * --if-changed found the family already holds these images: a build would create nothing, and only write the
 * manifests (for that image). Records that plan and says so.
 */
export function wouldBeSkipped(ctx: BuildContext<ImageRun>): boolean {
  const unchanged = ctx.state.unchangedImage;
  if (!unchanged) return false;
  ctx.emit({
    type: 'note',
    message: `a build would be skipped (--if-changed): image ${unchanged.name} already holds these images; nothing would be created`,
  });
  recordPlan(ctx, plannedManifests(ctx));
  return true;
}

/** The --k8s-manifests-filepath file a build writes once its image exists, with its exact contents. */
export function plannedManifests(ctx: BuildContext<ImageRun>): PlannedResource[] {
  const { config } = ctx;
  if (!config.k8sManifestsFilepath) return [];
  return [
    {
      kind: 'file',
      name: config.k8sManifestsFilepath,
      body: { contents: k8sManifests(config.projectName, productImageName(ctx), config.k8sNamespace, dataManifestsOf(config)) },
    },
  ];
}

/** --deprecate-after & co: the images.deprecate a build sends once its image exists (times counted from now). */
export function plannedLifetime(ctx: BuildContext<ImageRun>): PlannedResource[] {
  const { lifetime, imageName } = ctx.config;
  if (!lifetime) return [];
  return [{ kind: 'image', name: imageName, call: 'images.deprecate', body: deprecationBody(lifetimeStatus(lifetime, Date.now())) }];
}

export function recordPlan(ctx: BuildContext, resources: PlannedResource[]): void {
  ctx.state.plan = resources;
  ctx.emit({ type: 'plan', resources });
}
