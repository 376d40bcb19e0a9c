// `prune`'s flags → its configuration, every problem at once, each naming its flag (exit 2, no cloud call).
// Loaded only when the input is to be validated (the schema loads zod).
import { UsageError } from '../../errors.js';
import { parseLifetime } from '../../config/duration.js';
import { flagsFor, type GivenFlags } from '../../config/applies.js';
import { parseFlags, type Environment } from '../../config/schema.js';
import { gcpOauthFlag } from '../../config/key-file.js';
import type { KeyFile } from '../../config/types.js';
import { PRUNE_FLAGS } from './flags.js';

export interface PruneConfig {
  readonly kind: 'prune';
  readonly projectName: string;
  readonly family: string;
  readonly keyFile?: KeyFile;
  readonly keep: number;
  readonly minAgeMs: number;
  /** As given (`7d`), for the messages. */
  readonly minAge: string;
  readonly delete: boolean;
  /** The projects whose clusters are checked: --project-name first, then each --cluster-project, once each. */
  readonly clusterProjects: readonly string[];
  readonly dryRun: boolean;
  readonly json: boolean;
}

export function parsePruneConfig(given: GivenFlags, env: Environment, cwd: string): PruneConfig {
  const { raw, problems } = flagsFor(PRUNE_FLAGS, 'prune', given, env);
  const parsed = parseFlags(PRUNE_FLAGS, raw);
  problems.push(...parsed.problems);
  const v = parsed.values;
  const keyFile = gcpOauthFlag(v?.gcpOauth, cwd, problems);
  if (problems.length || !v) throw new UsageError(problems);
  return Object.freeze({
    kind: 'prune',
    projectName: v.projectName!,
    family: v.imageFamilyName!,
    ...(keyFile ? { keyFile } : {}),
    keep: v.keep,
    minAgeMs: parseLifetime(v.minAge)!,
    minAge: v.minAge,
    delete: v.delete,
    clusterProjects: Object.freeze([...new Set([v.projectName!, ...v.clusterProject])]),
    dryRun: v.dryRun,
    json: v.json,
  });
}
