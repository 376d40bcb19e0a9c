// `doctor --hits`: how often the secondary boot disk served the images pods pulled (docs/architecture.md, Doctor). GKE
// nodes log, per pull, in their `gcfs-snapshotter` log: "Image <ref> is backed by secondary boot disk caching by X%
// (a/b layers), by image streaming by Y% (c/d layers)." This reads those lines of the cluster from Cloud Logging
// (entries:list) since --since and counts, per reference, the pulls backed fully, partly and not at all.
import type { ProjectReadsApi, LogEntry } from '../../gcp/project-reads.js';
import type { DoctorPlan } from './plan.js';
import type { DoctorDeps } from './command.js';
import { formatMs } from '../../errors.js';

const LINE = /Image (\S+) is backed by secondary boot disk caching by [\d.]+% \((\d+)\/(\d+) layers\)/;
/** At most this many entries are read (a report, not an export). */
export const MAX_ENTRIES = 50_000;

export interface HitCounts {
  reference: string;
  full: number;
  partial: number;
  none: number;
}

export function hitsFilter(plan: DoctorPlan, since: Date): string {
  const c = plan.cluster;
  return [
    `logName="projects/${c.project}/logs/gcfs-snapshotter"`,
    `resource.labels.cluster_name="${c.name}"`,
    `resource.labels.location="${c.location}"`,
    `timestamp>="${since.toISOString()}"`,
    `"secondary boot disk caching"`,
  ].join(' AND ');
}

function messageOf(e: LogEntry): string {
  if (typeof e.textPayload === 'string') return e.textPayload;
  const j = e.jsonPayload ?? {};
  for (const k of ['MESSAGE', 'message', 'msg']) if (typeof j[k] === 'string') return j[k];
  return '';
}

export function countHits(entries: readonly LogEntry[]): HitCounts[] {
  const by = new Map<string, HitCounts>();
  for (const e of entries) {
    const m = LINE.exec(messageOf(e));
    if (!m) continue;
    const [, reference, cached, total] = m as unknown as [string, string, string, string];
    const c = by.get(reference) ?? { reference, full: 0, partial: 0, none: 0 };
    const a = Number(cached);
    const b = Number(total);
    if (a === 0) c.none++;
    else if (a >= b) c.full++;
    else c.partial++;
    by.set(reference, c);
  }
  return [...by.values()].sort((x, y) => x.reference.localeCompare(y.reference));
}

export async function hitsReport(cloud: { projectReads: ProjectReadsApi }, plan: DoctorPlan, deps: DoctorDeps): Promise<number> {
  const sinceMs = plan.hits!.sinceMs;
  const since = new Date(Date.now() - sinceMs);
  let entries: LogEntry[];
  try {
    entries = await cloud.projectReads.logEntries(plan.cluster.project, hitsFilter(plan, since), MAX_ENTRIES, deps.signal);
  } catch (err) {
    deps.err.write(`error: cannot read the cluster's gcfs-snapshotter logs from Cloud Logging: ${(err as Error).message}\n`);
    return 1;
  }
  const counts = countHits(entries);
  if (plan.json) {
    deps.out.write(
      `${JSON.stringify({ cluster: plan.cluster.path, since: since.toISOString(), entries: entries.length, truncated: entries.length >= MAX_ENTRIES, references: counts })}\n`,
    );
    return 0;
  }
  deps.err.write(
    `${entries.length} pull${entries.length === 1 ? '' : 's'} logged by the nodes of ${plan.cluster.path} in the last ${formatMs(sinceMs)}.\n`,
  );
  if (!counts.length) {
    deps.out.write('no image pulls were logged by gcfs-snapshotter (no pod started on a node with image streaming in that time?)\n');
    return 0;
  }
  deps.out.write(`${'full'.padStart(6)} ${'partial'.padStart(8)} ${'none'.padStart(6)}  reference\n`);
  for (const c of counts)
    deps.out.write(`${String(c.full).padStart(6)} ${String(c.partial).padStart(8)} ${String(c.none).padStart(6)}  ${c.reference}\n`);
  if (entries.length >= MAX_ENTRIES) deps.err.write(`warning: only the first ${MAX_ENTRIES} entries were read; use a shorter --since\n`);
  return 0;
}
