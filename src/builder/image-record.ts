// What an image holds, written into its `description` when it is created and read back by --if-changed to tell
// whether a new build would bake the very same disk (docs/architecture.md, Image record). The labels belong to the
// user; the description is ours. Format: one human line, then a line `gdib:` + compact JSON:
//
//   Built by gke-disk-image-builder 1.2.3: 2 container images for linux/amd64.
//   gdib:{"v":1,"tool":"gke-disk-image-builder","disk":1,"platform":"linux/amd64","checksums":false,"count":2,"sum":"…","images":{"ref":"sha256:…"}}
//
// GCE limits a description to 2048 characters. `sum` (sha256 of the sorted `ref=digest` lines) and `count` are
// always written; the per-reference `images` map only when the whole description still fits, so a long list is
// still compared exactly, only without naming which reference changed.
import { createHash } from 'node:crypto';
import type { ImageInfo } from '../gcp/types.js';

// The tool's name and the disk's format version are the VM contract's (src/vm/contract.ts): one definition for both sides.
import { DATA_FORMAT_VERSION, DISK_FORMAT_VERSION, TOOL, dataFingerprint, type DataFile, type DataSource } from '../vm/contract.js';
import { formatDataSource } from '../vm/data-sources.js';
export { DISK_FORMAT_VERSION, TOOL };
/** The record's own format. */
export const RECORD_VERSION = 1;
export const MAX_DESCRIPTION = 2048;
const MARKER = 'gdib:';

export interface ImageRecord {
  v: number;
  tool: string;
  /** The version of the tool that built the image (information only; not compared). */
  toolVersion?: string;
  disk: number;
  platform: string;
  checksums: boolean;
  count: number;
  /** sha256 of the sorted `ref=digest` lines (`ref=` for a reference that was not resolved). */
  sum: string;
  /** References that were not resolved (no digest): such a record is never "the same". */
  unresolved?: number;
  /** Each reference's manifest digest (null: not resolved); left out when the description would be too long. */
  images?: Record<string, string | null>;
  /**
   * What the disk holds: absent (records written before data disks existed) or `images` for container images,
   * `data` for a data disk (docs/architecture.md, Data disks). Read it with diskKindOfRecord.
   */
  kind?: 'images' | 'data';
  /**
   * A data disk's sources, each `SOURCE=DEST` as resolved (`hf://org/m@<commit>=m`, `gs://b/p/=p`) → the fingerprint
   * of its own files; `count` is then the number of files, `sum` the whole listing's fingerprint. Left out, like
   * `images`, when the description would be too long.
   */
  sources?: Record<string, string>;
}

/** What an image built by this tool holds: container images, or data files. */
export function diskKindOfRecord(record: ImageRecord): 'images' | 'data' {
  return record.kind === 'data' ? 'data' : 'images';
}

/** The platform a data disk's record carries: no --platform of a container-image build equals it. */
export const DATA_PLATFORM = 'data';

/**
 * The record of a data disk: `disk` is DATA_FORMAT_VERSION, `platform` DATA_PLATFORM (so that no release that
 * predates data disks takes one for the base of an incremental build), `count` the files, `sum` the listing's
 * fingerprint and the resolved sources hashed together, `sources` each source's own fingerprint (its files numbered as if
 * it were the only source).
 */
export function dataRecordFor(
  sources: readonly DataSource[],
  files: readonly DataFile[],
  fingerprint: string,
  toolVersion?: string,
): ImageRecord {
  const named = sources.map(formatDataSource);
  return {
    v: RECORD_VERSION,
    tool: TOOL,
    ...(toolVersion ? { toolVersion } : {}),
    kind: 'data',
    disk: DATA_FORMAT_VERSION,
    platform: DATA_PLATFORM,
    checksums: true,
    count: files.length,
    // The sources as resolved are part of it: a file listed by its size alone (a Hugging Face file without a blob
    // id) could change unseen by the fingerprint, so a new commit is a change all the same.
    sum: createHash('sha256')
      .update([fingerprint, ...named].join('\n'))
      .digest('hex'),
    sources: Object.fromEntries(
      sources.map((_, i) => [named[i]!, dataFingerprint(files.filter((f) => f.source === i).map((f) => ({ ...f, source: 0 })))]),
    ),
  };
}

/** The record of what a build bakes: its references, with the digests preflight resolved. */
export function recordFor(
  containerImages: readonly string[],
  digests: Readonly<Record<string, string>>,
  platform: string,
  checksums: boolean,
  toolVersion?: string,
): ImageRecord {
  const images = Object.fromEntries([...containerImages].sort().map((ref) => [ref, digests[ref] ?? null]));
  const unresolved = Object.values(images).filter((d) => d === null).length;
  return {
    v: RECORD_VERSION,
    tool: TOOL,
    ...(toolVersion ? { toolVersion } : {}),
    disk: DISK_FORMAT_VERSION,
    platform,
    checksums,
    count: Object.keys(images).length,
    sum: sumOf(images),
    ...(unresolved ? { unresolved } : {}),
    images,
  };
}

function sumOf(images: Record<string, string | null>): string {
  const lines = Object.entries(images)
    .map(([ref, d]) => `${ref}=${d ?? ''}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** The image description: the human line and the record, the per-reference map dropped when it does not fit. */
export function describeRecord(record: ImageRecord): string {
  const by = `Built by ${TOOL}${record.toolVersion ? ` ${record.toolVersion}` : ''}`;
  const human =
    diskKindOfRecord(record) === 'data'
      ? `${by}: a data disk of ${record.count} file${record.count === 1 ? '' : 's'}.`
      : `${by}: ${record.count} container image${record.count === 1 ? '' : 's'} for ${record.platform}.`;
  const full = `${human}\n${MARKER}${JSON.stringify(record)}`;
  if (full.length <= MAX_DESCRIPTION) return full;
  const { images: _dropped, sources: _alsoDropped, ...short } = record;
  return `${human}\n${MARKER}${JSON.stringify(short)}`;
}

/** The record in a description, or undefined for an image this tool did not build (or a record it cannot read). */
export function parseRecord(description: string | undefined): ImageRecord | undefined {
  const line = description?.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(line.slice(MARKER.length));
  } catch {
    return undefined;
  }
  if (!r || typeof r !== 'object') return undefined;
  const o = r as Partial<ImageRecord>;
  if (o.tool !== TOOL || typeof o.v !== 'number' || typeof o.sum !== 'string' || typeof o.count !== 'number') return undefined;
  return o as ImageRecord;
}

export interface Comparison {
  same: boolean;
  /** Why not, one line each: a reference changed, added or removed, the platform, the checksum setting, … */
  changes: string[];
}

/** Whether an existing image (`old`) holds what this build (`now`) would bake. */
export function compareRecords(old: ImageRecord, now: ImageRecord): Comparison {
  const changes: string[] = [];
  const [oldKind, nowKind] = [diskKindOfRecord(old), diskKindOfRecord(now)];
  if (oldKind !== nowKind) {
    changes.push(
      `it is a disk of ${oldKind === 'data' ? 'data files' : 'container images'}, this build makes one of ${nowKind === 'data' ? 'data files' : 'container images'}`,
    );
    return { same: false, changes };
  }
  if (nowKind === 'data') return compareData(old, now);
  if (old.v !== RECORD_VERSION) changes.push(`its record is of another format (version ${old.v})`);
  if (old.disk !== now.disk) changes.push(`its disk format is version ${old.disk}, this tool writes version ${now.disk}`);
  if (old.platform !== now.platform) changes.push(`platform ${old.platform} → ${now.platform} (--platform)`);
  if (old.checksums !== now.checksums)
    changes.push(
      `snapshot checksums ${old.checksums ? 'stored' : 'not stored'} → ${now.checksums ? 'stored' : 'not stored'} (--store-snapshot-checksum)`,
    );
  const nowImages = now.images ?? {};
  for (const [ref, d] of Object.entries(nowImages))
    if (d === null) changes.push(`${ref}: could not be resolved from this machine, so it counts as changed`);
  if (old.images) {
    for (const [ref, d] of Object.entries(nowImages)) {
      if (d === null) continue;
      if (!(ref in old.images)) changes.push(`${ref}: added`);
      else if (old.images[ref] === null) changes.push(`${ref}: was not resolved when the image was built, so it counts as changed`);
      else if (old.images[ref] !== d) changes.push(`${ref}: ${old.images[ref]} → ${d}`);
    }
    for (const ref of Object.keys(old.images)) if (!(ref in nowImages)) changes.push(`${ref}: removed`);
  } else if (old.unresolved || old.count !== now.count || old.sum !== now.sum) {
    changes.push(
      `the container images differ (${old.count} → ${now.count} references; the image's record is a checksum only, too long to list them)`,
    );
  }
  return { same: changes.length === 0, changes };
}

/** Two data disks' records: the same listing (fingerprint), or which sources were added, removed or changed. */
function compareData(old: ImageRecord, now: ImageRecord): Comparison {
  const changes: string[] = [];
  if (old.v !== RECORD_VERSION) changes.push(`its record is of another format (version ${old.v})`);
  if (old.disk !== now.disk) changes.push(`its data disk format is version ${old.disk}, this tool writes version ${now.disk}`);
  if (changes.length === 0 && old.sum === now.sum) return { same: true, changes };
  const before = old.sources ?? {};
  const after = now.sources ?? {};
  // A source is named by what the user wrote; an hf:// source's commit is part of it, so a moved branch shows as
  // the old commit removed and the new one added: said as one change.
  const key = (s: string) => s.replace(/@[0-9a-f]{40}=/, '=');
  const oldByKey = new Map(Object.keys(before).map((s) => [key(s), s]));
  for (const [s, fp] of Object.entries(after)) {
    const was = oldByKey.get(key(s));
    if (was === undefined) changes.push(`${s}: added`);
    else if (was !== s) changes.push(`${was.replace(/=.*$/, '')} → ${s.replace(/=.*$/, '')}`);
    else if (before[was] !== fp) changes.push(`${s}: its objects changed (added, removed or rewritten)`);
    oldByKey.delete(key(s));
  }
  for (const s of oldByKey.values()) changes.push(`${s}: removed`);
  if (changes.length === 0)
    changes.push(
      old.sources
        ? 'the files of the sources differ (paths or order)'
        : `the data differs (${old.count} → ${now.count} files; the image's record is a fingerprint only, too long to list its sources)`,
    );
  return { same: false, changes };
}

/** The newest READY image that carries a record of this tool, with that record. */
export function newestOfOurs(images: readonly ImageInfo[]): { image: ImageInfo; record: ImageRecord } | undefined {
  const ours = images
    .filter((i) => i.status === 'READY')
    .map((image) => ({ image, record: parseRecord(image.description) }))
    .filter((x): x is { image: ImageInfo; record: ImageRecord } => !!x.record);
  const time = (i: ImageInfo) => (i.creationTimestamp ? Date.parse(i.creationTimestamp) : 0) || 0;
  return ours.sort((a, b) => time(b.image) - time(a.image))[0];
}
