// Tests written against the flat view of a run: the run plan's own fields, plus what its kind implies (mode, dry
// run, local), so that a table can pick any of them. The plan itself is what the code under test returns.
import type { RawFlags } from '../../src/config/flag.js';
import { parseRunPlan } from '../../src/commands/build/plan.js';
import {
  isLocalRun,
  modeOf,
  runOf,
  type LocalArchive,
  type LocalBuild,
  type LocalVerify,
  type Mode,
  type Run,
  type RunPlan,
  type VmBuild,
  type VmVerify,
} from '../../src/config/types.js';

/** Every field any kind of run has (a table picks whichever it checks; absent ones are undefined). */
type AnyRunFields = Omit<VmBuild, 'kind'> &
  Omit<VmVerify, 'kind'> &
  Omit<LocalBuild, 'kind'> &
  Omit<LocalArchive, 'kind'> &
  Omit<LocalVerify, 'kind'>;

export type FlatRun = AnyRunFields & {
  plan: RunPlan;
  kind: Run['kind'];
  mode: Mode;
  dryRun: boolean;
  local: boolean;
  localOnly: boolean;
};

export function parseConfig(
  raw: RawFlags,
  env: Record<string, string | undefined>,
  opts: { mode?: Mode; cwd?: string; positionals?: readonly string[] } = {},
): FlatRun {
  const plan = parseRunPlan({ flags: raw }, env, {
    ...(opts.mode ? { command: opts.mode } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.positionals ? { positionals: opts.positionals } : {}),
  });
  const run = runOf(plan);
  return {
    ...run,
    plan,
    mode: modeOf(run),
    dryRun: plan.kind === 'dry-run',
    local: isLocalRun(run),
    localOnly: run.kind === 'local-archive',
  } as FlatRun;
}

/** The flags of a plain VM build in the test project (extra ones added or overriding). */
export function buildFlags(extra: RawFlags = {}): RawFlags {
  return {
    'project-name': 'test-project',
    zone: 'us-central1-a',
    'image-name': 'img',
    'gcs-path': 'gs://bucket/logs',
    'container-image': ['nginx:1'],
    ...extra,
  };
}

/** The mutating calls of a clean VM build, in order: the VM is deleted before the image is made, the disk after. */
export const BUILD_MUTATIONS = [
  'disks.insert',
  'instances.insert',
  'instances.detachDisk',
  'instances.delete',
  'images.insert',
  'disks.delete',
];
