// The schema: derived from the flag declarations (a zod object, strict, so a key no flag declares is an error),
// it turns the raw strings of the command line, the config file and the environment's defaults into typed values;
// then the values become a run plan, a frozen object of exactly the fields its mode uses. Every problem is
// reported at once, each naming its flag. Loaded only once the input is to be validated (zod costs time).
import { resolve } from 'node:path';
import { z } from 'zod';
import { BUILD_FLAGS } from '../commands/build.js';
import { imageLifetime } from '../commands/deprecation.js';
import { CLEANUP_FLAGS } from '../commands/cleanup.js';
import { UsageError } from '../errors.js';
import { parseGoDuration } from './duration.js';
import { camelCase, type FlagSet, type FlagSpec, type FlagValues, type RawFlags } from './flag.js';
import { parseGoBool } from './go-bool.js';
import { flagsFor, runModeOf, type GivenFlags } from './applies.js';
import { loadKeyFile } from './key-file.js';
export { loadKeyFile };
import { inputFileProblem, outputPathProblem } from './outputs.js';
import * as rules from './rules.js';
import {
  BAKE_KINDS,
  IMAGE_KINDS,
  type CleanupPlan,
  type KeyFile,
  type LocalArchive,
  type LogLevel,
  type Run,
  type RunPlan,
  type VmBuild,
} from './types.js';
import type { ImagePullAuth } from '../startup-script/render.js';

function fieldFor(f: FlagSpec): z.ZodType {
  const checked = (check?: (v: string) => string | undefined) =>
    z.string().superRefine((v, ctx) => {
      const problem = check?.(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
  switch (f.kind) {
    case 'string':
      return f.default === undefined ? checked(f.check).optional() : checked(f.check).default(f.default);
    case 'int': {
      const { min, max } = f;
      return z
        .string()
        .transform((v, ctx) => {
          if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
            ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
            return z.NEVER;
          }
          return Number(v);
        })
        .default(f.default);
    }
    case 'bool':
      return z
        .string()
        .transform((v, ctx) => {
          const b = parseGoBool(v);
          if (b === undefined) {
            ctx.addIssue({ code: 'custom', message: 'expected true or false' });
            return z.NEVER;
          }
          return b;
        })
        .default(f.default);
    case 'list': {
      const items = z.array(z.string()).superRefine((values, ctx) => {
        for (const v of values) {
          const problem = f.check?.(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }
      });
      return (f.maxItems === undefined ? items : items.max(f.maxItems, `at most ${f.maxItems} values`)).default([]);
    }
  }
}

/** The values of a flag set from raw flags, or the problems, each as "--flag: what is expected". */
export function parseFlags<S extends FlagSet>(set: S, raw: RawFlags): { values?: FlagValues<S>; problems: string[] } {
  const schema = z.strictObject(Object.fromEntries(Object.entries(set).map(([name, f]) => [name, fieldFor(f)])));
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown flag(s): ${i.keys.map((k) => `--${k}`).join(', ')}`
        : `--${String(i.path[0])}: ${i.message}`,
    );
    return { problems };
  }
  const values = Object.fromEntries(Object.entries(r.data).map(([k, v]) => [camelCase(k), v])) as FlagValues<S>;
  return { values, problems: [] };
}

export interface Environment {
  [key: string]: string | undefined;
}

export interface ParseOptions {
  /** The command: `verify` means verify whatever --verify-only says. */
  command?: 'build' | 'verify';
  cwd?: string;
  positionals?: readonly string[];
}

/** Validates everything, or throws a UsageError listing every problem, each naming its flag. */
export function parseRunPlan(given: GivenFlags, env: Environment, opts: ParseOptions = {}): RunPlan {
  const { mode, verifyOnly } = runModeOf(opts.command ?? 'build', given);
  // Where each flag applies, what is required, what excludes what: derived from the declarations, reported from
  // the raw input so that it comes with the problems of the values (every problem at once).
  const { raw: input, problems } = flagsFor(BUILD_FLAGS, mode, given, env, { verifyOnly });
  const parsed = parseFlags(BUILD_FLAGS, input);
  problems.push(...parsed.problems);
  const v = parsed.values;
  const has = (k: string) => typeof input[k] === 'string' && input[k] !== '';
  const verifying = mode === 'verify' || mode === 'verify --local';
  const local = mode === 'build --local' || mode === 'verify --local';
  const cwd = opts.cwd ?? process.cwd();
  const verifyFile = opts.positionals?.[0];
  const kind: Run['kind'] = local
    ? verifying
      ? 'local-verify'
      : has('output') && !has('image-name')
        ? 'local-archive'
        : 'local-build'
    : verifying
      ? 'vm-verify'
      : 'vm-build';
  // A build's image name must also fit in the node label GKE derives from it; an existing image may be verified
  // whatever its name.
  const imageName = input['image-name'];
  if (!verifying && typeof imageName === 'string' && !rules.gceName(imageName, 63)) {
    const problem = rules.fitsNodeLabel(imageName);
    if (problem) problems.push(`--image-name: ${problem}`);
  }
  if (kind === 'local-verify' && !verifyFile)
    problems.push('--local: verify --local needs the disk file or archive to verify (verify --local disk.tar.gz)');
  if (kind !== 'local-verify' && verifyFile)
    problems.push(`unexpected argument "${rules.clip(verifyFile)}" (a file is only taken by verify --local FILE)`);
  // The image's deprecation times must come in GCE's order (deprecated, obsolete, deleted).
  const lifetime = imageLifetime(input);
  problems.push(...lifetime.problems);
  // The outputs this run will write, checked now rather than after the image exists.
  const manifests =
    typeof input['k8s-manifests-filepath'] === 'string' && input['k8s-manifests-filepath']
      ? resolve(cwd, input['k8s-manifests-filepath'])
      : undefined;
  if (IMAGE_KINDS.includes(kind) && manifests) {
    const problem = outputPathProblem(manifests);
    if (problem) problems.push(`--k8s-manifests-filepath: ${problem}`);
  }
  const archive = typeof input.output === 'string' && input.output ? resolve(cwd, input.output) : undefined;
  if (BAKE_KINDS.includes(kind) && archive) {
    const problem = outputPathProblem(archive);
    if (problem) problems.push(`--output: ${problem}`);
  }
  const file = verifyFile ? resolve(cwd, verifyFile) : undefined;
  if (kind === 'local-verify' && file) {
    const problem = inputFileProblem(file);
    if (problem) problems.push(`--local: ${problem}`);
  }
  let keyFile: KeyFile | undefined;
  if (v?.gcpOauth) {
    const loaded = loadKeyFile(resolve(cwd, v.gcpOauth));
    if (typeof loaded === 'string') problems.push(`--gcp-oauth: ${loaded}`);
    else keyFile = loaded;
  }
  if (v?.subnet && v.zone && !rules.GCE_NAME.test(v.subnet)) {
    const region = /\/regions\/([^/]+)\//.exec(v.subnet)?.[1];
    if (region && region !== rules.regionOf(v.zone))
      problems.push(`--subnet: is in region ${region}, but --zone ${v.zone} is in ${rules.regionOf(v.zone)}`);
  }
  const registrySecrets = registrySecretsOf(v?.registrySecret ?? [], problems);
  if (problems.length > 0 || !v) throw new UsageError([...new Set(problems)]);

  const base = {
    output: { json: v.json, quiet: v.quiet, logLevel: v.logLevel as LogLevel },
    timeoutMs: parseGoDuration(v.timeout)!,
    jobName: v.jobName,
    ...(keyFile ? { keyFile } : {}),
  };
  const gcs = () => {
    const g = rules.gcsPath(v.gcsPath!) as { bucket: string; prefix: string };
    return {
      projectName: v.projectName!,
      gcsPath: v.gcsPath!,
      gcsBucket: g.bucket,
      gcsPrefix: g.prefix,
      ...(v.kmsKey ? { kmsKey: v.kmsKey } : {}),
    };
  };
  const bake = {
    containerImages: [...new Set(v.containerImage)],
    platform: v.platform,
    imagePullAuth: v.imagePullAuth as ImagePullAuth,
    registrySecrets,
    storeSnapshotChecksum: v.storeSnapshotChecksum,
    skipImageCheck: v.skipImageCheck,
    diskSizeGb: v.diskSizeGb,
  };
  const image = () => ({
    imageName: v.imageName!,
    imageFamilyName: v.imageFamilyName,
    imageLabels: Object.fromEntries(
      v.imageLabels.map((l) => rules.label(l) as { key: string; value: string }).map(({ key, value }) => [key, value]),
    ),
    storageLocations: v.storageLocation,
    force: v.force,
    ifChanged: v.ifChanged,
    ...(manifests ? { k8sManifestsFilepath: manifests } : {}),
    k8sNamespace: v.k8sNamespace,
    ...(lifetime.lifetime ? { lifetime: lifetime.lifetime } : {}),
  });
  const vm = () => ({
    zone: v.zone!,
    region: rules.regionOf(v.zone!),
    machineType: v.machineType,
    diskType: v.diskType,
    bootDiskSizeGb: v.bootDiskSizeGb,
    serviceAccount: v.serviceAccount,
    network: v.network,
    ...(v.subnet ? { subnet: v.subnet } : {}),
    ...(v.bootImage ? { bootImage: v.bootImage } : {}),
    externalIp: !v.noExternalIp,
    shieldedVm: v.shieldedVm,
    networkTags: v.networkTags,
    spot: v.spot,
    keepOnFailure: v.keepOnFailure,
    imagePullAuth: v.imagePullAuth as ImagePullAuth,
    platform: v.platform,
  });
  let run: Run;
  switch (kind) {
    case 'vm-build': {
      const from: VmBuild['base'] = v.baseImage
        ? { from: 'image', ...rules.imageRefOf(v.baseImage, v.projectName!) }
        : v.incremental
          ? { from: 'family' }
          : undefined;
      run = { kind, ...base, ...gcs(), ...bake, ...image(), ...vm(), ...(from ? { base: from } : {}) };
      break;
    }
    case 'vm-verify':
      run = {
        kind,
        ...base,
        ...gcs(),
        ...vm(),
        imageName: v.imageName!,
        diskSizeGb: v.diskSizeGb,
        storeSnapshotChecksum: v.storeSnapshotChecksum,
      };
      break;
    case 'local-build':
      run = { kind, ...base, ...gcs(), ...bake, ...image(), ...(archive ? { archivePath: archive } : {}), keepArchive: v.keepArchive };
      break;
    case 'local-archive':
      run = { kind, ...base, ...bake, archivePath: archive! } satisfies LocalArchive;
      break;
    case 'local-verify':
      run = { kind, ...base, file: file! };
      break;
  }
  return deepFreeze(v.dryRun ? { kind: 'dry-run', run } : run);
}

/** The --registry-secret values (each already checked), one per host: a second secret for a host is a problem. */
function registrySecretsOf(values: readonly string[], problems: string[]): rules.RegistrySecret[] {
  const byHost = new Map<string, rules.RegistrySecret>();
  for (const text of values) {
    const r = rules.registrySecret(text);
    if (typeof r === 'string') continue; // reported by the flag's own check
    const seen = byHost.get(r.host);
    if (seen && seen.secretVersion !== r.secretVersion)
      problems.push(
        `--registry-secret: host ${r.host} is given twice (${seen.secretVersion} and ${r.secretVersion}); give one secret per host`,
      );
    byHost.set(r.host, seen ?? r);
  }
  return [...byHost.values()];
}

/** The `cleanup` command's plan. */
export function parseCleanupPlan(given: GivenFlags, env: Environment, cwd: string): CleanupPlan {
  const { raw, problems } = flagsFor(CLEANUP_FLAGS, 'cleanup', given, env);
  const parsed = parseFlags(CLEANUP_FLAGS, raw);
  problems.push(...parsed.problems);
  const v = parsed.values;
  let keyFile: KeyFile | undefined;
  if (v?.gcpOauth) {
    const k = loadKeyFile(resolve(cwd, v.gcpOauth));
    if (typeof k === 'string') problems.push(`--gcp-oauth: ${k}`);
    else keyFile = k;
  }
  if (problems.length || !v) throw new UsageError(problems);
  return deepFreeze({
    kind: 'cleanup',
    projectName: v.projectName!,
    ...(v.zone ? { zone: v.zone } : {}),
    ...(keyFile ? { keyFile } : {}),
    olderThanMs: parseGoDuration(v.olderThan)!,
    dryRun: v.dryRun,
  });
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const value of Object.values(obj)) deepFreeze(value);
    Object.freeze(obj);
  }
  return obj;
}
