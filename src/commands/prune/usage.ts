// Which images of the family something may still create nodes from (docs/architecture.md, Image lifetime): every
// node pool's secondaryBootDisks in every cluster (all locations) of each project checked, and — where the caller
// can read the cluster's Kubernetes API — the ComputeClasses (storage.secondaryBootDisks) and the
// GCPResourceAllowlist patterns that name an image exactly. A cluster list or a cluster's node pools that cannot be
// read, and an image reference that cannot be placed (a form not known, a project number not known to be the image
// project's), make the answer incomplete: they are returned as `unreadable`, and prune then deletes nothing. So does,
// with --delete, a Kubernetes API that cannot be read (a private endpoint, RBAC): a ComputeClass there may name an
// image. Without --delete it is a note, since deprecation leaves every image usable.
import type { ClusterInfo, GkeApi } from '../../gcp/gke.js';
import { imageOf, type ImageRef } from '../../gcp/image-ref.js';
import type { ProjectReadsApi } from '../../gcp/project-reads.js';
import type { KubeApi } from '../../k8s/api.js';
import type { ImageUse } from './planner.js';

export interface UsageSources {
  gke: Pick<GkeApi, 'listClusters' | 'listNodePools'>;
  kube(cluster: ClusterInfo): Promise<Pick<KubeApi, 'listAllowlists' | 'listComputeClasses'>>;
  /** Read only when a reference names a project by number. */
  projectReads: Pick<ProjectReadsApi, 'projectNumber'>;
}

export interface Usage {
  uses: ImageUse[];
  /** What could not be read: a project's cluster list, a cluster's path or an image reference, with the reason. */
  unreadable: string[];
  notes: string[];
  /** The clusters read, by path. */
  clusters: string[];
}

/** A project named by its number (a project ID starts with a letter). */
const isProjectNumber = (project: string) => /^\d+$/.test(project);

/**
 * The image an allowlist pattern names exactly, or undefined: a pattern is a regular expression, and one that
 * could match more than one image (any metacharacter but the anchors) names none — a wildcard does not pin.
 */
export function exactImageOfPattern(pattern: string): { project: string; name: string } | undefined {
  const body = pattern.replace(/^\^/, '').replace(/\$$/, '');
  const m = /^projects\/([a-z][-a-z0-9]*[a-z0-9]|\d+)\/global\/images\/([a-z]([-a-z0-9]*[a-z0-9])?)$/.exec(body);
  return m ? { project: m[1]!, name: m[2]! } : undefined;
}

const errorText = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

export interface UsageOptions {
  /**
   * --delete: a Kubernetes API that cannot be read makes the answer incomplete (`unreadable`), since a ComputeClass
   * there may name an image of the family; otherwise it is a note.
   */
  kubernetesRequired?: boolean;
}

/** Records what one reference names; `ref` undefined: a reference that was not understood. */
type Note = (ref: ImageRef | undefined, text: string, by: string) => void;

export async function findUses(
  sources: UsageSources,
  target: { project: string; family: string },
  projects: readonly string[],
  signal: AbortSignal,
  options: UsageOptions = {},
): Promise<Usage> {
  const usage: Usage = { uses: [], unreadable: [], notes: [], clusters: [] };
  // References that name a project by number: they are the target's only if its number says so (read once, at the end).
  const byNumber: Array<{ ref: ImageRef; text: string; by: string }> = [];
  const ours: Note = (ref, text, by) => {
    // Not understood: it may name one of the family's images, so nothing is deleted on a guess.
    if (!ref) return void usage.unreadable.push(`the image reference ${JSON.stringify(text)} of ${by} (not a form prune understands)`);
    if (isProjectNumber(ref.project) && ref.project !== target.project) return void byNumber.push({ ref, text, by });
    if (ref.project !== target.project) return;
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
            if (disk.diskImage) ours(imageOf(disk.diskImage, cluster.project), disk.diskImage, `${cluster.path}/nodePools/${pool.name}`);
        usage.clusters.push(cluster.path);
      } catch (err) {
        signal.throwIfAborted();
        usage.unreadable.push(`${cluster.path} (${errorText(err)})`);
        continue;
      }
      await readKubernetes(sources, cluster, ours, usage, options, signal);
    }
  }
  if (byNumber.length) {
    let number: string | undefined;
    let why = '';
    try {
      number = await sources.projectReads.projectNumber(target.project, signal);
    } catch (err) {
      signal.throwIfAborted();
      why = errorText(err) ?? '';
    }
    for (const { ref, text, by } of byNumber)
      if (number === undefined)
        usage.unreadable.push(
          `the image reference ${JSON.stringify(text)} of ${by} (it names project ${ref.project} by number, and the number of project ${target.project} could not be read: ${why})`,
        );
      else if (number === ref.project) ours({ ...ref, project: target.project }, text, by);
  }
  return usage;
}

async function readKubernetes(
  sources: UsageSources,
  cluster: ClusterInfo,
  ours: Note,
  usage: Usage,
  options: UsageOptions,
  signal: AbortSignal,
): Promise<void> {
  try {
    const kube = await sources.kube(cluster);
    const [classes, allowlists] = await Promise.all([kube.listComputeClasses(signal), kube.listAllowlists(signal)]);
    for (const cc of classes ?? [])
      for (const d of cc.secondaryBootDisks)
        ours(imageOf(d.diskImageName, d.project ?? cluster.project), d.diskImageName, `ComputeClass ${cc.name} in ${cluster.path}`);
    for (const list of allowlists ?? [])
      for (const pattern of list.allowedResourcePatterns) {
        const exact = exactImageOfPattern(pattern);
        if (exact) ours(exact, pattern, `GCPResourceAllowlist ${list.name} in ${cluster.path}`);
      }
  } catch (err) {
    signal.throwIfAborted();
    if (options.kubernetesRequired)
      return void usage.unreadable.push(
        `the Kubernetes API of ${cluster.path} (${errorText(err)}), where a ComputeClass or GCPResourceAllowlist may name an image`,
      );
    usage.notes.push(
      `could not read the Kubernetes API of ${cluster.path} (${errorText(err)}): its ComputeClasses and GCPResourceAllowlists were not checked`,
    );
  }
}
