// A data disk's parameters (docs/architecture.md, Data disks): metadata gdib-data-plan, the JSON DataPlan the CLI
// wrote, checked field by field before anything is touched — it names what is written where on the disk, so a
// destination or a file path is taken only when it is already a plain relative path that stays inside the disk.
import { diskPathProblem, MD, SECRET_VERSION_PATTERN, statusValue, type DataFile, type DataPlan, type DataSource } from '../contract.js';
import { Fail } from './errors.js';

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const HF_REPO = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;
const COMMIT = /^[0-9a-f]{40}$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAX_SOURCES = 256;

/** The one rule of a path on a data disk, shared with preflight's listing (docs/architecture.md, Data disks). */
export { diskPathProblem };

function bad(what: string): Fail {
  return new Fail(`invalid ${MD.dataPlan}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw bad(`${where} has unknown field(s) ${extra.map((k) => `'${statusValue(k.slice(0, 40))}'`).join(', ')}`);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw bad(`${where}.${key} must be a string`);
  return v;
}

function source(v: unknown, i: number): DataSource {
  const where = `sources[${i}]`;
  if (!isRecord(v)) throw bad(`${where} must be an object`);
  const dest = str(v, 'dest', where);
  const why = diskPathProblem(dest, true);
  if (why !== undefined) throw bad(`${where}.dest '${statusValue(dest.slice(0, 200))}': ${why}`);
  if (v.kind === 'gcs') {
    keys(v, ['kind', 'bucket', 'path', 'prefix', 'dest'], where);
    const bucket = str(v, 'bucket', where);
    if (!BUCKET.test(bucket)) throw bad(`${where}.bucket '${statusValue(bucket.slice(0, 230))}' is not a bucket name`);
    const path = str(v, 'path', where);
    if (CONTROL.test(path) || Buffer.byteLength(path) > 1024) throw bad(`${where}.path is not an object name or prefix`);
    if (typeof v.prefix !== 'boolean') throw bad(`${where}.prefix must be true or false`);
    return { kind: 'gcs', bucket, path, prefix: v.prefix, dest };
  }
  if (v.kind === 'hf') {
    keys(v, ['kind', 'repo', 'revision', 'dest'], where);
    const repo = str(v, 'repo', where);
    if (!HF_REPO.test(repo) || repo.length > 96 || /--|\.\./.test(repo))
      throw bad(`${where}.repo '${statusValue(repo.slice(0, 100))}' is not a Hugging Face repository id`);
    const revision = str(v, 'revision', where);
    if (!COMMIT.test(revision)) throw bad(`${where}.revision must be a 40-hex commit (the CLI pins it at preflight)`);
    return { kind: 'hf', repo, revision, dest };
  }
  throw bad(`${where}.kind must be 'gcs' or 'hf'`);
}

/** The plan in metadata gdib-data-plan, every field checked. */
export function parseDataPlan(text: string): DataPlan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('it is not JSON');
  }
  if (!isRecord(json)) throw bad('it must be a JSON object');
  keys(json, ['sources', 'fingerprint', 'sourceFingerprints'], 'the plan');
  if (!Array.isArray(json.sources) || json.sources.length === 0) throw bad('sources must be a non-empty list');
  if (json.sources.length > MAX_SOURCES) throw bad(`more than ${MAX_SOURCES} sources`);
  const sources = json.sources.map(source);
  const fingerprint = json.fingerprint;
  if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint)) throw bad('fingerprint must be 64 hex digits');
  const each = json.sourceFingerprints;
  if (each === undefined) return { sources, fingerprint };
  if (!Array.isArray(each) || each.length !== sources.length || !each.every((f) => typeof f === 'string' && FINGERPRINT.test(f)))
    throw bad('sourceFingerprints must be one 64-hex fingerprint per source');
  return { sources, fingerprint, sourceFingerprints: each as string[] };
}

/** `gs://bucket/object` or `hf://org/model@commit/path`: a file's source in messages. */
export function fileLabel(file: DataFile, sources: readonly DataSource[]): string {
  const s = sources[file.source];
  if (!s) return file.name;
  return s.kind === 'gcs' ? `gs://${s.bucket}/${file.name}` : `hf://${s.repo}@${s.revision.slice(0, 12)}/${file.name}`;
}

/** The source as the user wrote it, for messages. */
export function sourceLabel(s: DataSource): string {
  return s.kind === 'gcs' ? `gs://${s.bucket}/${s.path}${s.prefix && s.path ? '/' : ''}` : `hf://${s.repo}@${s.revision}`;
}

/**
 * The listing's files checked once more where they will be written: every path a plain relative path under its
 * source's destination; no two at one path; no file where another needs a directory.
 */
export function checkFilePaths(files: readonly DataFile[], sources: readonly DataSource[]): void {
  const byPath = new Map<string, DataFile>();
  for (const f of files) {
    const s = sources[f.source];
    if (!s) throw new Fail(`the listing names source ${f.source}, which the plan does not have`);
    const why = diskPathProblem(f.path);
    if (why !== undefined)
      throw new Fail(`${fileLabel(f, sources)} cannot be written to '${statusValue(f.path.slice(0, 200))}' on the disk: ${why}`);
    if (s.dest !== '' && f.path !== s.dest && !f.path.startsWith(`${s.dest}/`))
      throw new Fail(`${fileLabel(f, sources)} would be written to '${f.path}', outside its destination '${s.dest}'`);
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw new Fail(`${fileLabel(f, sources)} has no valid size`);
    const other = byPath.get(f.path);
    if (other) throw new Fail(`${fileLabel(f, sources)} and ${fileLabel(other, sources)} both go to '${f.path}' on the disk`);
    byPath.set(f.path, f);
  }
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = byPath.get(parts.slice(0, i).join('/'));
      if (dir) throw new Fail(`${fileLabel(dir, sources)} is a file at '${dir.path}', where ${fileLabel(f, sources)} needs a directory`);
    }
  }
}

/** Metadata gdib-hf-token-secret: a secret version name, or absent. */
export function parseHfTokenSecret(text: string): string | undefined {
  const name = text.trim();
  if (name === '') return undefined;
  if (!SECRET_VERSION_PATTERN.test(name)) throw new Fail(`invalid ${MD.hfTokenSecret} '${statusValue(name.slice(0, 200))}'`);
  return name;
}
