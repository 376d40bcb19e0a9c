// Checks, before anything is created, what would otherwise make the build fail late and cost money.
// All checks run at once and every problem is reported together; checks that failed for one cause (the same
// unreachable host, the same refused credentials) are one problem that names them.
import { BuildError } from '../../errors.js';
import { thirdPartyTokenHosts } from '../vm-access.js';
import { ApiError, describe as describeCause } from '../../gcp/errors.js';
import { isVmRun, type CloudRun, type ImageRun } from '../../config/types.js';
import type { BuildContext } from '../context.js';
import type { Step } from './step.js';
import { takenImageNameProblem } from '../specs.js';
import { kmsKeyLocation, kmsLocationFits } from '../../config/rules.js';
import { checkBaseImage } from '../base-image.js';
import { clusterProblems } from './cluster-checks.js';
import { parseImageReference } from '../../config/reference.js';
import { grantCommand, readRegistrySecrets, SECRET_ACCESSOR_ROLE, vmMember, type SecretsRead } from './registry-secrets.js';

/** Writing the logs needs create, and rewriting the growing serial log needs delete (an overwrite is a delete). */
export const BUCKET_PERMISSIONS: ReadonlyArray<{ permission: string; why: string }> = [
  { permission: 'storage.objects.create', why: 'to write the logs' },
  { permission: 'storage.objects.delete', why: 'to rewrite the serial log as it grows' },
];

export const preflight: Step<CloudRun> = {
  name: 'preflight',
  title: 'Checking the project, zone, image name and log bucket',
  writes: ['imageNameTaken', 'sourceImageSizeGb', 'imageDigests', 'checkedBase'],
  async run(ctx, signal) {
    const { config } = ctx;
    const c = ctx.cloud.compute;
    // One token before the checks: credentials that are refused, or a token endpoint that cannot be reached, stop
    // the run here as one problem instead of failing every check alike.
    await ctx.cloud.accessToken(signal).catch((err: unknown) => {
      if (signal.aborted) throw err;
      throw new BuildError(
        `could not get an access token: ${err instanceof ApiError ? describeCause(err.info) : describe(err)}`,
        'preflight',
        { cause: err },
      );
    });
    if (config.kind !== 'vm-verify') {
      // The Go tool's ServiceAccountToken sends the Google token to every registry; kept, but said (least privilege).
      const third = thirdPartyTokenHosts(config);
      if (third.length > 0)
        ctx.emit({
          type: 'warning',
          message: `--image-pull-auth=ServiceAccountToken sends a Google access token to ${third.join(', ')}, which ${third.length === 1 ? 'is not a Google registry' : 'are not Google registries'}: use --image-pull-auth=Auto to send it to Google registries only (and --registry-secret for the others)`,
        });
    }
    const problems: string[] = [];
    const failures: Array<{ what: string; err: unknown; order: number }> = [];
    let started = 0;
    // `what` names the check and its flag, for an error that is not itself a finding (e.g. a 403 on a read).
    const check = async (what: string, fn: () => Promise<string | string[] | undefined>) => {
      const order = started++; // the checks are named in the order written below, not the order they failed in
      try {
        const p = await fn();
        if (Array.isArray(p)) problems.push(...p);
        else if (p) problems.push(p);
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof BuildError) problems.push(err.message);
        else failures.push({ what, err, order });
      }
    };
    const vm = isVmRun(config) ? config : undefined; // a local build has no VM, disk or zone
    // The registry secrets are read before the images are resolved with them.
    let secrets: SecretsRead | undefined;
    const secretsRead =
      config.kind !== 'vm-verify' && config.registrySecrets.length > 0
        ? check('the registry secrets (--registry-secret)', async () => {
            secrets = await readRegistrySecrets({ ...ctx, config }, signal);
            if (secrets.problems.length === 0) noteRegistrySecrets({ ...ctx, config });
            return secrets.problems;
          })
        : undefined;
    await Promise.all([
      check(`project ${config.projectName} (--project-name)`, async () => {
        await c
          .getProject(signal)
          .catch(rethrowAs(`project ${config.projectName} does not exist or you lack access to it (--project-name)`));
        return undefined;
      }),
      vm &&
        check(`zone ${vm.zone} (--zone)`, async () => {
          await c.getZone(signal).catch(rethrowAs(`zone ${vm.zone} does not exist in project ${vm.projectName} (--zone)`));
          return undefined;
        }),
      check(`whether image ${config.imageName} exists (--image-name)`, () => checkImageName(ctx, signal)),
      vm &&
        check(`machine type ${vm.machineType} (--machine-type)`, async () =>
          (await c.machineTypeExists(vm.machineType, signal))
            ? undefined
            : `machine type ${vm.machineType} does not exist in zone ${vm.zone} (--machine-type)`,
        ),
      vm &&
        check(`disk type ${vm.diskType} (--disk-type)`, async () =>
          (await c.diskTypeExists(vm.diskType, signal))
            ? undefined
            : `disk type ${vm.diskType} does not exist in zone ${vm.zone} (--disk-type)`,
        ),
      vm &&
        check(`network ${vm.network} (--network)`, async () =>
          (await c.networkExists(vm.network, signal))
            ? undefined
            : `network ${vm.network} does not exist in project ${vm.projectName} (--network)`,
        ),
      vm?.subnet &&
        check(`subnetwork ${vm.subnet} (--subnet)`, async () =>
          !(await c.subnetExists(vm.subnet!, signal))
            ? `subnetwork ${vm.subnet} does not exist in region ${vm.region} (--subnet)`
            : undefined,
        ),
      vm && check(`service account ${vm.serviceAccount} (--service-account)`, () => checkServiceAccount(ctx, vm.serviceAccount, signal)),
      check(`bucket gs://${config.gcsBucket} (--gcs-path)`, () => checkBucket(ctx, signal)),
      config.kmsKey && check(`key ${config.kmsKey} (--kms-key)`, () => checkKmsKey(ctx, config.kmsKey!, signal)),
      secretsRead,
      config.kind !== 'vm-verify' &&
        config.containerImages.length > 0 &&
        check('the container images (--container-image)', async () => {
          await secretsRead;
          return checkContainerImages({ ...ctx, config }, secrets, signal);
        }),
      config.kind !== 'vm-verify' &&
        config.cluster &&
        check(`cluster ${config.cluster.path} (--cluster)`, () => clusterProblems({ ...ctx, config }, signal)),
      config.kind === 'vm-build' &&
        config.base?.from === 'image' &&
        check(`base image ${config.base.name} (--base-image)`, () => checkBaseImage({ ...ctx, config }, signal)),
    ]);
    problems.push(...couldNotCheck(failures.sort((a, b) => a.order - b.order)));
    if (problems.length > 0) {
      throw new BuildError(
        problems.length === 1 ? problems[0]! : `preflight found ${problems.length} problems:\n  - ${problems.join('\n  - ')}`,
        'preflight',
      );
    }
  },
};

/** A build's image name must be free (or --force); a verified image must exist. */
async function checkImageName(ctx: BuildContext<CloudRun>, signal: AbortSignal): Promise<string | undefined> {
  const { config } = ctx;
  const image = await ctx.cloud.compute.getImage(config.imageName, signal);
  switch (config.kind) {
    case 'vm-build':
    case 'local-build':
      if (image && config.force) {
        ctx.emit({
          type: 'warning',
          message: `image ${config.imageName} exists and will be replaced (--force): it is deleted once the new disk is ready, and the name is unavailable until the new image is created`,
        });
        return undefined;
      }
      // With --if-changed the name may be taken by the very image that holds these images: compare-with-family
      // decides once the family has been compared.
      if (image && config.ifChanged) {
        ctx.state.imageNameTaken = true;
        return undefined;
      }
      if (image) return takenImageNameProblem(config);
      return undefined;
    case 'vm-verify':
      if (!image)
        return `image ${config.imageName} does not exist in project ${config.projectName}, so there is nothing to verify (--image-name)`;
      ctx.state.sourceImageSizeGb = image.diskSizeGb;
      return undefined;
  }
}

async function checkBucket(ctx: BuildContext<CloudRun>, signal: AbortSignal): Promise<string | undefined> {
  const bucket = ctx.config.gcsBucket;
  let granted: string[];
  try {
    granted = await ctx.cloud.storage.testBucketPermissions(
      bucket,
      BUCKET_PERMISSIONS.map((p) => p.permission),
      signal,
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return `bucket gs://${bucket} does not exist (--gcs-path)`;
    if (err instanceof ApiError && err.status === 403)
      return `you may not read bucket gs://${bucket} (--gcs-path): grant yourself roles/storage.objectUser on it`;
    throw err;
  }
  const missing = BUCKET_PERMISSIONS.filter((p) => !granted.includes(p.permission));
  if (missing.length === 0) return undefined;
  return `you lack ${missing.map((m) => `${m.permission} (${m.why})`).join(' and ')} on gs://${bucket} (--gcs-path): grant roles/storage.objectUser (or roles/storage.objectAdmin) on the bucket`;
}

/**
 * --kms-key: the key exists, can encrypt now (a symmetric key whose primary version is enabled), and is where GCE
 * accepts a key for disks in the zone (docs/architecture.md, Temporary resources). Whether the Compute Engine
 * service agent may use it cannot be read with the caller's rights: GCE tells when the disk is created.
 */
async function checkKmsKey(ctx: BuildContext<CloudRun>, key: string, signal: AbortSignal): Promise<string[] | undefined> {
  const { config } = ctx;
  const problems: string[] = [];
  const vm = isVmRun(config) ? config : undefined;
  const location = kmsKeyLocation(key);
  if (vm) {
    const fits = kmsLocationFits(location, vm.region);
    if (fits === false)
      problems.push(
        `key ${key} is in ${location}, but --zone ${vm.zone} is in region ${vm.region}: GCE encrypts disks only with a key in their region, in a multi-region that contains it, or global (--kms-key)`,
      );
    else if (fits === undefined)
      ctx.emit({
        type: 'warning',
        message: `could not tell whether key location ${location} contains region ${vm.region} (--kms-key); the disk creation will tell`,
      });
  }
  const info = await ctx.cloud.kms.getCryptoKey(key, signal);
  if (info === 'denied') {
    ctx.emit({
      type: 'warning',
      message: `could not check key ${key} (you lack cloudkms.cryptoKeys.get on it); the disk creation will tell`,
    });
    return problems;
  }
  if (!info) return [...problems, `key ${key} does not exist (--kms-key)`];
  if (info.purpose && info.purpose !== 'ENCRYPT_DECRYPT')
    problems.push(`key ${key} has purpose ${info.purpose}: GCE needs a symmetric ENCRYPT_DECRYPT key (--kms-key)`);
  else if (info.primaryState === undefined) problems.push(`key ${key} has no primary version to encrypt with (--kms-key)`);
  else if (info.primaryState !== 'ENABLED')
    problems.push(`key ${key} cannot encrypt: its primary version is ${info.primaryState} (--kms-key)`);
  return problems;
}

async function checkServiceAccount(ctx: BuildContext, serviceAccount: string, signal: AbortSignal): Promise<string | undefined> {
  const { cloud } = ctx;
  if (serviceAccount === 'default') return undefined;
  const exists = await cloud.iam.serviceAccountExists(serviceAccount, signal);
  if (exists === false) return `service account ${serviceAccount} does not exist (--service-account)`;
  if (exists === undefined)
    ctx.emit({
      type: 'warning',
      message: `could not check that service account ${serviceAccount} exists (you lack iam.serviceAccounts.get); the VM creation will tell`,
    });
  return undefined;
}

async function checkContainerImages(
  ctx: BuildContext<ImageRun>,
  secrets: SecretsRead | undefined,
  signal: AbortSignal,
): Promise<string[] | undefined> {
  const { config, cloud } = ctx;
  if (config.skipImageCheck) return undefined;
  const { checkImages } = await import('../../registry/resolve.js');
  // Images on a host whose secret could not be read are not resolved: the secret's problem is reported.
  const unusable = secrets?.failedHosts ?? new Set(config.registrySecrets.map((s) => s.host));
  const refs = config.containerImages.filter((ref) => !unusable.has(registryOf(ref)));
  const registry =
    secrets?.credentials.size && cloud.registry.withCredentials ? cloud.registry.withCredentials(secrets.credentials) : cloud.registry;
  const r = await checkImages(refs, config.platform, config.diskSizeGb, registry, signal);
  for (const c of r.checks) if (c.digest) ctx.state.imageDigests[c.ref] = c.digest;
  for (const w of r.warnings) ctx.emit({ type: 'warning', message: w });
  return r.problems;
}

function registryOf(ref: string): string {
  const parsed = parseImageReference(ref);
  return typeof parsed === 'string' ? '' : parsed.registry;
}

/** What the VM needs to read the secrets itself, or a host given a secret that no image uses. */
function noteRegistrySecrets(ctx: BuildContext<ImageRun>): void {
  const { config } = ctx;
  const hosts = new Set(config.containerImages.map(registryOf));
  for (const s of config.registrySecrets) {
    if (!hosts.has(s.host))
      ctx.emit({
        type: 'warning',
        message: `--registry-secret ${s.host}: no --container-image is on ${s.host}, so the secret is not used`,
      });
    else if (config.kind === 'vm-build')
      ctx.emit({
        type: 'note',
        message: `the VM reads secret ${s.secretVersion} with its service account (${config.serviceAccount}), which needs ${SECRET_ACCESSOR_ROLE} on the secret: ${grantCommand(s.secretVersion, vmMember(config.serviceAccount, config.projectName))}`,
      });
  }
}

function rethrowAs(message: string) {
  return (err: unknown) => {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) throw new BuildError(message);
    throw err;
  };
}

/** One problem per cause: "could not check A, B and C: cannot reach HOST: check the network or proxy". */
export function couldNotCheck(failures: ReadonlyArray<{ what: string; err: unknown }>): string[] {
  const byCause = new Map<string, Array<{ what: string; err: unknown }>>();
  for (const f of failures) {
    const cause = f.err instanceof ApiError ? describeCause(f.err.info) : describe(f.err);
    byCause.set(cause, [...(byCause.get(cause) ?? []), f]);
  }
  return [...byCause].map(([cause, fs]) => {
    // Alone, the failed call's name helps; shared, the cause says it all.
    if (fs.length === 1) return `preflight could not check ${fs[0]!.what}: ${describe(fs[0]!.err)}`;
    const whats = fs.map((f) => f.what);
    return `preflight could not check ${whats.slice(0, -1).join(', ')} and ${whats.at(-1)}: ${cause}`;
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
