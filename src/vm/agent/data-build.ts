// A data disk's build (docs/vm-script.md, Data disks): installing (the bootstrap) → listing every source again with
// the VM's own credentials, checked against the fingerprint of the CLI's listing → formatting (ext4, label
// gdib-data) → downloading and checking every file → done: directories read-only, the manifest written, the disk
// synced and unmounted. Any failure names the file and its source; the disk is unmounted whatever happens.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DATA_FORMAT_VERSION,
  DATA_LABEL,
  DATA_MANIFEST,
  DATA_SPARE_INODES,
  dataDirectories,
  dataDiskInodes,
  dataFingerprint,
  MAX_DATA_FILES,
  TOOL,
  type DataFile,
  type DataManifest,
  type DataPlan,
  type DataSource,
} from '../contract.js';
import { DataSourceError, listDataSource } from '../data-sources.js';
import { checkAborted, type Ctx } from './context.js';
import { accessSecret, Scrubber } from './credentials.js';
import { DEFAULT_DATA_JOBS, DEFAULT_PART_SIZE, DEFAULT_RANGED_MIN, downloadFiles, type FileJob } from './data-download.js';
import { checkFilePaths, fileLabel, sourceLabel } from './data-plan.js';
import { DataDisk } from './disk.js';
import { Fail, humanBytes } from './errors.js';

export const DEFAULT_STORAGE_ENDPOINT = 'https://storage.googleapis.com';
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface DataParams {
  mode: 'build';
  runId: string;
  deviceName: string;
  plan: DataPlan;
  /** The Secret Manager version holding the Hugging Face token, when one is needed. */
  hfTokenSecret?: string;
  pullStallTimeoutS: number;
}

/** The VM's service-account token, fetched again once it is 5 minutes old (they live an hour). */
function tokenSource(ctx: Ctx): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < 300_000) return cached.token;
    let token: string;
    try {
      token = await ctx.md.token();
    } catch (err) {
      throw new Fail(`cannot get an access token from the metadata server for Cloud Storage: ${(err as Error).message}`);
    }
    cached = { token, at: Date.now() };
    return token;
  };
}

/** The token, registered with `scrubber` as read and as used (trimmed) before anything can relay it. */
async function hfToken(ctx: Ctx, secret: string | undefined, scrubber: Scrubber): Promise<string | undefined> {
  if (secret === undefined) return undefined;
  const raw = await accessSecret(ctx, secret, 'the Hugging Face token');
  const text = raw.trim();
  scrubber.add(raw);
  scrubber.add(text);
  if (text === '' || /\s/.test(text)) throw new Fail(`secret ${secret} does not hold a Hugging Face token (one line, no spaces)`);
  return text;
}

/** The source whose listing differs from the CLI's, named when the plan says per source. */
function changedSources(plan: DataPlan, files: readonly DataFile[]): string {
  const each = plan.sourceFingerprints;
  if (!each) return plan.sources.length === 1 ? sourceLabel(plan.sources[0]!) : 'one of the sources';
  const changed = plan.sources.filter((_, i) => dataFingerprint(files.filter((f) => f.source === i)) !== each[i]);
  return changed.length > 0 ? changed.map(sourceLabel).join(', ') : 'one of the sources';
}

const encPath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/** Where and how a file is downloaded. */
export function remoteOf(
  file: DataFile,
  source: DataSource,
  ends: { storage: string; hf: string },
  gcsToken: () => Promise<string>,
  hf: string | undefined,
): FileJob['remote'] {
  if (source.kind === 'gcs') {
    const q = new URLSearchParams({ alt: 'media', ...(file.generation ? { generation: file.generation } : {}) });
    return {
      url: `${ends.storage}/storage/v1/b/${encodeURIComponent(source.bucket)}/o/${encodeURIComponent(file.name)}?${q.toString()}`,
      headers: async () => ({ authorization: `Bearer ${await gcsToken()}` }),
    };
  }
  return {
    url: `${ends.hf}/${encPath(source.repo)}/resolve/${encodeURIComponent(source.revision)}/${encPath(file.name)}`,
    headers: () => Promise.resolve<Record<string, string>>(hf ? { authorization: `Bearer ${hf}` } : {}),
  };
}

/** Every directory of the files' paths, deepest first. */
function directoriesOf(files: readonly DataFile[]): string[] {
  return [...dataDirectories(files)].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
}

/**
 * Builds the data disk; what it relays (the downloads' log lines, its failure) is scrubbed of the Hugging Face token
 * as a pull's lines are of its registry credentials (docs/vm-script.md, Credentials).
 */
export async function buildDataDisk(ctx: Ctx, params: DataParams, version: string): Promise<void> {
  const scrubber = new Scrubber();
  try {
    await build(ctx, params, version, scrubber);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (err instanceof Fail) {
      const message = scrubber.redact(err.message);
      throw message === err.message ? err : new Fail(message, err.exitCode);
    }
    throw new Fail(`${ctx.step.current} failed: ${scrubber.redact(err instanceof Error ? err.message : String(err))}`);
  }
}

async function build(ctx: Ctx, params: DataParams, version: string, scrubber: Scrubber): Promise<void> {
  const { report, step, env } = ctx;
  const { plan } = params;
  const ends = {
    storage: (env.storageEndpoint || DEFAULT_STORAGE_ENDPOINT).replace(/\/+$/, ''),
    hf: (env.hfEndpoint || DEFAULT_HF_ENDPOINT).replace(/\/+$/, ''),
  };
  const http = ctx.http ?? fetch;
  const gcsToken = tokenSource(ctx);

  await report.status('phase', 'listing');
  step.set('reading the Hugging Face token');
  const hf = plan.sources.some((s) => s.kind === 'hf') ? await hfToken(ctx, params.hfTokenSecret, scrubber) : undefined;
  const files: DataFile[] = [];
  for (const [i, source] of plan.sources.entries()) {
    checkAborted(ctx);
    step.set(`listing ${sourceLabel(source)}`);
    try {
      files.push(
        ...(await listDataSource(source, i, {
          fetch: http,
          token: source.kind === 'gcs' ? gcsToken : undefined,
          storageEndpoint: ends.storage,
          hfEndpoint: ends.hf,
          ...(hf ? { hfToken: hf } : {}),
          signal: ctx.signal,
        })),
      );
    } catch (err) {
      checkAborted(ctx);
      if (err instanceof Fail) throw err;
      const why = err instanceof DataSourceError ? err.message : err instanceof Error ? err.message : String(err);
      throw new Fail(`listing ${sourceLabel(source)} failed: ${why}`);
    }
  }
  const fingerprint = dataFingerprint(files);
  if (fingerprint !== plan.fingerprint)
    throw new Fail(
      `${changedSources(plan, files)}: the source changed since preflight (its files are not the ones the CLI listed); build again`,
    );
  if (files.length > MAX_DATA_FILES)
    throw new Fail(`the sources hold ${files.length} files, more than the ${MAX_DATA_FILES} a data disk takes`);
  checkFilePaths(files, plan.sources);
  const total = files.reduce((n, f) => n + f.size, 0);
  report.log(
    `${files.length} file(s), ${humanBytes(total)} from ${plan.sources.length} source(s): ${plan.sources.map(sourceLabel).join(' ')}`,
  );

  const disk = new DataDisk(ctx);
  let succeeded = false;
  try {
    await report.status('phase', 'formatting');
    step.set('formatting');
    await disk.claim(params.deviceName);
    const inodes = dataDiskInodes(files);
    await disk.formatAndMount(DATA_LABEL, inodes);
    const root = env.mountDir;
    const avail = disk.usage().avail;
    if (avail > 0 && total > avail)
      throw new Fail(`the files take ${humanBytes(total)}, the disk has ${humanBytes(avail)} free: give a larger --disk-size-gb`);
    // What mkfs made, checked before the downloads rather than found short (ENOSPC) among them.
    const freeInodes = disk.freeInodes();
    const needed = inodes - DATA_SPARE_INODES + 1; // the files, their directories and the manifest
    if (freeInodes >= 0 && freeInodes < needed)
      throw new Fail(`the filesystem has ${freeInodes} free inodes; the files, their directories and the manifest need ${needed}`);
    checkAborted(ctx);

    await report.status('phase', 'downloading');
    step.set('downloading');
    let bytes = 0;
    let done = 0;
    const started = Date.now();
    const progress = () =>
      `${done}/${files.length} files, ${humanBytes(bytes)} of ${humanBytes(total)} in ${Math.round((Date.now() - started) / 1000)} s`;
    const timer = setInterval(() => void report.status('progress', progress()), 15_000);
    try {
      await downloadFiles(
        {
          fetch: http,
          signal: ctx.signal,
          stallMs: params.pullStallTimeoutS * 1000,
          ...(ctx.opts.dataBackoffMs ? { backoffMs: ctx.opts.dataBackoffMs } : {}),
          onBytes: (n) => (bytes += n),
          log: (text) => report.log(scrubber.scrub(text)),
        },
        files.map((file) => {
          const source = plan.sources[file.source]!;
          return { file, label: fileLabel(file, plan.sources), remote: remoteOf(file, source, ends, gcsToken, hf) };
        }),
        {
          root,
          jobs: ctx.opts.dataJobs ?? DEFAULT_DATA_JOBS,
          rangedMin: ctx.opts.dataRangedMin ?? DEFAULT_RANGED_MIN,
          partSize: ctx.opts.dataPartSize ?? DEFAULT_PART_SIZE,
          onFile: () => done++,
        },
      );
    } finally {
      clearInterval(timer);
    }
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    await report.status('progress', progress());
    report.log(
      `downloaded and checked ${files.length} file(s), ${humanBytes(total)} in ${Math.round(seconds)} s (${humanBytes(total / seconds)}/s)`,
    );

    step.set('writing the manifest');
    const manifest: DataManifest = {
      tool: TOOL,
      formatVersion: DATA_FORMAT_VERSION,
      version,
      runId: params.runId,
      builtAt: new Date().toISOString(),
      sources: plan.sources,
      fingerprint,
      files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    };
    writeFileSync(join(root, DATA_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o444 });
    // Read-only for everyone: no write bits on files (set as each was checked) or directories.
    for (const dir of directoriesOf(files)) chmodSync(join(root, dir), 0o555);
    chmodSync(root, 0o555);

    step.set('unmounting the data disk');
    const use = disk.usage();
    report.log(`data disk: ${files.length} file(s), ${humanBytes(use.used)} of ${humanBytes(use.size)} used`);
    if (!(await disk.unmount())) throw new Fail(`cannot unmount the data disk ${env.mountDir}: ${disk.lastUnmountError}`);
    succeeded = true;
  } finally {
    if (!succeeded && !(await disk.unmount())) report.log(`could not unmount ${env.mountDir}`);
  }
}
