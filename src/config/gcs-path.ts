// --gcs-path gs://BUCKET[/PREFIX], by Cloud Storage's naming rules (cloud.google.com/storage/docs/buckets#naming,
// .../objects#naming), so that a path GCS would refuse — or one that could mislead whoever reads it back, with
// control characters in it — is refused before anything is created (docs/architecture.md, Hostile input).
// The objects a run writes are PREFIX/JOB-RUNID/FILE: the prefix leaves room for the longest of those.

/** An object name is at most 1024 bytes of UTF-8. */
const OBJECT_NAME_MAX_BYTES = 1024;
/** What the tool appends to the prefix: "/" JOB (≤ 49) "-" RUN-ID (6) "/" and its longest file name. */
const RUN_SUFFIX_MAX_BYTES = 1 + 49 + 1 + 6 + 1 + 'serial-port-1.log'.length;
export const GCS_PREFIX_MAX_BYTES = OBJECT_NAME_MAX_BYTES - RUN_SUFFIX_MAX_BYTES;

// Bucket names: lowercase letters, digits, "-", "_" and "."; start and end with a letter or digit; 3-63 characters,
// or up to 222 with dots, each dot-separated part at most 63.
const BUCKET = /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** What is wrong with a bucket name, or undefined. */
export function bucketProblem(bucket: string): string | undefined {
  const rule =
    'a bucket name is 3-63 lowercase letters, digits, "-", "_" and "." (222 with dots, 63 between dots), starting and ending with a letter or digit';
  if (!BUCKET.test(bucket) || bucket.length < 3) return rule;
  if (bucket.includes('.') ? bucket.length > 222 || bucket.split('.').some((p) => p.length === 0 || p.length > 63) : bucket.length > 63)
    return rule;
  if (IPV4.test(bucket)) return 'a bucket name cannot be an IP address';
  if (bucket.startsWith('goog') || /g[o0][o0]gle/.test(bucket)) return 'a bucket name cannot begin with "goog" or contain "google"';
  return undefined;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** What is wrong with an object prefix (without its leading and trailing slashes), or undefined. */
export function prefixProblem(prefix: string): string | undefined {
  if (CONTROL.test(prefix)) return 'the prefix contains control characters (an object name cannot)';
  const bytes = Buffer.byteLength(prefix, 'utf8');
  if (bytes > GCS_PREFIX_MAX_BYTES)
    return `the prefix is ${bytes} bytes; at most ${GCS_PREFIX_MAX_BYTES} (an object name is at most ${OBJECT_NAME_MAX_BYTES} bytes with the run's directory and file)`;
  if (/[#?*[\]]/.test(prefix))
    return 'the prefix contains "#", "?", "*", "[" or "]", which gsutil and gcloud read as wildcards or URL parts';
  if (prefix.split('/').some((part) => part === '.' || part === '..')) return 'the prefix contains a "." or ".." part';
  if (prefix.startsWith('.well-known/acme-challenge')) return 'the prefix cannot start with .well-known/acme-challenge';
  return undefined;
}

/** gs://BUCKET[/PREFIX] split, the prefix without leading and trailing slashes; or what is wrong with it. */
export function parseGcsPath(value: string): { bucket: string; prefix: string } | string {
  const m = /^gs:\/\/([^/]*)(?:\/(.*))?$/s.exec(value);
  if (!m) return 'expected gs://BUCKET or gs://BUCKET/PREFIX';
  const bucket = m[1]!;
  const problem = bucketProblem(bucket);
  if (problem) return `expected gs://BUCKET or gs://BUCKET/PREFIX: ${problem}`;
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) return `expected gs://BUCKET or gs://BUCKET/PREFIX: ${prefixIssue}`;
  return { bucket, prefix };
}
