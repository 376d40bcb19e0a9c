// Preflight of a data disk (docs/architecture.md, Data disks): every --data-source is listed with the caller's
// credentials — Cloud Storage with the caller's token, Hugging Face with the token of --hf-token-secret, read here
// with the caller's credentials and registered with the redactor — before anything is created. Every object must
// exist, the files must fit the disk with the filesystem's overhead, and the listing's fingerprint is what the VM
// must find again (DataPlan). Only reads.
import { BuildError } from '../../errors.js';
import { ApiError } from '../../gcp/errors.js';
import { diskKindOf, type BakeRun, type ImageRun } from '../../config/types.js';
import { dataDiskInodes, dataFingerprint, MAX_DATA_FILES, type DataFile, type DataPlan, type DataSource } from '../../vm/contract.js';
import { DataSourceError, formatDataSource, listingProblem } from '../../vm/data-sources.js';
import { shellCommand } from '../../io/shell-quote.js';
import type { BuildContext } from '../context.js';
import type { DataSummary } from '../events.js';
import { grantCommand, SECRET_ACCESSOR_ROLE, vmMember } from './registry-secrets.js';
import type { Step } from './step.js';

/** What the listing found, for the steps after it (the VM's metadata, the image record, the result). */
export interface DataListing {
  plan: DataPlan;
  files: DataFile[];
  bytes: number;
  /** The role bindings the VM's service account needs, as commands (VM builds). */
  grants: string[];
}

export const OBJECT_VIEWER_ROLE = 'roles/storage.objectViewer';
const GIB = 1024 ** 3;

/**
 * The smallest --disk-size-gb that holds `bytes` in files on ext4 as the agent makes it, with -m 0 and -N `inodes`
 * (one per file and per directory and a few for ext4: dataDiskInodes; docs/architecture.md, Data disks): one 4 KiB
 * block more per inode (a file's last block rounded up and its directory entry; a directory's block), the inode
 * tables (256 bytes per inode), the journal (up to 1 GiB) and the group descriptors and bitmaps (2 %). A block per
 * inode also keeps within ext4's densest (one inode per 4 KiB).
 */
export function dataDiskNeededGb(bytes: number, inodes: number): number {
  const used = bytes + inodes * (4096 + 256);
  return Math.max(10, Math.ceil((used + GIB + 64 * 1024 ** 2) / 0.98 / GIB));
}

export const listDataSources: Step<ImageRun | BakeRun> = {
  name: 'list-data-sources',
  title: 'Listing the data sources (--data-source)',
  writes: ['data'],
  async run(ctx, signal) {
    const { config } = ctx;
    if (diskKindOf(config) !== 'data') return;
    const problems: string[] = [];
    const hfToken = config.hfTokenSecret ? await readHfToken(ctx, config.hfTokenSecret, signal, problems) : undefined;
    if (problems.length > 0) throw new BuildError(problems[0]!, 'preflight');
    const listed = await Promise.all(
      config.dataSources.map(async (source, i) => {
        try {
          return await ctx.cloud.dataSources.resolve(source, i, hfToken, signal);
        } catch (err) {
          if (signal.aborted || !(err instanceof DataSourceError)) throw err;
          problems.push(`--data-source ${formatDataSource(source)}: ${err.message}`);
          return undefined;
        }
      }),
    );
    const sources: DataSource[] = listed.map((l, i) => l?.source ?? config.dataSources[i]!);
    const count = listed.reduce((n, l) => n + (l?.files.length ?? 0), 0);
    // Before anything else looks at them all: the manifest of more would be one JSON text too long to write.
    if (problems.length === 0 && count > MAX_DATA_FILES)
      throw new BuildError(
        `--data-source: the sources hold ${count} files, more than the ${MAX_DATA_FILES} a data disk takes; split them across data disks`,
        'preflight',
      );
    const files = listed.flatMap((l) => l?.files ?? []);
    if (problems.length === 0) {
      const clash = listingProblem(files, sources);
      if (clash) problems.push(`--data-source: ${clash}`);
    }
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const needed = dataDiskNeededGb(bytes, dataDiskInodes(files));
    if (problems.length === 0 && needed > config.diskSizeGb)
      problems.push(
        `--disk-size-gb: the data sources hold ${formatBytes(bytes)} in ${files.length} file${files.length === 1 ? '' : 's'}; with the filesystem's overhead the disk needs at least ${needed} GB (--disk-size-gb=${needed}), not ${config.diskSizeGb}`,
      );
    if (problems.length > 0)
      throw new BuildError(
        problems.length === 1 ? problems[0]! : `preflight found ${problems.length} problems:\n  - ${problems.join('\n  - ')}`,
        'preflight',
      );
    const grants = config.kind === 'vm-build' ? grantsFor({ ...ctx, config }, sources) : [];
    // Each source's own fingerprint too, so that a VM whose listing differs names the source that changed.
    const sourceFingerprints = sources.map((_, i) => dataFingerprint(files.filter((f) => f.source === i)));
    ctx.state.data = { plan: { sources, fingerprint: dataFingerprint(files), sourceFingerprints }, files, bytes, grants };
    ctx.emit({
      type: 'note',
      message: `the data disk will hold ${formatBytes(bytes)} in ${files.length} file${files.length === 1 ? '' : 's'} from ${sources.map(formatDataSource).join(', ')}`,
    });
    for (const g of grants) ctx.emit({ type: 'note', message: g });
  },
};

async function readHfToken(
  ctx: BuildContext<ImageRun | BakeRun>,
  secretVersion: string,
  signal: AbortSignal,
  problems: string[],
): Promise<string | undefined> {
  try {
    const token = await ctx.cloud.secretManager.secretText(secretVersion, signal);
    if (!token) problems.push(`--hf-token-secret: secret ${secretVersion} is empty (it should hold a Hugging Face token)`);
    return token || undefined;
  } catch (err) {
    if (signal.aborted || !(err instanceof ApiError)) throw err;
    if (err.status === 403 || err.status === 404)
      problems.push(
        `--hf-token-secret: you may not read secret ${secretVersion}, or it does not exist: reading it needs ${SECRET_ACCESSOR_ROLE} on the secret, for you and for the VM's service account`,
      );
    else problems.push(`--hf-token-secret: secret ${secretVersion} cannot be read: ${err.info.message}`);
    return undefined;
  }
}

/** The bindings the VM's service account needs: objectViewer on each bucket, secretAccessor on the token's secret. */
function grantsFor(ctx: BuildContext<Extract<ImageRun, { kind: 'vm-build' }>>, sources: readonly DataSource[]): string[] {
  const { config } = ctx;
  const member = vmMember(config.serviceAccount, config.projectName);
  const buckets = [...new Set(sources.flatMap((s) => (s.kind === 'gcs' ? [s.bucket] : [])))];
  const out = buckets.map(
    (b) =>
      `the VM reads gs://${b} with its service account (${config.serviceAccount}), which needs ${OBJECT_VIEWER_ROLE} on the bucket: ${shellCommand('gcloud', 'storage', 'buckets', 'add-iam-policy-binding', `gs://${b}`)} --member=${member} --role=${OBJECT_VIEWER_ROLE}`,
  );
  if (config.hfTokenSecret)
    out.push(
      `the VM reads secret ${config.hfTokenSecret} with its service account (${config.serviceAccount}), which needs ${SECRET_ACCESSOR_ROLE} on the secret: ${grantCommand(config.hfTokenSecret, member)}`,
    );
  return out;
}

/** Bytes in binary units, as GCE sizes disks (its "GB" is 2^30 bytes). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** The result's `data`: what the disk holds and the bindings its VM needs. */
export function dataSummary(listing: DataListing): DataSummary {
  return {
    sources: listing.plan.sources.map(formatDataSource),
    files: listing.files.length,
    bytes: listing.bytes,
    fingerprint: listing.plan.fingerprint,
    grants: listing.grants,
  };
}
