// Tests written against the flat view of a run: the run plan's own fields, plus what its kind implies (mode, dry
// run, local), so that a table can pick any of them. The plan itself is what the code under test returns.
import type { RawFlags } from '../../src/config/flag.js';
import { parseRunPlan } from '../../src/config/schema.js';
import { modeOf, runOf, type Mode, type Run, type RunPlan } from '../../src/config/types.js';

type Flat = { [K in Run extends unknown ? keyof Run : never]?: unknown } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a table test picks any field

export interface FlatRun extends Flat {
  plan: RunPlan;
  kind: Run['kind'];
  mode: Mode;
  dryRun: boolean;
  local: boolean;
  localOnly: boolean;
}

export function parseConfig(raw: RawFlags, env: Record<string, string | undefined>, opts: { mode?: Mode; cwd?: string; positionals?: readonly string[] } = {}): FlatRun {
  const plan = parseRunPlan(raw, env, { ...(opts.mode ? { command: opts.mode } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.positionals ? { positionals: opts.positionals } : {}) });
  const run = runOf(plan);
  return { ...run, plan, mode: modeOf(run), dryRun: plan.kind === 'dry-run', local: run.kind.startsWith('local-'), localOnly: run.kind === 'local-archive' } as FlatRun;
}
