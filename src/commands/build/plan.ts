// The `build` command's plan (and `verify`'s: `build --verify-only` is the Go tool's verify): the raw flags of the
// command line and a --config file become one frozen run plan of exactly the fields its mode uses
// (docs/architecture.md, Run plans). Where each flag applies, what is required and what excludes what come from the
// declarations (src/config/applies.ts); what is left here are the checks of values against each other and of the
// files the run reads or writes. Every problem is reported at once, each naming its flag.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { flagsFor, runModeOf, type GivenFlags } from '../../config/applies.js';
import { parseGoDuration } from '../../config/duration.js';
import { inputFileProblem, outputPathProblem } from '../../config/outputs.js';
import * as rules from '../../config/rules.js';
import { gcpOauthFlag } from '../../config/key-file.js';
import { deepFreeze, parseFlags, type Environment } from '../../config/schema.js';
import { BAKE_KINDS, IMAGE_KINDS, type LocalArchive, type LogLevel, type Run, type RunPlan, type VmBuild } from '../../config/types.js';
import type { ImagePullAuth } from '../../startup-script/render.js';
import { imageLifetime } from './deprecation.js';
import { BUILD_FLAGS } from './flags.js';
import { parseDataSource } from '../../vm/data-sources.js';
import type { DataSource } from '../../vm/contract.js';
import { shellQuote } from '../../io/shell-quote.js';

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
  const keyFile = gcpOauthFlag(v?.gcpOauth, cwd, problems);
  if (v?.subnet && v.zone && !rules.GCE_NAME.test(v.subnet)) {
    const region = /\/regions\/([^/]+)\//.exec(v.subnet)?.[1];
    if (region && region !== rules.regionOf(v.zone))
      problems.push(`--subnet: is in region ${region}, but --zone ${v.zone} is in ${rules.regionOf(v.zone)}`);
  }
  const registrySecrets = registrySecretsOf(v?.registrySecret ?? [], problems);
  // When another flag is invalid there are no parsed values: the cross-flag checks then read the raw ones, so they
  // do not report a --data-source that was given as missing.
  const rawSources = ([] as unknown[]).concat(input['data-source'] ?? []).map(String);
  const data = dataSourcesOf(input, v?.dataSource ?? rawSources, problems);
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
    pullStallTimeoutMs: (rules.pullStallSeconds(v.pullStallTimeout) as number) * 1000,
    dataSources: data,
    ...(v.hfTokenSecret ? { hfTokenSecret: rules.secretVersion(v.hfTokenSecret) as string } : {}),
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
    ...(v.cluster ? { cluster: rules.clusterOf(v.cluster) } : {}),
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

/** The flags of container images that do nothing for a data disk: giving one with --data-source is a mistake. */
const IMAGES_ONLY = ['registry-secret', 'image-pull-auth', 'skip-image-check', 'store-snapshot-checksum', 'platform', 'incremental'];

/**
 * --data-source, parsed (each value already checked by its flag), and what cannot go with it: a disk holds one kind
 * (docs/architecture.md, Data disks), so --container-image with it is refused with the two builds to run instead.
 */
function dataSourcesOf(input: Readonly<Record<string, unknown>>, values: readonly string[], problems: string[]): DataSource[] {
  const sources = values.map((t) => parseDataSource(t)).filter((s): s is DataSource => typeof s !== 'string');
  const given = (k: string) => input[k] !== undefined && input[k] !== '' && !(Array.isArray(input[k]) && input[k].length === 0);
  if (values.length === 0) {
    if (given('hf-token-secret')) problems.push('--hf-token-secret: needs an hf:// --data-source (the token is for Hugging Face models)');
    return sources;
  }
  if (given('container-image')) {
    const name = typeof input['image-name'] === 'string' && input['image-name'] ? input['image-name'] : 'NAME';
    const list = (flag: string, v: unknown) => (Array.isArray(v) ? v : [v]).map((x) => shellQuote(`--${flag}=${String(x)}`)).join(' ');
    problems.push(
      `--data-source and --container-image: a disk holds container images or data, not both; build two images with your other flags and attach both to the node pool: ` +
        `\`gke-disk-image-builder build --image-name=${name}-images ${list('container-image', input['container-image'])}\` and ` +
        `\`gke-disk-image-builder build --image-name=${name}-data ${list('data-source', values)}\``,
    );
  }
  if (given('base-image')) problems.push('--base-image: not supported for a data disk (--data-source); a data disk is always built whole');
  for (const flag of IMAGES_ONLY)
    if (given(flag)) problems.push(`--${flag}: applies to container images, not to a data disk (--data-source)`);
  if (given('hf-token-secret') && !sources.some((s) => s.kind === 'hf'))
    problems.push('--hf-token-secret: needs an hf:// --data-source (the token is for Hugging Face models)');
  return sources;
}
