// One zod schema turns the raw strings of the command line (and the environment's defaults) into a frozen,
// fully-defaulted Config. Every problem is reported at once, each naming its flag.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { parseGoDuration } from './duration.js';
import type { RawFlags } from './flags.js';
import { outputPathProblem } from './outputs.js';
import { parseImageReference } from './reference.js';
import * as rules from './rules.js';
import type { Config, Mode } from './types.js';
import { parseGoBool } from './go-bool.js';

type Check = (value: string) => string | undefined;

const str = (check?: Check) =>
  z.string().superRefine((v, ctx) => {
    const problem = check?.(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const required = (what: string, check?: Check) =>
  z
    .string({ error: `required (${what})` })
    .min(1, `required (${what})`)
    .pipe(str(check));

const int = (min: number, max: number) =>
  z.string().transform((v, ctx) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return Number(v);
  });

const bool = z.string().transform((v, ctx) => {
  const b = parseGoBool(v);
  if (b !== undefined) return b;
  ctx.addIssue({ code: 'custom', message: 'expected true or false' });
  return z.NEVER;
});

const list = (check: Check) =>
  z.array(z.string()).superRefine((values, ctx) => {
    for (const v of values) {
      const problem = check(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
  });

const imageRef: Check = (v) => {
  const r = parseImageReference(v);
  return typeof r === 'string' ? `"${rules.clip(v)}" ${r}` : undefined;
};

const labelCheck: Check = (v) => {
  const r = rules.label(v);
  return typeof r === 'string' ? r : undefined;
};

const gcsCheck: Check = (v) => {
  const r = rules.gcsPath(v);
  return typeof r === 'string' ? r : undefined;
};

const durationCheck: Check = (v) => {
  const ms = parseGoDuration(v);
  if (ms === undefined) return `"${rules.clip(v)}" is not a duration (expected e.g. 90s, 20m, 1h30m)`;
  if (ms < 1000) return 'must be at least 1s';
  if (ms > 7 * 24 * 3_600_000) return 'must be at most 168h';
  return undefined;
};

const pullAuth: Check = (v) =>
  ['None', 'ServiceAccountToken', 'Auto'].includes(v) ? undefined : 'expected None, ServiceAccountToken or Auto';

const schema = z.object({
  'project-name': str(rules.projectId).optional(),
  zone: str(rules.zone).optional(),
  'image-name': str((v) => rules.gceName(v, 63)).optional(),
  'image-family-name': str((v) => rules.gceName(v, 63)).default('secondary-disk-image'),
  'image-labels': list(labelCheck).max(64, 'at most 64 labels').default([]),
  'job-name': str((v) => rules.gceName(v, 49)).default('secondary-disk-image'),
  'gcs-path': str(gcsCheck).optional(),
  'container-image': list(imageRef).default([]),
  'machine-type': str((v) => rules.gceName(v, 63)).default('n2-standard-16'),
  'disk-type': str((v) => rules.gceName(v, 63)).default('pd-ssd'),
  'disk-size-gb': int(10, 65536).default(60),
  'boot-disk-size-gb': int(10, 65536).default(20),
  'service-account': str(rules.serviceAccount).default('default'),
  'gcp-oauth': z.string().min(1, 'expected a path to a key file').optional(),
  'image-pull-auth': str(pullAuth).default('None'),
  timeout: str(durationCheck).default('20m'),
  network: str((v) => rules.resourceRef(v, rules.NETWORK_PATH, 'network')).default('default'),
  subnet: str((v) => rules.resourceRef(v, rules.SUBNET_PATH, 'subnetwork')).optional(),
  'store-snapshot-checksum': bool.default(true),
  'verify-only': bool.default(false),
  'storage-location': list(rules.storageLocation).default([]),
  'k8s-manifests-filepath': z.string().min(1, 'expected a file path').optional(),
  'k8s-namespace': str(rules.k8sNamespace).default('default'),
  platform: str(rules.platform).default('linux/amd64'),
  'skip-image-check': bool.default(false),
  'boot-image': str(bootImage).optional(),
  'no-external-ip': bool.default(false),
  'shielded-vm': bool.default(false),
  'network-tags': list((v) => rules.gceName(v, 63)).max(64, 'at most 64 tags').default([]),
  force: bool.default(false),
  'keep-on-failure': bool.default(false),
  'dry-run': bool.default(false),
  json: bool.default(false),
  quiet: bool.default(false),
  'log-level': str((v) => (['trace', 'debug', 'info', 'warn', 'error', 'off'].includes(v) ? undefined : 'expected trace, debug, info, warn, error or off')).default('off'),
  config: z.string().optional(),
  local: bool.default(false),
  output: z.string().min(1, 'expected a file path, e.g. disk.tar.gz').optional(),
  'keep-archive': bool.default(false),
});

function bootImage(v: string): string | undefined {
  const path = v.replace(/^https:\/\/(www|compute)\.googleapis\.com\/compute\/v1\//, '');
  return /^projects\/[a-z][a-z0-9.:-]*\/global\/images\/(family\/)?[a-z]([-a-z0-9]*[a-z0-9])?$/.test(path)
    ? undefined
    : 'expected projects/PROJECT/global/images/NAME or projects/PROJECT/global/images/family/FAMILY';
}

export interface Environment {
  [key: string]: string | undefined;
}

/** Validates everything, or throws a UsageError listing every problem, each as "--flag: what is expected". */
export function parseConfig(raw: RawFlags, env: Environment, opts: { mode?: Mode; cwd?: string; positionals?: readonly string[] } = {}): Config {
  const input: Record<string, unknown> = { ...raw };
  input['project-name'] ??= env.CLOUDSDK_CORE_PROJECT || undefined;
  input.zone ??= env.CLOUDSDK_COMPUTE_ZONE || undefined;
  const result = schema.safeParse(input);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`--${String(issue.path[0])}: ${issue.message}`);
  }
  const v = result.data;
  const mode: Mode = opts.mode === 'verify' || v?.['verify-only'] ? 'verify' : 'build';
  // Which flags are required depends on the mode; judged from the raw input, so that it is reported even when
  // other values are invalid (every problem at once).
  const isTrue = (k: string) => parseGoBool(String(input[k] ?? '')) === true;
  const building = opts.mode !== 'verify' && !isTrue('verify-only');
  // A build's image name must also fit in the node label GKE derives from it; an existing image may be verified
  // whatever its name.
  const imageName = input['image-name'];
  if (building && typeof imageName === 'string' && !rules.gceName(imageName, 63)) {
    const problem = rules.fitsNodeLabel(imageName);
    if (problem) problems.push(`--image-name: ${problem}`);
  }
  const local = isTrue('local');
  const verifyFile = opts.positionals?.[0];
  const localVerify = local && mode === 'verify';
  // --local --output FILE without --image-name: only the archive, so no cloud flag is needed.
  const localOnly = local && mode === 'build' && !!input.output && !input['image-name'];
  {
    const need = (flag: string, what: string) => {
      if (!input[flag]) problems.push(`--${flag}: required (${what})`);
    };
    if (!localVerify && !localOnly) {
      need('project-name', 'a GCP project ID: --project-name or $CLOUDSDK_CORE_PROJECT');
      need('image-name', 'the name of the image');
      need('gcs-path', 'gs://BUCKET[/PREFIX] for the logs');
      if (!local) need('zone', 'a zone such as us-central1-a: --zone or $CLOUDSDK_COMPUTE_ZONE');
    }
    if (mode === 'build' && !(input['container-image'] as string[] | undefined)?.length) problems.push('--container-image: required (at least one image reference with a tag or digest)');
    if (localVerify && !verifyFile) problems.push('--local: verify --local needs the disk file or archive to verify (verify --local disk.tar.gz)');
    if (!localVerify && verifyFile) problems.push(`unexpected argument "${rules.clip(verifyFile)}" (a file is only taken by verify --local FILE)`);
    if (!local && input.output) problems.push('--output: only with --local');
    if (!local && isTrue('keep-archive')) problems.push('--keep-archive: only with --local');
    if (typeof input.output === 'string' && !/\.(tar\.gz|tgz)$/.test(input.output)) problems.push('--output: expected a .tar.gz file (GCE imports a gzip-compressed tar holding disk.raw)');
  }
  const cwd = opts.cwd ?? process.cwd();
  // The outputs this run will write, checked now rather than after the image exists.
  if (mode === 'build' && !localOnly && typeof input['k8s-manifests-filepath'] === 'string' && input['k8s-manifests-filepath']) {
    const problem = outputPathProblem(resolve(cwd, input['k8s-manifests-filepath']));
    if (problem) problems.push(`--k8s-manifests-filepath: ${problem}`);
  }
  if (local && mode === 'build' && typeof input.output === 'string' && input.output) {
    const problem = outputPathProblem(resolve(cwd, input.output));
    if (problem) problems.push(`--output: ${problem}`);
  }
  if (localVerify && verifyFile) {
    const problem = inputFileProblem(resolve(cwd, verifyFile));
    if (problem) problems.push(`--local: ${problem}`);
  }
  let keyFile: Config['keyFile'];
  if (v?.['gcp-oauth']) {
    const loaded = loadKeyFile(resolve(cwd, v['gcp-oauth']));
    if (typeof loaded === 'string') problems.push(`--gcp-oauth: ${loaded}`);
    else keyFile = loaded;
  }
  if (v?.subnet && v.zone && !rules.GCE_NAME.test(v.subnet)) {
    const region = /\/regions\/([^/]+)\//.exec(v.subnet)?.[1];
    if (region && region !== rules.regionOf(v.zone)) problems.push(`--subnet: is in region ${region}, but --zone ${v.zone} is in ${rules.regionOf(v.zone)}`);
  }
  if (problems.length > 0 || !v) throw new UsageError(dedupe(problems));

  const gcs = v['gcs-path'] ? (rules.gcsPath(v['gcs-path']) as { bucket: string; prefix: string }) : { bucket: '', prefix: '' };
  const zoneName = v.zone ?? '';
  const labels: Record<string, string> = {};
  for (const l of v['image-labels']) {
    const { key, value } = rules.label(l) as { key: string; value: string };
    labels[key] = value;
  }
  const config: Config = {
    mode,
    projectName: v['project-name'] ?? '',
    zone: zoneName,
    region: zoneName ? rules.regionOf(zoneName) : '',
    imageName: v['image-name'] ?? '',
    imageFamilyName: v['image-family-name'],
    imageLabels: labels,
    jobName: v['job-name'],
    gcsPath: v['gcs-path'] ?? '',
    gcsBucket: gcs.bucket,
    gcsPrefix: gcs.prefix,
    containerImages: [...new Set(v['container-image'])],
    machineType: v['machine-type'],
    diskType: v['disk-type'],
    diskSizeGb: v['disk-size-gb'],
    bootDiskSizeGb: v['boot-disk-size-gb'],
    serviceAccount: v['service-account'],
    keyFile,
    imagePullAuth: v['image-pull-auth'] as Config['imagePullAuth'],
    timeoutMs: parseGoDuration(v.timeout)!,
    network: v.network,
    subnet: v.subnet,
    storeSnapshotChecksum: v['store-snapshot-checksum'],
    storageLocations: v['storage-location'],
    k8sManifestsFilepath: v['k8s-manifests-filepath'] ? resolve(cwd, v['k8s-manifests-filepath']) : undefined,
    k8sNamespace: v['k8s-namespace'],
    platform: v.platform,
    skipImageCheck: v['skip-image-check'],
    bootImage: v['boot-image'],
    externalIp: !v['no-external-ip'],
    shieldedVm: v['shielded-vm'],
    networkTags: v['network-tags'],
    force: v.force,
    keepOnFailure: v['keep-on-failure'],
    dryRun: v['dry-run'],
    local,
    localOnly,
    archivePath: v.output ? resolve(cwd, v.output) : undefined,
    keepArchive: v['keep-archive'],
    verifyFile: verifyFile ? resolve(cwd, verifyFile) : undefined,
    output: { json: v.json, quiet: v.quiet, logLevel: v['log-level'] as Config['output']['logLevel'] },
  };
  return deepFreeze(config);
}

export function loadKeyFile(path: string): NonNullable<Config['keyFile']> | string {
  const shown = rules.shownPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `cannot read ${shown} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `${shown} is not JSON (expected a service-account key file)`;
  }
  if (json.type === 'service_account') {
    if (typeof json.client_email !== 'string' || typeof json.private_key !== 'string') {
      return `${shown} lacks client_email or private_key`;
    }
    return {
      path,
      type: 'service_account',
      clientEmail: json.client_email,
      privateKey: json.private_key,
      privateKeyId: typeof json.private_key_id === 'string' ? json.private_key_id : undefined,
      tokenUri: typeof json.token_uri === 'string' ? json.token_uri : 'https://oauth2.googleapis.com/token',
    };
  }
  if (json.type === 'authorized_user') {
    if (typeof json.client_id !== 'string' || typeof json.client_secret !== 'string' || typeof json.refresh_token !== 'string') {
      return `${shown} lacks client_id, client_secret or refresh_token`;
    }
    return {
      path,
      type: 'authorized_user',
      clientId: json.client_id,
      clientSecret: json.client_secret,
      refreshToken: json.refresh_token,
      tokenUri: typeof json.token_uri === 'string' ? json.token_uri : 'https://oauth2.googleapis.com/token',
    };
  }
  return `${shown} has type ${JSON.stringify(json.type)}; expected "service_account" or "authorized_user"`;
}

/** What is wrong with reading the disk file or archive of verify --local, or undefined. */
function inputFileProblem(path: string): string | undefined {
  const shown = rules.shownPath(path);
  try {
    if (!statSync(path).isFile()) return `${shown} is not a file: give a disk image archive (.tar.gz) or a raw disk file`;
    accessSync(path, constants.R_OK);
  } catch (err) {
    return `cannot read the disk file ${shown} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return undefined;
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const value of Object.values(obj)) deepFreeze(value);
    Object.freeze(obj);
  }
  return obj;
}
