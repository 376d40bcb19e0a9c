// The flags that give a build's new image its deprecation times (docs/architecture.md, Image lifetime): set right
// after the image is created, as Packer's deprecate_at / obsolete_at / delete_at, while the image stays ACTIVE.
// They are part of `build`'s flag set and apply to the runs that create an image.
import { BUILDS, type FlagSet } from '../../config/flag.js';
import { parseLifetime } from '../../config/duration.js';
import * as rules from '../../config/rules.js';

export const DEPRECATION_FLAGS = {
  'deprecate-after': {
    kind: 'string',
    appliesTo: BUILDS,
    needs: { 'image-name': 'without it, build --local only writes the --output archive and creates no image' },
    valueName: 'DURATION',
    check: rules.lifetime,
    isNew: true,
    help: 'record on the new image when it is to be deprecated, this long after it is created (30d, 720h); informational, GCE changes nothing by itself',
    doc: 'record on the new image the time it is to be deprecated, this long after its creation (`30d`, `720h`, `1d12h`); the image stays `ACTIVE`: GCE changes nothing at that time, the timestamps are for you and `prune` (see [Keeping the family tidy](#keeping-the-family-tidy))',
  },
  'obsolete-after': {
    kind: 'string',
    appliesTo: BUILDS,
    needs: { 'image-name': 'without it, build --local only writes the --output archive and creates no image' },
    valueName: 'DURATION',
    check: rules.lifetime,
    isNew: true,
    help: 'record on the new image when it is to be obsolete, this long after it is created; at least --deprecate-after',
    doc: 'the same for the time it is to become `OBSOLETE`; not before `--deprecate-after`',
  },
  'delete-after': {
    kind: 'string',
    appliesTo: BUILDS,
    needs: { 'image-name': 'without it, build --local only writes the --output archive and creates no image' },
    valueName: 'DURATION',
    check: rules.lifetime,
    isNew: true,
    help: 'record on the new image when it is to be deleted, this long after it is created (GCE never deletes it); at least --obsolete-after',
    doc: 'the same for the time it is to be deleted (GCE deletes nothing: `prune --delete` does); not before `--obsolete-after`',
  },
} as const satisfies FlagSet;

/** The lifetimes given, in milliseconds after the image's creation. */
export interface ImageLifetime {
  readonly deprecateAfterMs?: number;
  readonly obsoleteAfterMs?: number;
  readonly deleteAfterMs?: number;
}

type Given = Partial<Record<keyof typeof DEPRECATION_FLAGS, unknown>>;

const ORDER = ['deprecate-after', 'obsolete-after', 'delete-after'] as const;

/**
 * The lifetimes from the raw flags, and the problems: each value is checked by its flag, and the times must come in
 * GCE's order (deprecated, then obsolete, then deleted) — each pair given is compared.
 */
export function imageLifetime(raw: Given): { lifetime?: ImageLifetime; problems: string[] } {
  const ms = ORDER.map((flag) => (typeof raw[flag] === 'string' ? parseLifetime(raw[flag]) : undefined));
  const problems: string[] = [];
  for (let i = 0; i < ORDER.length; i++)
    for (let j = i + 1; j < ORDER.length; j++) {
      const [a, b] = [ms[i], ms[j]];
      if (a !== undefined && b !== undefined && a > 0 && b > 0 && a > b)
        problems.push(`--${ORDER[j]!}: must not be shorter than --${ORDER[i]!} (${String(raw[ORDER[i]!])} > ${String(raw[ORDER[j]!])})`);
    }
  const [deprecateAfterMs, obsoleteAfterMs, deleteAfterMs] = ms.map((v) => (v !== undefined && v > 0 ? v : undefined));
  if (deprecateAfterMs === undefined && obsoleteAfterMs === undefined && deleteAfterMs === undefined) return { problems };
  return {
    lifetime: {
      ...(deprecateAfterMs !== undefined ? { deprecateAfterMs } : {}),
      ...(obsoleteAfterMs !== undefined ? { obsoleteAfterMs } : {}),
      ...(deleteAfterMs !== undefined ? { deleteAfterMs } : {}),
    },
    problems,
  };
}
