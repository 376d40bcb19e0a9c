// The contract between the CLI and the VM agent (docs/architecture.md, VM contract): the metadata keys the CLI
// writes and the agent reads, the status the agent reports and the CLI waits for, the layout of the disk, the
// commands the VM needs and their Debian packages. Both sides import this module; nothing here may import the
// Google clients or anything of the CLI (the agent is bundled from it).
import { createHash } from 'node:crypto';

/** The instance metadata keys (docs/architecture.md, VM metadata). */
export const MD = {
  startupScript: 'startup-script',
  guestAttributes: 'enable-guest-attributes',
  /** The agent itself: one ES module, run by the bootstrap with the VM's Node. */
  agent: 'gdib-agent',
  mode: 'gdib-mode',
  runId: 'gdib-run-id',
  deviceName: 'gdib-device-name',
  containerImages: 'gdib-container-images',
  imagePullAuth: 'gdib-image-pull-auth',
  storeChecksums: 'gdib-store-checksums',
  platform: 'gdib-platform',
  dataDisk: 'gdib-data-disk',
  registrySecrets: 'gdib-registry-secrets',
  /** Seconds a pull may receive no bytes before it fails (a whole number, 1 or more). */
  pullStallTimeout: 'gdib-pull-stall-timeout',
  /** A per-run value appended to every serial status line as ` nonce=<value>`. */
  statusNonce: 'gdib-status-nonce',
  /** A data disk's sources as a JSON DataPlan (see below); present instead of gdib-container-images. */
  dataPlan: 'gdib-data-plan',
  /** `projects/P/secrets/NAME/versions/V`: the Hugging Face token the VM reads itself (gated models). */
  hfTokenSecret: 'gdib-hf-token-secret',
} as const;

export type VmMode = 'build' | 'verify';
export type ImagePullAuth = 'None' | 'ServiceAccountToken' | 'Auto';
export type DataDisk = 'blank' | 'from-image';

/** The device name of the data disk when attached to the VM (`/dev/disk/by-id/google-<name>`). */
export const DEVICE_NAME = 'gdib-data';
/** The default of --pull-stall-timeout, in seconds. */
export const DEFAULT_PULL_STALL_TIMEOUT_S = 300;

/** Characters a status nonce may hold: it is printed on the serial console as is. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

// ---- status (docs/architecture.md, VM status) ----------------------------------------------------------------

/** The guest attribute namespace: `gdib/<key>`. */
export const STATUS_NAMESPACE = 'gdib';
export const STATUS_KEYS = ['state', 'phase', 'progress', 'error'] as const;
export type StatusKey = (typeof STATUS_KEYS)[number];
export const STATES = ['running', 'succeeded', 'failed'] as const;
export type State = (typeof STATES)[number];
export const PHASES = [
  'installing',
  /** A data disk: its sources listed again by the VM, checked against the plan's fingerprint. */
  'listing',
  'formatting',
  'mounting',
  'pulling',
  'unpacking',
  /** A data disk: its files downloaded and checked. */
  'downloading',
  'checksumming',
  'verifying',
  'done',
] as const;
export type Phase = (typeof PHASES)[number];

/** Every line the agent writes starts with this; a status line is `gdib: <key>=<value>`. */
export const LINE_PREFIX = 'gdib: ';
/** The prefix Google's script runner puts before each line of a startup script's output on the serial console. */
export const RUNNER_PREFIX = 'startup-script: ';
/** Longest status value (a guest attribute and a serial line must stay short). */
export const MAX_STATUS_VALUE = 480;
/** Longest line the agent writes, in bytes, before its marker; Google's runner gives up on a line of 64 KiB. */
export const MAX_LINE_BYTES = 4096;
export const TRUNCATED_MARKER = ' [line truncated]';

/** One line, no control characters, at most MAX_STATUS_VALUE characters: fit for a guest attribute and a serial line. */
export function statusValue(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const flat = text.replace(/[\r\n\u2028\u2029\u0085]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '');
  return flat.length <= MAX_STATUS_VALUE ? flat : `${flat.slice(0, MAX_STATUS_VALUE - 3)}...`;
}

/** The serial console line of one status fact, ` nonce=<nonce>` appended when the run has one. */
export function statusLine(key: StatusKey, value: string, nonce?: string): string {
  return `${LINE_PREFIX}${key}=${statusValue(value)}${nonce ? ` nonce=${nonce}` : ''}`;
}

/**
 * A status fact in one console line, or undefined: the line must start with `gdib: <key>=` (or the runner's prefix
 * and then that), and, when `nonce` is given, end with ` nonce=<nonce>`, which is removed from the value.
 */
export function parseStatusLine(line: string, nonce?: string): { key: StatusKey; value: string } | undefined {
  const body = line.replace(/\r$/, '');
  const m = /^(?:startup-script: )?gdib: (state|phase|progress|error)=(.*)$/.exec(body);
  if (!m) return undefined;
  let value = m[2] ?? '';
  if (nonce !== undefined) {
    const tail = ` nonce=${nonce}`;
    if (!value.endsWith(tail)) return undefined;
    value = value.slice(0, -tail.length);
  }
  return { key: m[1] as StatusKey, value };
}

// ---- disk layout (docs/architecture.md, Disk layout) ---------------------------------------------------------

export const TOOL = 'gke-disk-image-builder';
/**
 * What is on the disk and how: raise it whenever the agent writes a disk that an older release would not, so an
 * image of the old layout is never taken for up to date.
 */
export const DISK_FORMAT_VERSION = 1;
export const LAYOUT = {
  snapshotsDir: 'snapshots',
  snapshotsMetadata: 'snapshots.metadata',
  imagesMetadata: 'images.metadata',
  info: 'gdib.json',
  /** containerd's snapshotter database: removed before the disk is unmounted. */
  snapshotterDb: 'metadata.db',
  /** A base disk's snapshots, set aside while its containerd starts (never left on a finished disk). */
  reusedDir: '.gdib-reused',
} as const;
/** `snapshots/<N>/fs`: where the overlayfs snapshotter keeps a snapshot, relative to the disk's root. */
export const SNAPSHOT_DIR_PATTERN = /^snapshots\/[0-9]+\/fs$/;
export const CHAIN_ID_PATTERN = /^sha256:[0-9a-f]{64}$/;
export const CHECKSUM_PATTERN = /^[0-9a-f]{32}$/;

/** One line of snapshots.metadata: `<chainID> snapshots/<N>/fs[ <checksum>]`. */
export interface SnapshotEntry {
  chainId: string;
  dir: string;
  checksum?: string;
}

export function formatSnapshotsMetadata(entries: readonly SnapshotEntry[]): string {
  return entries.map((e) => `${e.chainId} ${e.dir}${e.checksum !== undefined ? ` ${e.checksum}` : ''}\n`).join('');
}

/** snapshots.metadata's entries, or the 1-based number of the first malformed line. */
export function parseSnapshotsMetadata(text: string): SnapshotEntry[] | { badLine: number; line: string } {
  const out: SnapshotEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    const fields = line.trim().split(/[ \t]+/);
    const [chainId = '', dir = '', checksum, ...extra] = fields;
    if (!CHAIN_ID_PATTERN.test(chainId) || !SNAPSHOT_DIR_PATTERN.test(dir) || extra.length > 0) return { badLine: i + 1, line };
    out.push({ chainId, dir, ...(checksum !== undefined ? { checksum } : {}) });
  }
  return out;
}

/** gdib.json: what the build put on the disk. */
export interface DiskInfo {
  tool: typeof TOOL;
  version: string;
  runId: string;
  builtAt: string;
  platform: string;
  checksums: boolean;
  images: DiskImage[];
}

export interface DiskImage {
  reference: string;
  resolved: string;
  digest: string;
  manifestDigest: string;
  platform: string;
  layers: { diffID: string; chainID: string; snapshot: string; mediaType: string; size: number; unpackedSize: number | null }[];
}

/**
 * The checksum of one snapshot directory, the Go tool's formula (docs/architecture.md, Disk layout): md5 of the
 * byte-sorted lines of the md5 hex digests of every regular file under it, a digest written `\<hex>` when the
 * file's path holds a backslash or a newline (md5sum's escape marker on coreutils 8.32), each line ending in `\n`.
 */
export function checksumLine(hexDigest: string, relativePath: string): string {
  return `${/[\\\n]/.test(relativePath) ? '\\' : ''}${hexDigest}\n`;
}

// ---- what the VM runs ----------------------------------------------------------------------------------------

/**
 * The commands the agent runs, on the VM or (build --local) on this machine, and the Debian package of each: the
 * bootstrap installs the missing ones on the VM; a local build checks them (src/local/preconditions.ts).
 */
export const PACKAGE_OF: Readonly<Record<string, string>> = {
  node: 'nodejs',
  curl: 'curl',
  containerd: 'containerd',
  ctr: 'containerd',
  'mkfs.ext4': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  e2fsck: 'e2fsprogs',
  mount: 'mount',
  umount: 'mount',
  findmnt: 'util-linux',
  blockdev: 'util-linux',
  md5sum: 'coreutils',
  sync: 'coreutils',
  xargs: 'findutils',
};

/** The commands each mode needs on the VM (the bootstrap's own `curl` and the agent's `node` included). */
export const COMMANDS_OF: Readonly<Record<VmMode, readonly string[]>> = {
  build: [
    'curl',
    'node',
    'containerd',
    'ctr',
    'mkfs.ext4',
    'resize2fs',
    'dumpe2fs',
    'e2fsck',
    'mount',
    'umount',
    'findmnt',
    'blockdev',
    'md5sum',
    'sync',
    'xargs',
  ],
  verify: ['curl', 'node', 'mount', 'umount', 'md5sum', 'xargs'],
};

/**
 * What a data disk's build runs (docs/architecture.md, Data disks): no containerd, no checksum tools — the VM
 * installs only what formatting, mounting and flushing the disk need.
 */
export const DATA_BUILD_COMMANDS: readonly string[] = ['curl', 'node', 'mkfs.ext4', 'mount', 'umount', 'blockdev', 'sync'];

/** The oldest Node the agent bundle runs on (Debian 12's `nodejs`). */
export const AGENT_NODE_MAJOR = 18;

// ---- registry secrets (docs/architecture.md, Registry secrets) ------------------------------------------------

export { parseRegistrySecret, type RegistryCredentials } from './secret-format.js';

/** `gdib-registry-secrets`: one `HOST=projects/P/secrets/NAME/versions/V` a line (names only; the VM reads the secrets). */
export function formatRegistrySecrets(list: readonly { host: string; secretVersion: string }[]): string {
  return list.map((r) => `${r.host}=${r.secretVersion}`).join('\n');
}

export const REGISTRY_HOST_PATTERN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$/;
export const SECRET_VERSION_PATTERN = /^projects\/[a-z0-9][a-z0-9.:-]*\/secrets\/[A-Za-z0-9_-]+\/versions\/(latest|[0-9]+)$/;

/** The registry host → secret version map, or what is wrong with a line. */
export function parseRegistrySecrets(text: string): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r/g, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    const host = eq < 0 ? line : line.slice(0, eq);
    const name = eq < 0 ? '' : line.slice(eq + 1);
    if (eq < 0 || !REGISTRY_HOST_PATTERN.test(host)) return `invalid registry host in ${MD.registrySecrets}: '${statusValue(line)}'`;
    if (!SECRET_VERSION_PATTERN.test(name)) return `invalid secret version in ${MD.registrySecrets}: '${statusValue(name)}'`;
    out.set(host, name);
  }
  return out;
}

/** The user name Google's registries take with an OAuth access token as the password. */
export const TOKEN_USER = 'oauth2accesstoken';

// ---- data disks (docs/architecture.md, Data disks) -----------------------------------------------------------
// A disk has one kind: container images (CONTAINER_IMAGE_CACHE) or data files (a plain disk GKE mounts at
// /mnt/disks/gke-secondary-disks/gke-<IMAGE>-disk). The CLI resolves every source at preflight (object
// generations, a Hugging Face revision pinned to its commit) and sends the resolved sources; the VM lists them
// again with the same code (src/vm/data-sources.ts), checks that the listing's fingerprint is the one the CLI
// saw, downloads, verifies each file against what its source publishes and writes the manifest.

/** The ext4 label of a data disk's filesystem. */
export const DATA_LABEL = 'gdib-data';
/** The manifest at a data disk's root. */
export const DATA_MANIFEST = 'gdib-data.json';
/** What is on a data disk and how; raise it whenever the agent writes a data disk an older release would not. */
export const DATA_FORMAT_VERSION = 1;
/**
 * The most files a data disk takes, all sources together: far more than a model has, and a manifest (one JSON text)
 * far below V8's largest string. Preflight refuses more, and so does each source's listing once it passes this.
 */
export const MAX_DATA_FILES = 1_000_000;
/** The longest path on a data disk, and the longest name (a part of a path; ext4's own limit), in UTF-8 bytes. */
export const MAX_DATA_PATH_BYTES = 4000;
export const MAX_DATA_NAME_BYTES = 255;

// eslint-disable-next-line no-control-regex -- control characters are what is refused
const DATA_PATH_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * What is wrong with `path` as a path on a data disk, or undefined: the one rule of preflight's listing and the
 * VM's (docs/architecture.md, Data disks). It must already be normalised — relative, parts separated by single
 * slashes, no empty, `.` or `..` part, no control character, no backslash, parts of at most MAX_DATA_NAME_BYTES
 * bytes, MAX_DATA_PATH_BYTES in all, not under a name the root keeps for itself. `''` (the root) only when `root`.
 */
export function diskPathProblem(path: string, root = false): string | undefined {
  if (path === '') return root ? undefined : 'it is empty';
  if (path.startsWith('/')) return 'it is absolute';
  if (DATA_PATH_CONTROL.test(path)) return 'it contains a control character';
  if (path.includes('\\')) return 'it contains a backslash';
  const parts = path.split('/');
  if (parts.includes('..')) return 'it has a ".." part';
  if (parts.some((p) => p === '' || p === '.')) return 'it is not normalised (an empty or "." part)';
  if (Buffer.byteLength(path) > MAX_DATA_PATH_BYTES) return `it is longer than ${MAX_DATA_PATH_BYTES} bytes`;
  if (parts.some((p) => Buffer.byteLength(p) > MAX_DATA_NAME_BYTES)) return `a part of it is longer than ${MAX_DATA_NAME_BYTES} bytes`;
  if (parts[0] === DATA_MANIFEST || parts[0] === 'lost+found') return `'${parts[0]}' is a name the disk keeps for itself`;
  return undefined;
}

export type DataSource =
  /** `gs://bucket/path`: one object (`prefix: false`) or every object under `path/` (`prefix: true`). */
  | { kind: 'gcs'; bucket: string; path: string; prefix: boolean; dest: string }
  /** `hf://org/model@revision`: every file of the model repository at `revision` (a 40-hex commit at the VM). */
  | { kind: 'hf'; repo: string; revision: string; dest: string };

/**
 * How a file is checked: GCS's md5 or crc32c (base64, as the JSON API gives them), a Hugging Face file's LFS sha256
 * (hex) or, outside LFS, its git blob id (`gitSha1`, hex: sha1 of `blob <size>\0` and the content), or only its size.
 */
export type DataChecksum = { md5: string } | { crc32c: string } | { sha256: string } | { gitSha1: string } | { size: true };

/** One file of a source as listed: its name in the source, its path on the disk, and how to check it. */
export interface DataFile {
  /** Index into DataPlan.sources / DataManifest.sources. */
  source: number;
  /** The object name (gcs) or the path in the repository (hf). */
  name: string;
  /** The path on the disk, relative to its root, never escaping it. */
  path: string;
  size: number;
  checksum: DataChecksum;
  /** The object generation (gcs); absent for hf (the revision pins every file). */
  generation?: string;
}

/** `gdib-data-plan`: what the VM is to download. */
export interface DataPlan {
  sources: DataSource[];
  /** dataFingerprint() of the listing the CLI saw at preflight; the VM fails if its own listing differs. */
  fingerprint: string;
  /**
   * dataFingerprint() of each source's files alone, in the order of `sources` (optional): with it the VM names the
   * source that changed since preflight, without it only that one did.
   */
  sourceFingerprints?: string[];
}

/** gdib-data.json at the root of a data disk. */
export interface DataManifest {
  tool: typeof TOOL;
  formatVersion: typeof DATA_FORMAT_VERSION;
  version: string;
  runId: string;
  builtAt: string;
  sources: DataSource[];
  fingerprint: string;
  files: DataFile[];
}

/**
 * The fingerprint of a listing: sha256 (hex) of one `<source>\t<name>\t<path>\t<size>\t<generation or checksum>\n`
 * line per file, byte-sorted. Equal fingerprints mean the same files with the same content.
 */
export function dataFingerprint(files: readonly DataFile[]): string {
  const lines = files.map((f) => `${f.source}\t${f.name}\t${f.path}\t${f.size}\t${f.generation ?? JSON.stringify(f.checksum)}\n`);
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const h = createHash('sha256');
  for (const l of lines) h.update(l);
  return h.digest('hex');
}

/** Every directory the files' paths need (their parents, and theirs, up to the root). */
export function dataDirectories(files: readonly DataFile[]): Set<string> {
  const dirs = new Set<string>();
  for (const f of files) {
    for (let d = f.path.slice(0, Math.max(0, f.path.lastIndexOf('/'))); d !== '' && !dirs.has(d);) {
      dirs.add(d);
      d = d.slice(0, Math.max(0, d.lastIndexOf('/')));
    }
  }
  return dirs;
}

/**
 * The inodes mkfs makes on a data disk (`-N`; docs/architecture.md, Data disks): one per file and per directory,
 * and 64 more for ext4's reserved inodes, the root, lost+found and the manifest. ext4's default of one per 16 KiB of
 * disk (one per 32 or 64 KiB from 4 or 16 TiB) is too few for many small files: 1,000,000 files of 1 KiB fit 10 GB
 * by their bytes, but 10 GB has 655,360 inodes.
 */
export function dataDiskInodes(files: readonly DataFile[]): number {
  return files.length + dataDirectories(files).size + DATA_SPARE_INODES;
}

/** dataDiskInodes' inodes beyond the files' and directories' own. */
export const DATA_SPARE_INODES = 64;
