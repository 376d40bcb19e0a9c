// `prune` (docs/architecture.md, Image lifetime): read the family's images and what the clusters use, plan (a pure
// function, planner.ts), print the plan, then deprecate and delete one image at a time. Interrupted, it finishes the
// call in flight (each call has its own time limit, not the interrupt's signal) and skips the rest, so every image is
// left in a state it reports: unchanged, deprecated or deleted — never half.
import { parseRecord } from '../../builder/image-record.js';
import type { RetryPolicy } from '../../gcp/retry.js';
import type { ImageInfo } from '../../gcp/types.js';
import { deadline } from '../../io/abort.js';
import type { Redactor } from '../../io/redact.js';
import type { TextSink } from '../../io/render.js';
import type { PruneConfig } from './parse.js';
import { age, deprecatedSince, planPrune, type Decision, type FamilyImage } from './planner.js';
import { findUses } from './usage.js';

/** How long one images.deprecate or images.delete may take, operation included, before it counts as failed. */
export const CALL_LIMIT_MS = 10 * 60_000;

export interface PruneDeps {
  env: Record<string, string | undefined>;
  redactor: Redactor;
  out: TextSink;
  err: TextSink;
  /** Aborted on SIGINT/SIGTERM: reads stop at once; a change in flight is finished, the rest skipped. */
  signal: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** The clock (tests of the planner pass their own; the command uses the real one). */
  now?: () => number;
}

export type Outcome = 'kept' | 'unchanged' | 'planned' | 'deprecated' | 'deleted' | 'failed' | 'skipped';

interface ImageReport {
  name: string;
  createdAt: string;
  state: string;
  builtByTool: boolean;
  action: Decision['action'];
  reasons?: string[];
  why?: string;
  /** The status images.deprecate sends (action deprecate). */
  status?: Record<string, unknown>;
  outcome: Outcome;
  error?: string;
}

const familyImage = (i: ImageInfo, now: number): FamilyImage => {
  const created = i.creationTimestamp ? Date.parse(i.creationTimestamp) : NaN;
  return {
    name: i.name,
    // An image whose age is unknown counts as new (kept by --min-age).
    createdAt: Number.isFinite(created) ? created : now,
    status: i.status ?? 'READY',
    builtByTool: parseRecord(i.description) !== undefined,
    ...(i.deprecated ? { deprecated: i.deprecated } : {}),
  };
};

/**
 * Why an image planned for deletion, read again just before, must not be deleted after all: it is ACTIVE again, its
 * description no longer holds this tool's record, or it was deprecated again since (not yet for --min-age).
 * Undefined: it is still due.
 */
export function staleDeletion(fresh: ImageInfo, now: number, minAgeMs: number): string | undefined {
  const image = familyImage(fresh, now);
  const state = image.deprecated?.state ?? 'ACTIVE';
  if (state === 'ACTIVE') return 'it is ACTIVE again';
  if (!image.builtByTool) return "its description no longer holds this tool's record";
  const since = deprecatedSince(image, now);
  if (since === undefined || now - since < minAgeMs)
    return `it was deprecated again (${state}${since === undefined ? ' with no time recorded' : ` for ${age(now - since)}`})`;
  return undefined;
}

export async function runPrune(config: PruneConfig, deps: PruneDeps): Promise<number> {
  const [{ findCredentials }, { createCloud }, { DEFAULT_TUNING }] = await Promise.all([
    import('../../gcp/auth.js'),
    import('../../gcp/index.js'),
    import('../../builder/context.js'),
  ]);
  const tokens = await findCredentials({ keyFile: config.keyFile, env: deps.env, redactor: deps.redactor });
  const cloud = createCloud(
    { project: config.projectName },
    {
      env: deps.env,
      tokens,
      retry: { ...DEFAULT_TUNING.retry, ...deps.retry },
      insertSettleMs: DEFAULT_TUNING.insertSettleMs,
      redactor: deps.redactor,
    },
  );
  const { out, err, signal } = deps;
  const now = (deps.now ?? Date.now)();
  const where = `family ${config.family} in project ${config.projectName}`;

  // Reading: an interrupt here changes nothing.
  let images: ImageInfo[];
  let usage: Awaited<ReturnType<typeof findUses>>;
  try {
    images = await cloud.compute.listImagesOfFamily(config.family, signal);
    usage = await findUses(cloud, { project: config.projectName, family: config.family }, config.clusterProjects, signal, {
      kubernetesRequired: config.delete,
    });
  } catch (e) {
    if (signal.aborted) {
      err.write('Interrupted while reading: nothing was changed.\n');
      return 130;
    }
    throw e;
  }

  const plan = planPrune(
    images.map((i) => familyImage(i, now)),
    usage.uses,
    { project: config.projectName, keep: config.keep, minAgeMs: config.minAgeMs, delete: config.delete, now },
    usage.unreadable,
  );
  const reports = plan.decisions.map((d) => reportOf(d, config.dryRun));
  if (!config.json) {
    err.write(
      `Family ${config.family} in project ${config.projectName}: ${images.length} image(s); checked ${usage.clusters.length} cluster(s) in ${config.clusterProjects.join(', ')}.\n`,
    );
    for (const n of usage.notes) err.write(`note: ${n}\n`);
    for (const r of reports) out.write(`${r.action}\t${r.name}\t${detail(r)}\n`);
  }
  for (const u of usage.unreadable)
    err.write(`error: could not read ${u}: no image is deleted while it is not known which images are in use\n`);

  let interrupted = false;
  if (!config.dryRun) {
    for (const [i, d] of plan.decisions.entries()) {
      if (d.action !== 'deprecate' && d.action !== 'delete') continue;
      const report = reports[i]!;
      if (signal.aborted) {
        interrupted = true;
        report.outcome = 'skipped';
        continue;
      }
      // Its own limit, not the interrupt's signal: a change once sent is followed to its end.
      const limit = deadline(CALL_LIMIT_MS);
      try {
        if (d.action === 'deprecate') {
          await cloud.compute.deprecateImage(d.image.name, d.status, limit);
          report.outcome = 'deprecated';
          if (!config.json)
            err.write(`deprecated ${d.image.name}${d.status.replacement ? ` (replacement ${d.status.replacement})` : ''}\n`);
        } else {
          // The plan may be stale: the image is read again, and deleted only if it is still due.
          const fresh = await cloud.compute.getImage(d.image.name, limit);
          const stale = fresh ? staleDeletion(fresh, (deps.now ?? Date.now)(), config.minAgeMs) : undefined;
          if (stale || signal.aborted) {
            report.outcome = 'skipped';
            if (!stale) interrupted = true;
            else {
              report.why = `not deleted: ${stale} since it was listed`;
              if (!config.json) err.write(`skipped ${d.image.name}: ${stale} since it was listed; not deleted\n`);
            }
            continue;
          }
          const gone = fresh ? await cloud.compute.deleteImage(d.image.name, limit) : 'not-found';
          report.outcome = 'deleted';
          if (!config.json) err.write(`deleted ${d.image.name}${gone === 'not-found' ? ' (it was already gone)' : ''}\n`);
        }
      } catch (e) {
        report.outcome = 'failed';
        report.error = deps.redactor.redact(String((e as Error)?.message ?? e));
        const verb = d.action === 'deprecate' ? 'deprecate' : 'delete';
        err.write(`error: could not ${verb} image ${d.image.name}: ${report.error}\n`);
      }
    }
    if (signal.aborted) interrupted = true;
  }

  const failed = reports.filter((r) => r.outcome === 'failed').length;
  const code = interrupted ? 130 : failed > 0 || usage.unreadable.length > 0 ? 1 : 0;
  const count = (o: Outcome) => reports.filter((r) => r.outcome === o).length;
  if (config.json) {
    const state = interrupted ? 'interrupted' : code !== 0 ? 'failed' : config.dryRun ? 'planned' : 'succeeded';
    const doc = {
      v: 1,
      command: 'prune',
      state,
      project: config.projectName,
      family: config.family,
      keep: config.keep,
      minAge: config.minAge,
      delete: config.delete,
      dryRun: config.dryRun,
      clusterProjects: config.clusterProjects,
      clusters: usage.clusters,
      unreadable: usage.unreadable,
      notes: usage.notes,
      ...(plan.replacement ? { replacement: plan.replacement } : {}),
      ...(plan.withheld ? { withheld: plan.withheld } : {}),
      images: reports,
    };
    out.write(`${JSON.stringify(doc)}\n`);
  } else if (config.dryRun) {
    err.write(`Dry run: nothing was changed (${count('planned')} change(s) planned in ${where}).\n`);
  } else {
    err.write(
      `${interrupted ? 'Interrupted: ' : ''}${count('kept')} kept, ${count('deprecated')} deprecated, ${count('deleted')} deleted` +
        `${failed ? `, ${failed} failed` : ''}${count('skipped') ? `, ${count('skipped')} skipped (unchanged)` : ''} in ${where}.\n`,
    );
  }
  return code;
}

function reportOf(d: Decision, dryRun: boolean): ImageReport {
  const base = {
    name: d.image.name,
    createdAt: new Date(d.image.createdAt).toISOString(),
    state: d.image.deprecated?.state ?? 'ACTIVE',
    builtByTool: d.image.builtByTool,
    action: d.action,
  };
  switch (d.action) {
    case 'keep':
      return { ...base, reasons: d.reasons, outcome: 'kept' };
    case 'deprecate':
      return { ...base, why: d.why, status: { ...d.status }, outcome: dryRun ? 'planned' : 'skipped' };
    case 'delete':
      return { ...base, why: d.why, outcome: dryRun ? 'planned' : 'skipped' };
    case 'wait':
    case 'ignore':
      return { ...base, why: d.why, outcome: 'unchanged' };
  }
}

function detail(r: ImageReport): string {
  if (r.reasons) return r.reasons.join('; ');
  const replacement = r.status?.['replacement'];
  return r.action === 'deprecate' && typeof replacement === 'string' ? `${r.why}; replacement ${replacement}` : (r.why ?? '');
}
