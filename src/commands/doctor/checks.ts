// The cluster-side and image-side checks of `doctor` (docs/architecture.md, Doctor): each reads what it needs through
// the cloud adapters and answers lines — pass, warn, fail or "cannot confirm" — with what was seen and the exact
// command that fixes it. A read that is refused or fails is "cannot confirm", never a pass.
import type { ImageInfo } from '../../gcp/types.js';
import type { ClusterInfo, GkeApi, NodePoolInfo } from '../../gcp/gke.js';
import type { IamApi } from '../../gcp/iam.js';
import type { IamBinding, ProjectReadsApi } from '../../gcp/project-reads.js';
import type { KubeApi } from '../../k8s/api.js';
import { parseRecord, type ImageRecord } from '../../builder/image-record.js';
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

/** `projects/P/global/images/I` of a `diskImage` as GKE holds it (a URL, a path, or relative to the cluster's project). */
export function imagePathOf(diskImage: string, clusterProject: string): string {
  const p = diskImage.replace(/^https:\/\/(www|compute)\.googleapis\.com\/compute\/(v1|beta|alpha)\//, '');
  return p.startsWith('global/images/') ? `projects/${clusterProject}/${p}` : p;
}

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
    return { lines: [{ check: 'cluster', status: 'fail', seen: `cannot read ${c.path}: ${errorText(err)}` }], facts };
  }
  if (!cluster)
    return {
      lines: [
        {
          check: 'cluster',
          status: 'fail',
          seen: `${c.path} does not exist`,
          fix: shellLine(['gcloud', 'container', 'clusters', 'list', `--project=${c.project}`]),
        },
      ],
      facts,
    };
  facts.cluster = cluster;
  facts.needsNodeSelector = cluster.autopilot;
  const image = target.image;
  const pools = targetPools(cluster, target);
  const autoCreates = cluster.autopilot || cluster.autoprovisioning.enabled;
  const lines: CheckLine[] = [];
  const sections: Array<Promise<CheckLine[]>> = [];
  if (phase !== 'image') {
    lines.push({
      check: 'cluster',
      status: 'pass',
      seen: `${cluster.autopilot ? 'Autopilot' : 'Standard'} cluster ${c.path}, control plane ${cluster.masterVersion ?? 'unknown'}`,
    });
    sections.push(Promise.resolve(poolLines(cluster, target, pools, phase)));
    sections.push(Promise.resolve(versionLines(cluster, target, pools.found, autoCreates)));
    sections.push(Promise.resolve(streamingLines(cluster, target, pools.found, autoCreates)));
    sections.push(containerFsLine(cloud, c, signal).then((l) => [l]));
    sections.push(serviceAccountLines(cloud, cluster, pools.found, autoCreates, signal));
    if (image) {
      sections.push(imageIamLines(cloud, cluster, pools.found, autoCreates, image, signal));
      if (autoCreates) sections.push(allowlistLines(cloud, cluster, image, signal));
    }
  }
  if (image && phase !== 'before-image') {
    sections.push(
      imageLines(cloud, image, signal).then((r) => {
        if (r.record) facts.record = r.record;
        return r.lines;
      }),
    );
    for (const pool of pools.found) sections.push(Promise.resolve(referenceLines(cluster, target, pool, image)));
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

function nodePoolCreate(cluster: ClusterInfo, target: DoctorTarget, image: string, name = 'NODE_POOL'): string {
  return shellLine([
    'gcloud',
    'container',
    'node-pools',
    'create',
    name,
    `--cluster=${cluster.name}`,
    ...GCLOUD_CONTEXT(target.cluster),
    '--enable-image-streaming',
    `--secondary-boot-disk=disk-image=${image},mode=CONTAINER_IMAGE_CACHE`,
  ]);
}

function poolLines(cluster: ClusterInfo, target: DoctorTarget, pools: Pools, phase: CheckPhase): CheckLine[] {
  if (pools.missing)
    return [
      {
        check: 'node-pool',
        status: 'fail',
        seen: `no node pool ${pools.missing} in the cluster (it has: ${cluster.nodePools.map((p) => p.name).join(', ') || 'none'})`,
        fix: nodePoolCreate(cluster, target, target.image?.path ?? 'projects/PROJECT/global/images/IMAGE', pools.missing),
      },
    ];
  if (pools.found.length || cluster.autopilot || cluster.autoprovisioning.enabled) return [];
  // Before the image exists, the pool that will mount it is the next step, not a fault.
  const yet = phase === 'before-image';
  return [
    {
      check: 'node-pool',
      status: target.image && !yet ? 'fail' : 'warn',
      seen: target.image
        ? `no node pool mounts ${target.image.path}${yet ? ' yet: create one once the image exists' : ''}`
        : 'no node pool has a secondary boot disk',
      fix: nodePoolCreate(cluster, target, target.image?.path ?? 'projects/PROJECT/global/images/IMAGE'),
    },
  ];
}

function versionLines(cluster: ClusterInfo, target: DoctorTarget, pools: NodePoolInfo[], autoCreates: boolean): CheckLine[] {
  const lines: CheckLine[] = [];
  for (const p of pools) {
    const version = p.version ?? cluster.nodeVersion ?? cluster.masterVersion ?? 'unknown';
    const v = judgeVersion(p.imageType ?? 'unknown', version, cluster.autopilot);
    const typeOk = /^(COS|UBUNTU)_CONTAINERD$/i.test(p.imageType ?? '');
    lines.push({
      check: 'version',
      status: v.status,
      seen: `pool ${p.name}: ${v.detail}`,
      ...(v.status === 'pass'
        ? {}
        : {
            fix: typeOk
              ? (masterFirst(cluster, target, v.needs) ??
                shellLine([
                  'gcloud',
                  'container',
                  'clusters',
                  'upgrade',
                  cluster.name,
                  ...GCLOUD_CONTEXT(target.cluster),
                  `--node-pool=${p.name}`,
                ]))
              : shellLine([
                  'gcloud',
                  'container',
                  'clusters',
                  'upgrade',
                  cluster.name,
                  ...GCLOUD_CONTEXT(target.cluster),
                  `--node-pool=${p.name}`,
                  '--image-type=COS_CONTAINERD',
                ]),
          }),
    });
  }
  if (!pools.length && !autoCreates) {
    // No pool to judge: the one to be created gets the control plane's version, and COS_CONTAINERD by default.
    const v = judgeVersion('COS_CONTAINERD', cluster.masterVersion ?? 'unknown', cluster.autopilot);
    lines.push({
      check: 'version',
      status: v.status,
      seen: `new node pools: ${v.detail}`,
      ...(v.status === 'pass' ? {} : { fix: masterFirst(cluster, target, v.needs, true)! }),
    });
  }
  if (autoCreates) {
    // Pools created from now on take the control plane's version and the auto-provisioning image type.
    const type = cluster.autoprovisioning.imageType ?? 'COS_CONTAINERD';
    const v = judgeVersion(type, cluster.masterVersion ?? 'unknown', cluster.autopilot);
    lines.push({
      check: 'version',
      status: v.status,
      seen: `${cluster.autopilot ? 'Autopilot' : 'auto-provisioned'} nodes: ${v.detail}`,
      ...(v.status === 'pass'
        ? {}
        : /^(COS|UBUNTU)_CONTAINERD$/i.test(type)
          ? { fix: masterFirst(cluster, target, v.needs, true)! }
          : {
              fix: shellLine([
                'gcloud',
                'container',
                'clusters',
                'update',
                cluster.name,
                ...GCLOUD_CONTEXT(target.cluster),
                '--autoprovisioning-image-type=COS_CONTAINERD',
              ]),
            }),
    });
  }
  return lines;
}

/** The control plane's upgrade when it is older than `needs` (nodes cannot be newer than it), else undefined. */
function masterFirst(cluster: ClusterInfo, target: DoctorTarget, needs: string | undefined, always = false): string | undefined {
  const master = cluster.masterVersion;
  const older = !master || !needs || judgeVersion('COS_CONTAINERD', master, true).status !== 'pass';
  if (!always && !older) return undefined;
  return shellLine([
    'gcloud',
    'container',
    'clusters',
    'upgrade',
    cluster.name,
    ...GCLOUD_CONTEXT(target.cluster),
    '--master',
    `--cluster-version=${needs ?? 'latest'}`,
  ]);
}

function streamingLines(cluster: ClusterInfo, target: DoctorTarget, pools: NodePoolInfo[], autoCreates: boolean): CheckLine[] {
  const lines: CheckLine[] = pools.map((p) => ({
    check: 'image-streaming',
    status: p.gcfsEnabled ? 'pass' : 'fail',
    seen: `pool ${p.name}: image streaming ${p.gcfsEnabled ? 'on' : 'off (secondary boot disks need it)'}`,
    ...(p.gcfsEnabled
      ? {}
      : {
          fix: shellLine([
            'gcloud',
            'container',
            'node-pools',
            'update',
            p.name,
            `--cluster=${cluster.name}`,
            ...GCLOUD_CONTEXT(target.cluster),
            '--enable-image-streaming',
          ]),
        }),
  }));
  if (autoCreates && !cluster.autopilot) {
    const on = cluster.defaultGcfsEnabled;
    lines.push({
      check: 'image-streaming',
      status: on ? 'pass' : 'fail',
      seen: `pools created by auto-provisioning: image streaming ${on ? 'on' : 'off by default (nodePoolDefaults)'}`,
      ...(on
        ? {}
        : {
            fix: shellLine([
              'gcloud',
              'container',
              'clusters',
              'update',
              cluster.name,
              ...GCLOUD_CONTEXT(target.cluster),
              '--enable-image-streaming',
            ]),
          }),
    });
  }
  return lines;
}

async function containerFsLine(cloud: DoctorCloud, c: DoctorTarget['cluster'], signal: AbortSignal): Promise<CheckLine> {
  const fix = shellLine(['gcloud', 'services', 'enable', CONTAINER_FS_API, `--project=${c.project}`]);
  try {
    const state = await cloud.projectReads.serviceState(c.project, CONTAINER_FS_API, signal);
    if (state === 'ENABLED')
      return { check: 'container-file-system-api', status: 'pass', seen: `${CONTAINER_FS_API} is enabled in ${c.project}` };
    return {
      check: 'container-file-system-api',
      status: 'fail',
      seen: `${CONTAINER_FS_API} is ${state.toLowerCase()} in ${c.project}`,
      fix,
    };
  } catch (err) {
    return {
      check: 'container-file-system-api',
      status: 'unknown',
      seen: `cannot read the state of ${CONTAINER_FS_API}: ${errorText(err)}`,
      fix,
    };
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

async function serviceAccountLines(
  cloud: DoctorCloud,
  cluster: ClusterInfo,
  pools: NodePoolInfo[],
  autoCreates: boolean,
  signal: AbortSignal,
): Promise<CheckLine[]> {
  return Promise.all(
    nodeAccounts(cluster, pools, autoCreates).map(async (account): Promise<CheckLine> => {
      try {
        const email = await resolveAccount(cloud, cluster.project, account, signal);
        const exists = await cloud.iam.serviceAccountExists(email, signal);
        if (exists) return { check: 'node-service-account', status: 'pass', seen: `${email} exists` };
        if (exists === undefined)
          return { check: 'node-service-account', status: 'unknown', seen: `cannot look up ${email} (permission denied)` };
        return {
          check: 'node-service-account',
          status: 'fail',
          seen: `${email} does not exist: GKE cannot create nodes with it`,
          // A user-managed account names its project (`NAME@PROJECT.iam.gserviceaccount.com`); the default one does not.
          fix: shellLine([
            'gcloud',
            'iam',
            'service-accounts',
            'list',
            `--project=${/@([^.]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? cluster.project}`,
          ]),
        };
      } catch (err) {
        return {
          check: 'node-service-account',
          status: 'unknown',
          seen: `cannot look up the node service account ${account}: ${errorText(err)}`,
        };
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
  if (image.name.length > 39)
    lines.push({
      check: 'image-name',
      status: 'fail',
      seen: `${image.name} has ${image.name.length} characters: GKE's node label gke-secondary-boot-disk-<IMAGE> allows at most 39`,
      fix: shellLine([
        'gcloud',
        'compute',
        'images',
        'create',
        image.name.slice(0, 39).replace(/-+$/, ''),
        `--project=${image.project}`,
        `--source-image=${image.name}`,
        `--source-image-project=${image.project}`,
      ]),
    });
  else lines.push({ check: 'image-name', status: 'pass', seen: `${image.name} (${image.name.length} ≤ 39 characters)` });
  let info: ImageInfo | undefined;
  try {
    info = await cloud.compute.getImage(image.name, signal, image.project);
  } catch (err) {
    lines.push({ check: 'image', status: 'unknown', seen: `cannot read ${image.path}: ${errorText(err)}` });
    return { lines };
  }
  if (!info) {
    lines.push({
      check: 'image',
      status: 'fail',
      seen: `${image.path} does not exist`,
      fix: shellLine(['gcloud', 'compute', 'images', 'list', `--project=${image.project}`, '--no-standard-images']),
    });
    return { lines };
  }
  const status = info.status ?? 'UNKNOWN';
  lines.push({ check: 'image', status: status === 'READY' ? 'pass' : 'fail', seen: `${image.path} is ${status}` });
  const dep = info.deprecated?.state;
  if (dep && dep !== 'ACTIVE') {
    const undeprecate = shellLine(['gcloud', 'compute', 'images', 'deprecate', image.name, `--project=${image.project}`, '--state=ACTIVE']);
    lines.push({
      check: 'image-deprecation',
      status: dep === 'DEPRECATED' ? 'warn' : 'fail',
      seen:
        dep === 'DEPRECATED'
          ? `${image.name} is DEPRECATED: it still works, but is on its way out${info.deprecated?.replacement ? ` (replacement: ${info.deprecated.replacement})` : ''}`
          : `${image.name} is ${dep}: GKE cannot create nodes with it`,
      fix: undeprecate,
    });
  } else lines.push({ check: 'image-deprecation', status: 'pass', seen: `${image.name} is not deprecated` });
  const record = parseRecord(info.description);
  if (record)
    lines.push({
      check: 'image-record',
      status: 'pass',
      seen: `built by gke-disk-image-builder${record.toolVersion ? ` ${record.toolVersion}` : ''}: ${record.count} container image${record.count === 1 ? '' : 's'} for ${record.platform}`,
    });
  else
    lines.push({
      check: 'image-record',
      status: 'warn',
      seen: `${image.name} carries no record of gke-disk-image-builder: what it holds cannot be compared with workloads`,
    });
  return { lines, ...(record ? { record } : {}) };
}

function referenceLines(
  cluster: ClusterInfo,
  target: DoctorTarget,
  pool: NodePoolInfo,
  image: NonNullable<DoctorTarget['image']>,
): CheckLine[] {
  const disk = pool.secondaryBootDisks.find((d) => d.diskImage && imagePathOf(d.diskImage, cluster.project) === image.path);
  if (disk?.mode === 'CONTAINER_IMAGE_CACHE')
    return [{ check: 'secondary-boot-disk', status: 'pass', seen: `pool ${pool.name} mounts ${image.path} in CONTAINER_IMAGE_CACHE mode` }];
  const seen = disk
    ? `pool ${pool.name} mounts ${image.path} in ${disk.mode ?? 'MODE_UNSPECIFIED'} mode, not CONTAINER_IMAGE_CACHE: the disk is not used as a cache`
    : `pool ${pool.name} does not mount ${image.path} (its secondary boot disks: ${pool.secondaryBootDisks.map((d) => d.diskImage).join(', ') || 'none'})`;
  // A pool's secondary boot disks are fixed when it is created: the fix is a new pool.
  return [{ check: 'secondary-boot-disk', status: 'fail', seen, fix: nodePoolCreate(cluster, target, image.path, `${pool.name}-cached`) }];
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

async function imageIamLines(
  cloud: DoctorCloud,
  cluster: ClusterInfo,
  pools: NodePoolInfo[],
  autoCreates: boolean,
  image: NonNullable<DoctorTarget['image']>,
  signal: AbortSignal,
): Promise<CheckLine[]> {
  if (image.project === cluster.project)
    return [
      {
        check: 'image-iam',
        status: 'pass',
        seen: `the image is in the cluster's project ${cluster.project}: no grant on another project needed`,
      },
    ];
  let members: string[];
  try {
    const number = await cloud.projectReads.projectNumber(cluster.project, signal);
    const agent = `service-${number}@container-engine-robot.iam.gserviceaccount.com`;
    const accounts = await Promise.all(
      nodeAccounts(cluster, pools, autoCreates).map((a) => resolveAccount(cloud, cluster.project, a, signal)),
    );
    members = [...new Set([...accounts, agent])];
  } catch (err) {
    return [{ check: 'image-iam', status: 'unknown', seen: `cannot find the project number of ${cluster.project}: ${errorText(err)}` }];
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
    return members.map((m) => ({
      check: 'image-iam',
      status: 'unknown' as const,
      seen: `cannot read the IAM policy of ${image.project} for ${m}: ${errorText(err)}`,
      fix: grant(m),
    }));
  }
  return members.map((m): CheckLine => {
    const g = imageUseGrant(bindings, `serviceAccount:${m}`);
    const who = m.includes('container-engine-robot') ? 'GKE service agent' : 'node service account';
    if (g === 'granted') return { check: 'image-iam', status: 'pass', seen: `${who} ${m} may use images of ${image.project}` };
    if (g === 'missing')
      return {
        check: 'image-iam',
        status: 'fail',
        seen: `${who} ${m} has no role with compute.images.useReadOnly on ${image.project}: node creation fails`,
        fix: grant(m),
      };
    return {
      check: 'image-iam',
      status: 'unknown',
      seen: `${who} ${m} on ${image.project}: cannot confirm: ${g.cannotConfirm}`,
      fix: grant(m),
    };
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
    return [{ check: 'allowlist', status: 'unknown', seen: `cannot read the cluster's GCPResourceAllowlists: ${errorText(err)}`, fix }];
  }
  if (lists === undefined)
    return [
      {
        check: 'allowlist',
        status: 'unknown',
        seen: 'the cluster does not serve node.gke.io/v1 GCPResourceAllowlist (a GKE version without it?)',
      },
    ];
  for (const l of lists)
    for (const p of l.allowedResourcePatterns) {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${p})$`);
      } catch {
        continue;
      }
      if (re.test(image.path))
        return [{ check: 'allowlist', status: 'pass', seen: `GCPResourceAllowlist ${l.name} allows ${image.path} (${p})` }];
    }
  return [
    {
      check: 'allowlist',
      status: 'fail',
      seen: `no GCPResourceAllowlist allows ${image.path}${lists.length ? ` (${lists.length} allowlist${lists.length === 1 ? '' : 's'} read)` : ''}: auto-created nodes cannot mount it`,
      fix,
    },
  ];
}

/** The node selector an Autopilot pod needs to land on nodes with the disk. */
export function nodeSelectorFor(image: NonNullable<DoctorTarget['image']>): { key: string; value: string } {
  return gkeNodeLabel(image.project, image.name);
}
