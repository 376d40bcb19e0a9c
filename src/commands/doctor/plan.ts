// The `doctor` command's input, checked before any cloud call (bad input: one line per problem, exit 2).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DOCTOR_FLAGS } from './flags.js';
import { parseLifetime } from '../../config/duration.js';
import { flagsFor, type GivenFlags } from '../../config/applies.js';
import { parseGoBool } from '../../config/go-bool.js';
import * as rules from '../../config/rules.js';
import { gcpOauthFlag } from '../../config/key-file.js';
import { parseFlags, type Environment } from '../../config/schema.js';
import type { KeyFile } from '../../config/types.js';
import { UsageError } from '../../errors.js';

export interface DoctorPlan {
  kind: 'doctor';
  cluster: { project: string; location: string; name: string; path: string };
  nodePool?: string;
  image?: { project: string; name: string; path: string };
  /** The YAML text of each --workload file, by the path given. */
  workloads: Array<{ path: string; text: string }>;
  namespace?: string;
  /** --hits: how far back, in ms. */
  hits?: { sinceMs: number };
  json: boolean;
  keyFile?: KeyFile;
}

/** Kubernetes manifests are small; a bigger file is not one. */
const MAX_WORKLOAD_BYTES = 4 * 1024 * 1024;

export function parseDoctorPlan(given: GivenFlags, env: Environment, cwd: string): DoctorPlan {
  // Where each flag applies (doctor, or doctor --hits), what is required and what excludes what: from the declarations.
  const hits = parseGoBool(String(given.flags.hits ?? '')) === true;
  const { raw, problems } = flagsFor(DOCTOR_FLAGS, hits ? 'doctor --hits' : 'doctor', given, env);
  const parsed = parseFlags(DOCTOR_FLAGS, raw);
  problems.push(...parsed.problems);
  const v = parsed.values;
  if (v && (v.workload.length || v.namespace) && !v.image && !v.imageName)
    problems.push('--workload/--namespace: need the image (--image or --image-name) to compare the references with');
  const workloads: DoctorPlan['workloads'] = [];
  for (const path of v?.workload ?? []) {
    const full = resolve(cwd, path);
    try {
      const text = readFileSync(full, 'utf8');
      if (Buffer.byteLength(text) > MAX_WORKLOAD_BYTES) problems.push(`--workload: ${rules.shownPath(full)} is larger than 4 MiB`);
      else workloads.push({ path, text });
    } catch (err) {
      problems.push(`--workload: cannot read ${rules.shownPath(full)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const keyFile = gcpOauthFlag(v?.gcpOauth, cwd, problems);
  if (problems.length || !v || !v.cluster) throw new UsageError(problems);
  const cluster = rules.clusterOf(v.cluster);
  const imageProject = v.projectName ?? cluster.project;
  const image = v.image
    ? { project: v.image.split('/')[1]!, name: v.image.split('/')[4]!, path: v.image }
    : v.imageName
      ? { project: imageProject, name: v.imageName, path: `projects/${imageProject}/global/images/${v.imageName}` }
      : undefined;
  return {
    kind: 'doctor',
    cluster,
    ...(v.nodePool ? { nodePool: v.nodePool } : {}),
    ...(image ? { image } : {}),
    workloads,
    ...(v.namespace ? { namespace: v.namespace } : {}),
    ...(v.hits ? { hits: { sinceMs: parseLifetime(v.since)! } } : {}),
    json: v.json,
    ...(keyFile ? { keyFile } : {}),
  };
}
