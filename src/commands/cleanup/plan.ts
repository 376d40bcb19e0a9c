// The `cleanup` command's plan: its flags (src/commands/cleanup/flags.ts) become a frozen CleanupPlan.
import { UsageError } from '../../errors.js';
import { flagsFor, type GivenFlags } from '../../config/applies.js';
import { parseGoDuration } from '../../config/duration.js';
import { gcpOauthFlag } from '../../config/key-file.js';
import { deepFreeze, parseFlags, type Environment } from '../../config/schema.js';
import type { CleanupPlan } from '../../config/types.js';
import { CLEANUP_FLAGS } from './flags.js';

/** The `cleanup` command's plan. */
export function parseCleanupPlan(given: GivenFlags, env: Environment, cwd: string): CleanupPlan {
  const { raw, problems } = flagsFor(CLEANUP_FLAGS, 'cleanup', given, env);
  const parsed = parseFlags(CLEANUP_FLAGS, raw);
  problems.push(...parsed.problems);
  const v = parsed.values;
  const keyFile = gcpOauthFlag(v?.gcpOauth, cwd, problems);
  if (problems.length || !v) throw new UsageError(problems);
  return deepFreeze({
    kind: 'cleanup',
    projectName: v.projectName!,
    ...(v.zone ? { zone: v.zone } : {}),
    ...(keyFile ? { keyFile } : {}),
    olderThanMs: parseGoDuration(v.olderThan)!,
    dryRun: v.dryRun,
  });
}
