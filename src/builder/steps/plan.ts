// --dry-run: after validation and preflight, the resources a build would create, with the exact bodies it would
// send (built by the same functions as the real requests), and nothing created.
import { diskBody, imageBody, instanceBody } from '../../gcp/bodies.js';
import type { PlannedResource } from '../events.js';
import { diskSpecFor, imageSpecFor, instanceSpecFor } from './resources.js';
import type { Step } from './step.js';

export const plan: Step = {
  name: 'plan',
  title: 'Planning (--dry-run: nothing is created)',
  async run(ctx) {
    const { projectName: p, zone: z, mode } = ctx.config;
    const resources: PlannedResource[] = [
      { kind: 'disk', name: ctx.names.disk, body: diskBody(diskSpecFor(ctx), p, z) },
      { kind: 'vm', name: ctx.names.vm, body: instanceBody(instanceSpecFor(ctx), p, z) },
      ...(mode === 'build' ? [{ kind: 'image' as const, name: ctx.config.imageName, body: imageBody(imageSpecFor(ctx), p, z) }] : []),
    ];
    ctx.state.plan = resources;
    ctx.emit({ type: 'plan', resources });
  },
};
