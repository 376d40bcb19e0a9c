// What `prune` does to each image of a family, decided from facts already read
// (docs/architecture.md, Image lifetime): a pure function, so every rule is a table test. The facts: the family's images (this tool's record
// or not, creation time, deprecation status), the images clusters are known to use, and whether any cluster could
// not be read. Nothing here reads the clock or the cloud.
import type { DeprecationStatus } from '../../gcp/types.js';

export interface FamilyImage {
  name: string;
  /** Epoch ms (GCE's creationTimestamp). */
  createdAt: number;
  /** READY, PENDING, DELETING, FAILED. */
  status: string;
  /** Its description holds this tool's record (docs/architecture.md, Image record). */
  builtByTool: boolean;
  /** Absent: ACTIVE, never deprecated. */
  deprecated?: DeprecationStatus;
}

/** An image of the family named by something that may create nodes from it. */
export interface ImageUse {
  image: string;
  /** `projects/P/locations/L/clusters/C/nodePools/N`, or a ComputeClass or allowlist of a cluster. */
  by: string;
}

export interface PruneRules {
  project: string;
  /** The newest this many ACTIVE images this tool built are kept (at least 1). */
  keep: number;
  /** Images younger than this are kept; deprecated ones are deleted only once deprecated this long. */
  minAgeMs: number;
  /** --delete: delete the images deprecated for at least minAgeMs. */
  delete: boolean;
  now: number;
}

export type Action =
  /** Left as it is, for the reasons given (newest, young, in use). */
  | { action: 'keep'; reasons: string[] }
  /** images.deprecate: state DEPRECATED (or the state it has, when it is already further on), `deprecated` now. */
  | { action: 'deprecate'; status: DeprecationStatus; why: string }
  | { action: 'delete'; why: string }
  /** Nothing to do yet (deprecated, waiting for --min-age or --delete), or a deletion withheld. */
  | { action: 'wait'; why: string }
  /** Not this tool's, or not READY: never touched. */
  | { action: 'ignore'; why: string };

export type Decision = { image: FamilyImage } & Action;

export interface PrunePlan {
  /** In the order of the family, newest first. */
  decisions: Decision[];
  /** The image a deprecated one points to: the newest ACTIVE one (always kept). */
  replacement?: string;
  /** Why no image is deleted in this run although some would be (a cluster that could not be read). */
  withheld?: string;
}

const DAY = 86_400_000;

/** "3d", "5h", "12m": how long, for the reasons shown to the user. */
export function age(ms: number): string {
  if (ms >= DAY) return `${Math.floor(ms / DAY)}d`;
  if (ms >= 3_600_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.max(0, Math.floor(ms / 60_000))}m`;
}

/**
 * Since when an image is deprecated (or further), from the times recorded with its state: the earliest time that is
 * not in the future. Undefined for an ACTIVE image, or one whose state carries no such time (deprecated by hand).
 */
export function deprecatedSince(image: FamilyImage, now: number): number | undefined {
  const d = image.deprecated;
  if (!d || d.state === 'ACTIVE') return undefined;
  const times = [d.deprecated, d.obsolete, d.deleted].map((t) => (t ? Date.parse(t) : NaN)).filter((t) => Number.isFinite(t) && t <= now);
  return times.length ? Math.min(...times) : undefined;
}

const isActive = (i: FamilyImage) => (i.deprecated?.state ?? 'ACTIVE') === 'ACTIVE';

const imageUri = (project: string, name: string) => `projects/${project}/global/images/${name}`;

export function planPrune(
  images: readonly FamilyImage[],
  uses: readonly ImageUse[],
  rules: PruneRules,
  unreadable: readonly string[] = [],
): PrunePlan {
  const newestFirst = [...images].sort((a, b) => b.createdAt - a.createdAt || a.name.localeCompare(b.name));
  const ours = newestFirst.filter((i) => i.builtByTool && i.status === 'READY');
  // --keep counts the ACTIVE images only: a deprecated image has left the family (GCE resolves a family to its newest
  // ACTIVE image), so the newest ACTIVE one is always kept and family references keep resolving. When none is ACTIVE,
  // the newest are kept, so that making one ACTIVE again restores the family.
  const active = ours.filter(isActive);
  const ranked = active.length ? active : ours;
  const newest = new Set(ranked.slice(0, Math.max(1, rules.keep)).map((i) => i.name));
  const usedBy = new Map<string, string[]>();
  for (const u of uses) usedBy.set(u.image, [...(usedBy.get(u.image) ?? []), u.by]);

  const keepReasons = (i: FamilyImage): string[] => {
    const reasons: string[] = [];
    const rank = ranked.indexOf(i);
    const none = active.length ? '' : '; none is ACTIVE';
    if (newest.has(i.name)) reasons.push(`newest (${rank + 1} of --keep ${rules.keep}${none})`);
    const ageMs = rules.now - i.createdAt;
    if (ageMs < rules.minAgeMs) reasons.push(`young (created ${age(ageMs)} ago, --min-age ${age(rules.minAgeMs)})`);
    for (const by of [...new Set(usedBy.get(i.name) ?? [])].sort()) reasons.push(`in use by ${by}`);
    return reasons;
  };

  // A deprecated image points to the newest ACTIVE image, which is kept (keep ≥ 1); none when no image is ACTIVE.
  const replacementImage = active[0];
  const replacement = replacementImage ? imageUri(rules.project, replacementImage.name) : undefined;
  const withheld = unreadable.length
    ? `deletion withheld: could not read ${unreadable.join(', ')}, so it is not known which images are in use`
    : undefined;

  const decide = (i: FamilyImage): Action => {
    if (!i.builtByTool) return { action: 'ignore', why: 'not built by gke-disk-image-builder (no record in its description)' };
    if (i.status !== 'READY') return { action: 'ignore', why: `status ${i.status}` };
    const reasons = keepReasons(i);
    if (reasons.length) return { action: 'keep', reasons };
    const state = i.deprecated?.state ?? 'ACTIVE';
    const since = deprecatedSince(i, rules.now);
    if (state === 'ACTIVE' || since === undefined) {
      const status: DeprecationStatus = {
        // An image already OBSOLETE or DELETED stays so: only its time is recorded.
        state: state === 'ACTIVE' ? 'DEPRECATED' : state,
        ...(replacement ? { replacement } : {}),
        deprecated: new Date(rules.now).toISOString(),
      };
      const why = state === 'ACTIVE' ? 'older than the images kept' : `${state} with no time recorded: the time is recorded now`;
      return { action: 'deprecate', status, why };
    }
    const deprecatedFor = rules.now - since;
    if (!rules.delete) return { action: 'wait', why: `${state} for ${age(deprecatedFor)}; deleted only with --delete` };
    if (deprecatedFor < rules.minAgeMs)
      return { action: 'wait', why: `${state} for ${age(deprecatedFor)}; deleted once deprecated for --min-age ${age(rules.minAgeMs)}` };
    if (withheld) return { action: 'wait', why: withheld };
    return { action: 'delete', why: `${state} for ${age(deprecatedFor)} (at least --min-age ${age(rules.minAgeMs)})` };
  };

  const decisions = newestFirst.map((image) => ({ image, ...decide(image) }));
  const withholding = withheld && rules.delete ? { withheld } : {};
  return { decisions, ...(replacement ? { replacement } : {}), ...withholding };
}
