// The cluster-side and image-side checks of `doctor` (docs/architecture.md, Doctor): each reads what it needs through
// the cloud adapters and answers lines — pass, warn, fail or "cannot confirm" — with what was seen and the exact
// command that fixes it. A read that is refused or fails is "cannot confirm", never a pass.
import { imagePathOf } from '../../gcp/image-ref.js';
import type { ImageInfo } from '../../gcp/types.js';
import type { ClusterInfo, GkeApi, NodePoolInfo } from '../../gcp/gke.js';
import type { IamApi } from '../../gcp/iam.js';
import type { IamBinding, ProjectReadsApi } from '../../gcp/project-reads.js';
import type { KubeApi } from '../../k8s/api.js';
import { diskKindOfRecord, parseRecord, type ImageRecord } from '../../builder/image-record.js';
import type { DiskKind } from '../../config/types.js';
import { gkeNodeLabel } from '../../config/rules.js';
import { judgeVersion } from './versions.js';
import { shellLine } from './shell.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface CheckLine {
  check: string;
  status: CheckStatus;
  /** What was seen. */
  seen: string;
  /** The command that fixes it (shell-quoted, ready to paste). */
  fix?: string;
}

export interface DoctorCloud {
  gke: GkeApi;
  kube(cluster: ClusterInfo): Promise<KubeApi>;
  compute: { getImage(name: string, signal: AbortSignal, project?: string): Promise<ImageInfo | undefined> };
  iam: IamApi;
  projectReads: ProjectReadsApi;
}

export interface DoctorTarget {
  cluster: { project: string; location: string; name: string; path: string };
  nodePool?: string;
  image?: { project: string; name: string; path: string };
  /**
   * What the image holds, when known beforehand (a build); else read from its record. A data disk is mounted in no
   * mode (MODE_UNSPECIFIED), a disk of container images in CONTAINER_IMAGE_CACHE mode (docs/architecture.md, Data disks).
   */
  diskKind?: DiskKind;
}

/** What the checks found out, for the workload checks that follow (the image's record, the cluster). */
export interface DoctorFacts {
  cluster?: ClusterInfo;
  record?: ImageRecord;
  /** Pods must carry the node selector (Autopilot). */
  needsNodeSelector: boolean;
}

export const CONTAINER_FS_API = 'containerfilesystem.googleapis.com';
/** Predefined roles that hold compute.images.useReadOnly. */
export const IMAGE_USE_ROLES = new Set([
  'roles/compute.imageUser',
  'roles/compute.admin',
  'roles/compute.instanceAdmin',
  'roles/compute.instanceAdmin.v1',
  'roles/compute.storageAdmin',
  'roles/editor',
  'roles/owner',
]);
const GCLOUD_CONTEXT = (c: DoctorTarget['cluster']) => [`--location=${c.location}`, `--project=${c.project}`];

const errorText = (err: unknown) => (err as Error)?.message ?? String(err);

/**
 * Which checks run: `all` (doctor); `before-image`, those that do not need the image to exist — the cluster, its
 * pools, the APIs, the node service accounts, and the grants and allowlists that name the image's path — which a
 * build runs in preflight, where no pool mounting the image yet is expected (a warning); `image`, those that read
 * the image or a pool's use of it, which a build runs once the image exists.
 */
export type CheckPhase = 'all' | 'before-image' | 'image';

/** Runs the cluster-side checks (and, given an image, the image-side ones) in a fixed order. */
export async function runChecks(
  cloud: DoctorCloud,
  target: DoctorTarget,
  signal: AbortSignal,
  phase: CheckPhase = 'all',
): Promise<{ lines: CheckLine[]; facts: DoctorFacts }> {
  const c = target.cluster;
  const facts: DoctorFacts = { needsNodeSelector: false };
  let cluster: ClusterInfo | undefined;
  try {
    cluster = await cloud.gke.getCluster(c.path, signal);
  } catch (err) {
    return { lines: [line('cluster', 'fail', `cannot read ${c.path}: ${errorText(err)}`)], facts };
  }
  if (!cluster) {
    const list = shellLine(['gcloud', 'container', 'clusters', 'list', `--project=${c.project}`]);
    return { lines: [line('cluster', 'fail', `${c.path} does not exist`, list)], facts };
  }
  facts.cluster = cluster;
  facts.needsNodeSelector = cluster.autopilot;
  const image = target.image;
  const pools = targetPools(cluster, target);
  const autoCreates = cluster.autopilot || cluster.autoprovisioning.enabled;
  const lines: CheckLine[] = [];
  const sections: Array<Promise<CheckLine[]>> = [];
  if (phase !== 'image') {
    const kind = cluster.autopilot ? 'Autopilot' : 'Standard';
    lines.push(line('cluster', 'pass', `${kind} cluster ${c.path}, control plane ${cluster.masterVersion ?? 'unknown'}`));
    sections.push(Promise.resolve(poolLines(cluster, target, pools, phase)));
    sections.push(Promise.resolve(versionLines(cluster, target, pools.found, autoCreates)));
    sections.push(Promise.resolve(streamingLines(cluster, target, pools.found, autoCreates)));
    sections.push(containerFsLine(cloud, c, signal).then((l) => [l]));
    const accounts = nodeAccounts(cluster, pools.found, autoCreates);
    sections.push(serviceAccountLines(cloud, cluster, accounts, signal));
    if (image) {
      sections.push(imageIamLines(cloud, cluster, accounts, image, signal));
      if (autoCreates) sections.push(allowlistLines(cloud, cluster, image, signal));
    }
  }
  if (image && phase !== 'before-image') {
    sections.push(
      imageLines(cloud, image, signal).then((r) => {
        if (r.record) facts.record = r.record;
        // The mode a pool must mount the disk in follows from what it holds.
        const kind = target.diskKind ?? (r.record ? diskKindOfRecord(r.record) : 'images');
        return [...r.lines, ...pools.found.flatMap((pool) => referenceLines(cluster, target, pool, image, kind))];
      }),
    );
  }
  for (const s of await Promise.all(sections)) lines.push(...s);
  return { lines, facts };
}

interface Pools {
  /** The pools checked. */
  found: NodePoolInfo[];
  /** The pool named by --node-pool, when it exists. */
  named?: NodePoolInfo;
  missing?: string;
}

function targetPools(cluster: ClusterInfo, target: DoctorTarget): Pools {
  if (target.nodePool) {
    const named = cluster.nodePools.find((p) => p.name === target.nodePool);
    return named ? { found: [named], named } : { found: [], missing: target.nodePool };
  }
  const image = target.image;
  const usesImage = (p: NodePoolInfo) =>
    p.secondaryBootDisks.some((d) => d.diskImage && (!image || imagePathOf(d.diskImage, cluster.project) === image.path));
  return { found: cluster.nodePools.filter(usesImage) };
}

/** A line; its fix only when it is not a pass. */
function line(check: string, status: CheckStatus, seen: string, fix?: string): CheckLine {
  return { check, status, seen, ...(fix && status !== 'pass' ? { fix } : {}) };
}

/** `gcloud container clusters VERB CLUSTER --location=L --project=P …more` */
function clustersCommand(target: DoctorTarget, verb: 'upgrade' | 'update', ...more: string[]): string {
  return shellLine(['gcloud', 'container', 'clusters', verb, target.cluster.name, ...GCLOUD_CONTEXT(target.cluster), ...more]);
}

/** `gcloud container node-pools VERB POOL --cluster=C --location=L --project=P …more` */
function nodePoolsCommand(target: DoctorTarget, verb: 'create' | 'update', pool: string, ...more: string[]): string {
  return shellLine([
    'gcloud',
    'container',
    'node-pools',
    verb,
    pool,
    `--cluster=${target.cluster.name}`,
    ...GCLOUD_CONTEXT(target.cluster),
    ...more,
  ]);
}

function nodePoolCreate(target: DoctorTarget, image: string, name = 'NODE_POOL', kind: DiskKind = target.diskKind ?? 'images'): string {
  const mode = kind === 'data' ? '' : ',mode=CONTAINER_IMAGE_CACHE';
  return nodePoolsCommand(target, 'create', name, '--enable-image-streaming', `--secondary-boot-disk=disk-image=${image}${mode}`);
}

function poolLines(cluster: ClusterInfo, target: DoctorTarget, pools: Pools, phase: CheckPhase): CheckLine[] {
  const image = target.image?.path ?? 'projects/PROJECT/global/images/IMAGE';
  if (pools.missing) {
    const has = cluster.nodePools.map((p) => p.name).join(', ') || 'none';
    return [
      line(
        'node-pool',
        'fail',
        `no node pool ${pools.missing} in the cluster (it has: ${has})`,
        nodePoolCreate(target, image, pools.missing),
      ),
    ];
  }
  if (pools.found.length || cluster.autopilot || cluster.autoprovisioning.enabled) return [];
  // Before the image exists, the pool that will mount it is the next step, not a fault.
  const yet = phase === 'before-image';
  const seen = target.image
    ? `no node pool mounts ${target.image.path}${yet ? ' yet: create one once the image exists' : ''}`
    : 'no node pool has a secondary boot disk';
  return [line('node-pool', target.image && !yet ? 'fail' : 'warn', seen, nodePoolCreate(target, image))];
}

const CAN_CACHE = /^(COS|UBUNTU)_CONTAINERD$/i;

function versionLines(cluster: ClusterInfo, target: DoctorTarget, pools: NodePoolInfo[], autoCreates: boolean): CheckLine[] {
  const lines = pools.map((p) => {
    const v = judgeVersion(
      p.imageType ?? 'unknown',
      p.version ?? cluster.nodeVersion ?? cluster.masterVersion ?? 'unknown',
      cluster.autopilot,
    );
    const fix = CAN_CACHE.test(p.imageType ?? '')
      ? (masterFirst(cluster, target, v.needs) ?? clustersCommand(target, 'upgrade', `--node-pool=${p.name}`))
      : clustersCommand(target, 'upgrade', `--node-pool=${p.name}`, '--image-type=COS_CONTAINERD');
    return line('version', v.status, `pool ${p.name}: ${v.detail}`, fix);
  });
  if (!pools.length && !autoCreates) {
    // No pool to judge: the one to be created gets the control plane's version, and COS_CONTAINERD by default.
    const v = judgeVersion('COS_CONTAINERD', cluster.masterVersion ?? 'unknown', cluster.autopilot);
    lines.push(line('version', v.status, `new node pools: ${v.detail}`, masterFirst(cluster, target, v.needs, true)));
  }
  if (autoCreates) {
    // Pools created from now on take the control plane's version and the auto-provisioning image type.
    const type = cluster.autoprovisioning.imageType ?? 'COS_CONTAINERD';
    const v = judgeVersion(type, cluster.masterVersion ?? 'unknown', cluster.autopilot);
    const fix = CAN_CACHE.test(type)
      ? masterFirst(cluster, target, v.needs, true)
      : clustersCommand(target, 'update', '--autoprovisioning-image-type=COS_CONTAINERD');
    lines.push(line('version', v.status, `${cluster.autopilot ? 'Autopilot' : 'auto-provisioned'} nodes: ${v.detail}`, fix));
  }
  return lines;
}

/** The control plane's upgrade when it is older than `needs` (nodes cannot be newer than it), else undefined. */
function masterFirst(cluster: ClusterInfo, target: DoctorTarget, needs: string | undefined, always = false): string | undefined {
  const master = cluster.masterVersion;
  const older = !master || !needs || judgeVersion('COS_CONTAINERD', master, true).status !== 'pass';
  if (!always && !older) return undefined;
  return clustersCommand(target, 'upgrade', '--master', `--cluster-version=${needs ?? 'latest'}`);
}

function streamingLines(cluster: ClusterInfo, target: DoctorTarget, pools: NodePoolInfo[], autoCreates: boolean): CheckLine[] {
  const lines = pools.map((p) =>
    line(
      'image-streaming',
      p.gcfsEnabled ? 'pass' : 'fail',
      `pool ${p.name}: image streaming ${p.gcfsEnabled ? 'on' : 'off (secondary boot disks need it)'}`,
      nodePoolsCommand(target, 'update', p.name, '--enable-image-streaming'),
    ),
  );
  if (autoCreates && !cluster.autopilot) {
    const on = cluster.defaultGcfsEnabled;
    lines.push(
      line(
        'image-streaming',
        on ? 'pass' : 'fail',
        `pools created by auto-provisioning: image streaming ${on ? 'on' : 'off by default (nodePoolDefaults)'}`,
        clustersCommand(target, 'update', '--enable-image-streaming'),
      ),
    );
  }
  return lines;
}

async function containerFsLine(cloud: DoctorCloud, c: DoctorTarget['cluster'], signal: AbortSignal): Promise<CheckLine> {
  const fix = shellLine(['gcloud', 'services', 'enable', CONTAINER_FS_API, `--project=${c.project}`]);
  try {
    const state = await cloud.projectReads.serviceState(c.project, CONTAINER_FS_API, signal);
    const on = state === 'ENABLED';
    return line('container-file-system-api', on ? 'pass' : 'fail', `${CONTAINER_FS_API} is ${state.toLowerCase()} in ${c.project}`, fix);
  } catch (err) {
    return line('container-file-system-api', 'unknown', `cannot read the state of ${CONTAINER_FS_API}: ${errorText(err)}`, fix);
  }
}

/** The service accounts of the nodes checked: each pool's, the auto-provisioning default, or a new pool's. */
function nodeAccounts(cluster: ClusterInfo, pools: NodePoolInfo[], autoCreates: boolean): string[] {
  const all = pools.map((p) => p.serviceAccount ?? 'default');
  // No pool yet: the one to be created runs as the default account unless told otherwise.
  if (!pools.length && !autoCreates) all.push('default');
  if (autoCreates) all.push(cluster.autoprovisioning.serviceAccount ?? 'default');
  return [...new Set(all)];
}

async function resolveAccount(cloud: DoctorCloud, project: string, account: string, signal: AbortSignal): Promise<string> {
  if (account !== 'default') return account;
  return `${await cloud.projectReads.projectNumber(project, signal)}-compute@developer.gserviceaccount.com`;
}

/** Each node service account (`accounts`, as nodeAccounts gives them) exists. */
async function serviceAccountLines(
  cloud: DoctorCloud,
  cluster: ClusterInfo,
  accounts: string[],
  signal: AbortSignal,
): Promise<CheckLine[]> {
  return Promise.all(
    accounts.map(async (account): Promise<CheckLine> => {
      try {
        const email = await resolveAccount(cloud, cluster.project, account, signal);
        const exists = await cloud.iam.serviceAccountExists(email, signal);
        if (exists) return line('node-service-account', 'pass', `${email} exists`);
        if (exists === undefined) return line('node-service-account', 'unknown', `cannot look up ${email} (permission denied)`);
        // A user-managed account names its project (`NAME@PROJECT.iam.gserviceaccount.com`); the default one does not.
        const project = /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? cluster.project;
        return line(
          'node-service-account',
          'fail',
          `${email} does not exist: GKE cannot create nodes with it`,
          shellLine(['gcloud', 'iam', 'service-accounts', 'list', `--project=${project}`]),
        );
      } catch (err) {
        return line('node-service-account', 'unknown', `cannot look up the node service account ${account}: ${errorText(err)}`);
      }
    }),
  );
}

async function imageLines(
  cloud: DoctorCloud,
  image: NonNullable<DoctorTarget['image']>,
  signal: AbortSignal,
): Promise<{ lines: CheckLine[]; record?: ImageRecord }> {
  const lines: CheckLine[] = [];
  const long = image.name.length > 39;
  lines.push(
    line(
      'image-name',
      long ? 'fail' : 'pass',
      long
        ? `${image.name} has ${image.name.length} characters: GKE's node label gke-secondary-boot-disk-<IMAGE> allows at most 39`
        : `${image.name} (${image.name.length} ≤ 39 characters)`,
      shellLine([
        'gcloud',
        'compute',
        'images',
        'create',
        image.name.slice(0, 39).replace(/-+$/, ''),
        `--project=${image.project}`,
        `--source-image=${image.name}`,
        `--source-image-project=${image.project}`,
      ]),
    ),
  );
  let info: ImageInfo | undefined;
  try {
    info = await cloud.compute.getImage(image.name, signal, image.project);
  } catch (err) {
    lines.push(line('image', 'unknown', `cannot read ${image.path}: ${errorText(err)}`));
    return { lines };
  }
  if (!info) {
    const list = shellLine(['gcloud', 'compute', 'images', 'list', `--project=${image.project}`, '--no-standard-images']);
    lines.push(line('image', 'fail', `${image.path} does not exist`, list));
    return { lines };
  }
  const status = info.status ?? 'UNKNOWN';
  lines.push(line('image', status === 'READY' ? 'pass' : 'fail', `${image.path} is ${status}`));
  const dep = info.deprecated?.state ?? 'ACTIVE';
  const replacement = info.deprecated?.replacement ? ` (replacement: ${info.deprecated.replacement})` : '';
  lines.push(
    line(
      'image-deprecation',
      dep === 'ACTIVE' ? 'pass' : dep === 'DEPRECATED' ? 'warn' : 'fail',
      dep === 'ACTIVE'
        ? `${image.name} is not deprecated`
        : dep === 'DEPRECATED'
          ? `${image.name} is DEPRECATED: it still works, but is on its way out${replacement}`
          : `${image.name} is ${dep}: GKE cannot create nodes with it`,
      shellLine(['gcloud', 'compute', 'images', 'deprecate', image.name, `--project=${image.project}`, '--state=ACTIVE']),
    ),
  );
  const record = parseRecord(info.description);
  const by = `built by gke-disk-image-builder${record?.toolVersion ? ` ${record.toolVersion}` : ''}`;
  const s = (n: number) => (n === 1 ? '' : 's');
  lines.push(
    record
      ? line(
          'image-record',
          'pass',
          diskKindOfRecord(record) === 'data'
            ? `${by}: a data disk of ${record.count} file${s(record.count)}${record.sources ? ` from ${Object.keys(record.sources).join(', ')}` : ''}`
            : `${by}: ${record.count} container image${s(record.count)} for ${record.platform}`,
        )
      : line(
          'image-record',
          'warn',
          `${image.name} carries no record of gke-disk-image-builder: what it holds cannot be compared with workloads`,
        ),
  );
  return { lines, ...(record ? { record } : {}) };
}

function referenceLines(
  cluster: ClusterInfo,
  target: DoctorTarget,
  pool: NodePoolInfo,
  image: NonNullable<DoctorTarget['image']>,
  kind: DiskKind,
): CheckLine[] {
  const disk = pool.secondaryBootDisks.find((d) => d.diskImage && imagePathOf(d.diskImage, cluster.project) === image.path);
  const mode = disk?.mode ?? 'MODE_UNSPECIFIED';
  // A data disk is mounted as a plain disk (no mode); a disk of container images serves containerd as a cache.
  const want = kind === 'data' ? 'MODE_UNSPECIFIED' : 'CONTAINER_IMAGE_CACHE';
  const wanted = kind === 'data' ? 'no mode (MODE_UNSPECIFIED)' : 'CONTAINER_IMAGE_CACHE mode';
  if (disk && mode === want) return [line('secondary-boot-disk', 'pass', `pool ${pool.name} mounts ${image.path} in ${wanted}`)];
  const seen = !disk
    ? `pool ${pool.name} does not mount ${image.path} (its secondary boot disks: ${pool.secondaryBootDisks.map((d) => d.diskImage).join(', ') || 'none'})`
    : kind === 'data'
      ? `pool ${pool.name} mounts the data disk ${image.path} in ${mode} mode, not in no mode: GKE does not mount its files on the node`
      : `pool ${pool.name} mounts ${image.path} in ${mode} mode, not CONTAINER_IMAGE_CACHE: the disk is not used as a cache`;
  // A pool's secondary boot disks are fixed when it is created: the fix is a new pool.
  const name = `${pool.name}-${kind === 'data' ? 'data' : 'cached'}`;
  return [line('secondary-boot-disk', 'fail', seen, nodePoolCreate(target, image.path, name, kind))];
}

type Grant = 'granted' | { cannotConfirm: string } | 'missing';

/** Whether `member` may use images of the project under `bindings` (roles holding compute.images.useReadOnly). */
export function imageUseGrant(bindings: readonly IamBinding[], member: string): Grant {
  const maybe: string[] = [];
  for (const b of bindings) {
    const predefined = IMAGE_USE_ROLES.has(b.role);
    const custom = /^(projects|organizations)\/[^/]+\/roles\//.test(b.role);
    if (!predefined && !custom) continue;
    for (const m of b.members) {
      const direct = m === member || m === 'allAuthenticatedUsers' || m === 'allUsers';
      const indirect = /^(group|domain|principalSet):/.test(m);
      if (!direct && !indirect) continue;
      if (direct && predefined && !b.condition) return 'granted';
      if (indirect) maybe.push(`${b.role} to ${m} (membership not readable)`);
      else if (b.condition) maybe.push(`${b.role} under the condition "${b.condition.title ?? b.condition.expression ?? ''}"`);
      else maybe.push(`custom role ${b.role} (its permissions not read)`);
    }
  }
  return maybe.length ? { cannotConfirm: maybe.join('; ') } : 'missing';
}

/** For an image in another project: the node service accounts (`accounts`) and the GKE service agent may use it. */
async function imageIamLines(
  cloud: DoctorCloud,
  cluster: ClusterInfo,
  accounts: string[],
  image: NonNullable<DoctorTarget['image']>,
  signal: AbortSignal,
): Promise<CheckLine[]> {
  if (image.project === cluster.project)
    return [line('image-iam', 'pass', `the image is in the cluster's project ${cluster.project}: no grant on another project needed`)];
  let members: string[];
  try {
    const number = await cloud.projectReads.projectNumber(cluster.project, signal);
    const agent = `service-${number}@container-engine-robot.iam.gserviceaccount.com`;
    const emails = await Promise.all(accounts.map((a) => resolveAccount(cloud, cluster.project, a, signal)));
    members = [...new Set([...emails, agent])];
  } catch (err) {
    return [line('image-iam', 'unknown', `cannot find the project number of ${cluster.project}: ${errorText(err)}`)];
  }
  const grant = (m: string) =>
    shellLine([
      'gcloud',
      'projects',
      'add-iam-policy-binding',
      image.project,
      `--member=serviceAccount:${m}`,
      '--role=roles/compute.imageUser',
    ]);
  let bindings: IamBinding[];
  try {
    bindings = await cloud.projectReads.iamBindings(image.project, signal);
  } catch (err) {
    return members.map((m) =>
      line('image-iam', 'unknown', `cannot read the IAM policy of ${image.project} for ${m}: ${errorText(err)}`, grant(m)),
    );
  }
  return members.map((m) => {
    const g = imageUseGrant(bindings, `serviceAccount:${m}`);
    const who = m.includes('container-engine-robot') ? 'GKE service agent' : 'node service account';
    if (g === 'granted') return line('image-iam', 'pass', `${who} ${m} may use images of ${image.project}`);
    if (g === 'missing')
      return line(
        'image-iam',
        'fail',
        `${who} ${m} has no role with compute.images.useReadOnly on ${image.project}: node creation fails`,
        grant(m),
      );
    return line('image-iam', 'unknown', `${who} ${m} on ${image.project}: cannot confirm: ${g.cannotConfirm}`, grant(m));
  });
}

async function allowlistLines(
  cloud: DoctorCloud,
  cluster: ClusterInfo,
  image: NonNullable<DoctorTarget['image']>,
  signal: AbortSignal,
): Promise<CheckLine[]> {
  const manifest = JSON.stringify({
    apiVersion: 'node.gke.io/v1',
    kind: 'GCPResourceAllowlist',
    metadata: { name: 'gke-secondary-boot-disk-allowlist' },
    spec: { allowedResourcePatterns: [`projects/${image.project}/global/images/.*`] },
  });
  const fix = `${shellLine(['gcloud', 'container', 'clusters', 'get-credentials', cluster.name, `--location=${cluster.location}`, `--project=${cluster.project}`])} && ${shellLine(['echo', manifest])} | kubectl apply -f -`;
  let lists;
  try {
    lists = await (await cloud.kube(cluster)).listAllowlists(signal);
  } catch (err) {
    return [line('allowlist', 'unknown', `cannot read the cluster's GCPResourceAllowlists: ${errorText(err)}`, fix)];
  }
  if (lists === undefined)
    return [line('allowlist', 'unknown', 'the cluster does not serve node.gke.io/v1 GCPResourceAllowlist (a GKE version without it?)')];
  for (const l of lists)
    for (const p of l.allowedResourcePatterns) {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${p})$`);
      } catch {
        continue;
      }
      if (re.test(image.path)) return [line('allowlist', 'pass', `GCPResourceAllowlist ${l.name} allows ${image.path} (${p})`)];
    }
  const read = lists.length ? ` (${lists.length} allowlist${lists.length === 1 ? '' : 's'} read)` : '';
  return [line('allowlist', 'fail', `no GCPResourceAllowlist allows ${image.path}${read}: auto-created nodes cannot mount it`, fix)];
}

/** The node selector an Autopilot pod needs to land on nodes with the disk. */
export function nodeSelectorFor(image: NonNullable<DoctorTarget['image']>): { key: string; value: string } {
  return gkeNodeLabel(image.project, image.name);
}
