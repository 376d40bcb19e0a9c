// --cluster (docs/architecture.md, Doctor): the build runs `doctor`'s checks of a GKE cluster for the image it
// makes. Those that do not need the image to exist (the cluster, its pools, the APIs, the node service accounts,
// the grants and allowlists that name the image's path) are part of preflight: a failure stops the run before
// anything is created. Those that read the image, or a pool's use of it, run as the last step, once it exists: a
// failure there is exit 1 with the image kept. Warnings and what cannot be confirmed are warnings either way.
// The checks are doctor's own (src/commands/doctor/checks.ts), handed in by the command layer as `ctx.clusterChecks`:
// the builder does not import a command.
import type { CheckLine } from '../../commands/doctor/checks.js';
import { BuildError } from '../../errors.js';
import type { ImageRun } from '../../config/types.js';
import type { BuildContext } from '../context.js';
import type { Step } from './step.js';

/** Doctor's checks of the run's --cluster for image `name` of the build's project, in one phase. */
export type ClusterChecks = (name: string, phase: 'before-image' | 'image', signal: AbortSignal) => Promise<CheckLine[]>;

const lineText = (l: CheckLine) => `${l.check}: ${l.seen}${l.fix ? ` (fix: ${l.fix})` : ''}`;

/** Runs one phase; says what passed (a note) and what did not fail but is not a pass (warnings); returns the failures. */
async function runPhase(
  ctx: BuildContext<ImageRun>,
  name: string,
  phase: 'before-image' | 'image',
  signal: AbortSignal,
): Promise<CheckLine[]> {
  const cluster = ctx.config.cluster!;
  if (!ctx.clusterChecks) throw new Error('this build was given no way to check a cluster');
  const lines = await ctx.clusterChecks(name, phase, signal);
  const passed = lines.filter((l) => l.status === 'pass');
  if (passed.length)
    ctx.emit({
      type: 'note',
      message: `cluster ${cluster.path}: ${passed.length} check${passed.length === 1 ? '' : 's'} passed (${[...new Set(passed.map((l) => l.check))].join(', ')})`,
    });
  for (const l of lines) {
    if (l.status === 'warn') ctx.emit({ type: 'warning', message: `cluster ${cluster.path}: ${lineText(l)}` });
    if (l.status === 'unknown') ctx.emit({ type: 'warning', message: `cluster ${cluster.path}: cannot confirm: ${lineText(l)}` });
  }
  return lines.filter((l) => l.status === 'fail');
}

/** Preflight's part: the failures of the checks that do not need the image, as problems naming --cluster. */
export async function clusterProblems(ctx: BuildContext<ImageRun>, signal: AbortSignal): Promise<string[]> {
  const failed = await runPhase(ctx, ctx.config.imageName, 'before-image', signal);
  return failed.map((l) => `cluster ${ctx.config.cluster!.path} (--cluster): ${lineText(l)}`);
}

export const checkCluster: Step<ImageRun> = {
  name: 'check-cluster',
  title: 'Checking that the cluster can use the image',
  uses: ['unchangedImage'],
  async run(ctx, signal) {
    const { config } = ctx;
    if (!config.cluster) return;
    // --if-changed that found the images already baked: the image the cluster should use is that one.
    const name = ctx.state.unchangedImage?.name ?? config.imageName;
    const failed = await runPhase(ctx, name, 'image', signal);
    if (!failed.length) return;
    const uri = `projects/${config.projectName}/global/images/${name}`;
    throw new BuildError(
      `the image ${uri} exists, but cluster ${config.cluster.path} cannot use it yet; fix this and run \`gke-disk-image-builder doctor --cluster=${config.cluster.path} --image=${uri}\` again (no rebuild needed):\n  - ${failed.map(lineText).join('\n  - ')}`,
    );
  },
};
