// Flags and validation of the `cleanup` command.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { parseGoDuration } from './duration.js';
import { parseGoBool } from './go-bool.js';
import type { RawFlags } from './flags.js';
import * as rules from './rules.js';
import { loadKeyFile } from './schema.js';
import type { KeyFile } from './types.js';
import { resolve } from 'node:path';

export interface CleanupConfig {
  projectName: string;
  zone?: string;
  keyFile?: KeyFile;
  olderThanMs: number;
  dryRun: boolean;
}

const schema = z.object({
  'project-name': z.string({ error: 'required (a GCP project ID: --project-name or $CLOUDSDK_CORE_PROJECT)' }).refine((v) => !rules.projectId(v), 'expected a project ID (6-30 lowercase letters, digits and hyphens)'),
  zone: z.string().refine((v) => !rules.zone(v), 'expected a zone such as us-central1-a').optional(),
  'gcp-oauth': z.string().min(1).optional(),
  'older-than': z.string().refine((v) => (parseGoDuration(v) ?? -1) >= 0, 'expected a duration such as 1h, 30m or 0').default('1h'),
  'dry-run': z.string().refine((v) => parseGoBool(v) !== undefined, 'expected true or false').default('false'),
});

export function parseCleanupConfig(raw: RawFlags, env: Record<string, string | undefined>, cwd: string): CleanupConfig {
  // The zone is deliberately not taken from CLOUDSDK_COMPUTE_ZONE: without --zone, cleanup scans every zone.
  const r = schema.safeParse({ ...raw, 'project-name': raw['project-name'] ?? (env.CLOUDSDK_CORE_PROJECT || undefined) });
  const problems = r.success ? [] : r.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`);
  let keyFile: KeyFile | undefined;
  if (r.success && r.data['gcp-oauth']) {
    const k = loadKeyFile(resolve(cwd, r.data['gcp-oauth']));
    if (typeof k === 'string') problems.push(`--gcp-oauth: ${k}`);
    else keyFile = k;
  }
  if (!r.success || problems.length) throw new UsageError(problems);
  const v = r.data;
  return { projectName: v['project-name'], zone: v.zone, keyFile, olderThanMs: parseGoDuration(v['older-than'])!, dryRun: parseGoBool(v['dry-run']) === true };
}
