// Which images of the family something may still create nodes from (docs/architecture.md, Image lifetime): every
// node pool's secondaryBootDisks in every cluster (all locations) of each project checked, and — where the caller
// can read the cluster's Kubernetes API — the ComputeClasses (storage.secondaryBootDisks) and the
// GCPResourceAllowlist patterns that name an image exactly. A cluster list or a cluster's node pools that cannot be
// read make the answer incomplete: they are returned as `unreadable`, and prune then deletes nothing. A Kubernetes API
// that cannot be read is a note: GKE's own API is the record of what pools use.
import type { ClusterInfo, GkeApi } from '../../gcp/gke.js';
import type { KubeApi } from '../../k8s/api.js';
import type { ImageUse } from './planner.js';

export interface UsageSources {
  gke: Pick<GkeApi, 'listClusters' | 'listNodePools'>;
  kube(cluster: ClusterInfo): Promise<Pick<KubeApi, 'listAllowlists' | 'listComputeClasses'>>;
}

export interface Usage {
  uses: ImageUse[];
  /** What could not be read: `project P (cluster list)` or a cluster's path, with the reason. */
  unreadable: string[];
  notes: string[];
  /** The clusters read, by path. */
  clusters: string[];
}

/** `https://www.googleapis.com/compute/v1/`, `https://compute.googleapis.com/compute/v1/`, beta, alpha. */
const URL_PREFIX = /^https:\/\/[^/]+\/compute\/(?:v1|beta|alpha)\//;

/**
 * The image a reference names, as `{project, name}`, or a family reference, or undefined. References are full URLs,
 * `projects/P/global/images/NAME`, `global/images/NAME` (in `project`), or a bare name (in `project`).
 */
export function imageOf(ref: string, project: string): { project: string; name?: string; family?: string } | undefined {
  const path = ref.trim().replace(URL_PREFIX, '');
  const m = /^(?:projects\/([^/]+)\/)?global\/images\/(?:family\/([a-z][-a-z0-9]*)|([a-z][-a-z0-9]*))$/.exec(path);
  if (m) return { project: m[1] ?? project, ...(m[2] ? { family: m[2] } : { name: m[3]! }) };
  return /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(path) ? { project, name: path } : undefined;
}

/**
 * The image an allowlist pattern names exactly, or undefined: a pattern is a regular expression, and one that
 * could match more than one image (any metacharacter but the anchors) names none — a wildcard does not pin.
 */
export function exactImageOfPattern(pattern: string): { project: string; name: string } | undefined {
  const body = pattern.replace(/^\^/, '').replace(/\$$/, '');
  const m = /^projects\/([a-z][-a-z0-9]*[a-z0-9])\/global\/images\/([a-z]([-a-z0-9]*[a-z0-9])?)$/.exec(body);
  return m ? { project: m[1]!, name: m[2]! } : undefined;
}

const errorText = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

export async function findUses(
  sources: UsageSources,
  target: { project: string; family: string },
  projects: readonly string[],
  signal: AbortSignal,
): Promise<Usage> {
  const usage: Usage = { uses: [], unreadable: [], notes: [], clusters: [] };
  const ours = (ref: { project: string; name?: string; family?: string } | undefined, by: string) => {
    if (!ref || ref.project !== target.project) return;
    if (ref.name) usage.uses.push({ image: ref.name, by });
    // A family reference follows the family's newest ACTIVE image, which prune always keeps.
    else if (ref.family === target.family)
      usage.notes.push(`${by} names the family ${target.family}: it uses the newest ACTIVE image, which is kept`);
  };
  for (const project of projects) {
    let clusters: ClusterInfo[];
    try {
      clusters = await sources.gke.listClusters(project, signal);
    } catch (err) {
      signal.throwIfAborted();
      usage.unreadable.push(`the clusters of project ${project} (${errorText(err)})`);
      continue;
    }
    for (const cluster of clusters) {
      try {
        const pools = await sources.gke.listNodePools(cluster.path, signal);
        for (const pool of pools)
          for (const disk of pool.secondaryBootDisks)
            if (disk.diskImage) ours(imageOf(disk.diskImage, cluster.project), `${cluster.path}/nodePools/${pool.name}`);
        usage.clusters.push(cluster.path);
      } catch (err) {
        signal.throwIfAborted();
        usage.unreadable.push(`${cluster.path} (${errorText(err)})`);
        continue;
      }
      await readKubernetes(sources, cluster, ours, usage, signal);
    }
  }
  return usage;
}

async function readKubernetes(
  sources: UsageSources,
  cluster: ClusterInfo,
  ours: (ref: { project: string; name?: string; family?: string } | undefined, by: string) => void,
  usage: Usage,
  signal: AbortSignal,
): Promise<void> {
  try {
    const kube = await sources.kube(cluster);
    const [classes, allowlists] = await Promise.all([kube.listComputeClasses(signal), kube.listAllowlists(signal)]);
    for (const cc of classes ?? [])
      for (const d of cc.secondaryBootDisks)
        ours(imageOf(d.diskImageName, d.project ?? cluster.project), `ComputeClass ${cc.name} in ${cluster.path}`);
    for (const list of allowlists ?? [])
      for (const pattern of list.allowedResourcePatterns) {
        const exact = exactImageOfPattern(pattern);
        if (exact) ours(exact, `GCPResourceAllowlist ${list.name} in ${cluster.path}`);
      }
  } catch (err) {
    signal.throwIfAborted();
    usage.notes.push(
      `could not read the Kubernetes API of ${cluster.path} (${errorText(err)}): its ComputeClasses and GCPResourceAllowlists were not checked`,
    );
  }
}
