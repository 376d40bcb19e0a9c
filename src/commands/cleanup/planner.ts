// What `cleanup` does with each disk and VM it found (docs/architecture.md, Temporary resources): pure, from the
// listing, the time and --older-than. A resource is deleted only when all of these hold; otherwise it is left alone:
// - its zone was read (a zone the listing could not read is reported, and nothing in it is touched);
// - its run's deadline (the gdib-deadline label its build put on the disk and VM) has passed: until then the build
//   may still be running, whatever the age of its resources; a deadline label that cannot be read counts as not passed;
// - its age is known (a resource with no readable creation time counts as young) and at least --older-than.
// Resources of builds made before the deadline label existed are judged by their age alone.
import { DEADLINE_LABEL, parseDeadline, type Listing, type ManagedResource } from '../../gcp/inventory.js';

export type Verdict =
  | { action: 'delete' }
  /** Younger than --older-than: counted, not listed. */
  | { action: 'keep'; why: 'young' }
  | { action: 'keep'; why: 'running'; until: number }
  | { action: 'keep'; why: 'deadline-unreadable'; value: string }
  | { action: 'keep'; why: 'age-unknown' }
  /** In a zone the listing could not read. */
  | { action: 'keep'; why: 'unreachable' };

export interface Judged {
  resource: ManagedResource;
  verdict: Verdict;
}

/** A run's resources: same zone, job and run id (the labels `isManaged` checked). */
const runKey = (r: ManagedResource): string => `${r.zone}/${r.labels['gdib-job']}/${r.labels['gdib-run']}`;

type RunState = { until?: number; unreadable?: string };

export function planCleanup(listing: Listing, now: number, olderThanMs: number): Judged[] {
  const runs = new Map<string, RunState>();
  for (const r of listing.resources) {
    const value = r.labels[DEADLINE_LABEL];
    if (value === undefined) continue;
    const run = runs.get(runKey(r)) ?? {};
    runs.set(runKey(r), run);
    const at = parseDeadline(value);
    if (at === undefined) run.unreadable ??= value;
    else run.until = Math.max(run.until ?? at, at);
  }
  const unreachable = new Set(listing.unreachable);
  return listing.resources.map((resource) => ({ resource, verdict: judge(resource, runs.get(runKey(resource)), unreachable) }));

  function judge(r: ManagedResource, run: RunState | undefined, unreachable: Set<string>): Verdict {
    if (unreachable.has(r.zone)) return { action: 'keep', why: 'unreachable' };
    if (run?.unreadable !== undefined) return { action: 'keep', why: 'deadline-unreadable', value: run.unreadable };
    if (run?.until !== undefined && now < run.until) return { action: 'keep', why: 'running', until: run.until };
    if (!Number.isFinite(r.createdAt)) return { action: 'keep', why: 'age-unknown' };
    return now - r.createdAt >= olderThanMs ? { action: 'delete' } : { action: 'keep', why: 'young' };
  }
}
