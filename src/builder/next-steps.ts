// The next step after a build, ready to paste: a node pool that mounts the image as a secondary boot disk in
// CONTAINER_IMAGE_CACHE mode (image streaming is required), the same in Terraform, and for Autopilot the
// allowlist that lets workloads use images of this project plus the nodeSelector that puts a pod on nodes that
// have the disk (GKE labels such nodes, and Autopilot pods ask for them by that label); and the `prune` command that
// keeps the image's family from growing without end.
import { gkeNodeLabel, type ClusterRef } from '../config/rules.js';
import { shellQuote } from '../io/shell-quote.js';
import { dataClaimName } from '../k8s/manifests.js';
import { diskKindOf, type ImageRun } from '../config/types.js';

export interface NextSteps {
  gcloud: string;
  /** The check that the pool (or an Autopilot cluster) will use the image (docs/architecture.md, Doctor). */
  doctor: string;
  terraform: string;
  autopilotAllowlist: string;
  /** Pod spec fragment for Autopilot. */
  autopilotNodeSelector: string;
  /**
   * Once the family holds more images than the pools need: the `prune` command for it (a dry run, to look first;
   * docs/architecture.md, Image lifetime).
   */
  prune: string;
}

/**
 * After a data disk (docs/architecture.md, Data disks): a node pool with the disk in no mode, which GKE mounts
 * read-only on every node; a pod that reads it through a hostPath volume; and, where hostPath is refused
 * (Autopilot), a pod that reads the ReadOnlyMany claim of the --k8s-manifests-filepath manifests.
 */
export interface DataNextSteps {
  disk: 'data';
  gcloud: string;
  doctor: string;
  terraform: string;
  /** Pod spec fragment: the node's mount of the disk as a read-only hostPath volume. */
  podHostPath: string;
  /** Pod spec fragment: the ReadOnlyMany claim restored from the image (--k8s-manifests-filepath writes it). */
  podClaim: string;
  prune: string;
}

/** Where GKE mounts a secondary boot disk without a mode on every node. */
export function dataDiskMountPath(image: string): string {
  return `/mnt/disks/gke-secondary-disks/gke-${image}-disk`;
}

/**
 * The node pool that attaches the image — `gcloud`, the doctor line that checks it, Terraform — in `mode` (none: a
 * plain data disk). GKE's secondary boot disks, data disks included, are set up on pools with image streaming
 * (doctor checks it).
 */
function poolSnippets(
  project: string,
  image: string,
  cluster: ClusterRef | undefined,
  resource: string,
  mode?: 'CONTAINER_IMAGE_CACHE',
): { gcloud: string; doctor: string; terraform: string } {
  const uri = `projects/${project}/global/images/${image}`;
  const gcloud = [
    'gcloud container node-pools create NODE_POOL \\',
    cluster
      ? `  ${shellQuote(`--cluster=${cluster.name}`)} ${shellQuote(`--location=${cluster.location}`)} \\`
      : '  --cluster=CLUSTER --location=LOCATION \\',
    `  ${shellQuote(`--project=${cluster?.project ?? project}`)} \\`,
    '  --enable-image-streaming \\',
    `  ${shellQuote(`--secondary-boot-disk=disk-image=${uri}${mode ? `,mode=${mode}` : ''}`)}`,
  ].join('\n');
  const doctor = [
    'gke-disk-image-builder doctor \\',
    `  ${cluster ? shellQuote(`--cluster=${cluster.path}`) : '--cluster=projects/CLUSTER_PROJECT/locations/LOCATION/clusters/CLUSTER'} \\`,
    `  --node-pool=NODE_POOL --image=${uri}`,
  ].join('\n');
  const terraform = [
    `resource "google_container_node_pool" "${resource}" {`,
    '  # name, cluster, location, node_count, ...',
    '  node_config {',
    '    gcfs_config {',
    '      enabled = true',
    '    }',
    '    secondary_boot_disks {',
    `      disk_image = "${uri}"`,
    ...(mode ? [`      mode       = "${mode}"`] : []),
    '    }',
    '  }',
    '}',
  ].join('\n');
  return { gcloud, doctor, terraform };
}

export function dataNextSteps(project: string, image: string, family: string, cluster?: ClusterRef): DataNextSteps {
  const { gcloud, doctor, terraform } = poolSnippets(project, image, cluster, 'with_data');
  // The pod spec's container reading the disk at /data, and the volume `data` it mounts (its source lines follow).
  const podReading = [
    'containers:',
    '- name: CONTAINER',
    '  volumeMounts:',
    '  - name: data',
    '    mountPath: /data',
    '    readOnly: true',
    'volumes:',
    '- name: data',
  ];
  const podHostPath = [...podReading, '  hostPath:', `    path: ${dataDiskMountPath(image)}`, '    type: Directory'].join('\n');
  const podClaim = [...podReading, '  persistentVolumeClaim:', `    claimName: ${dataClaimName(image)}`, '    readOnly: true'].join('\n');
  const prune = `gke-disk-image-builder prune --project-name=${project} --image-family-name=${family} --dry-run`;
  return { disk: 'data', gcloud, doctor, terraform, podHostPath, podClaim, prune };
}

/** `cluster`: the build's --cluster, which the commands then name instead of placeholders. */
export function nextSteps(project: string, image: string, family: string, cluster?: ClusterRef): NextSteps {
  const { gcloud, doctor, terraform } = poolSnippets(project, image, cluster, 'cached', 'CONTAINER_IMAGE_CACHE');
  const autopilotAllowlist = [
    'apiVersion: node.gke.io/v1',
    'kind: GCPResourceAllowlist',
    'metadata:',
    '  name: gke-secondary-boot-disk-allowlist',
    'spec:',
    '  allowedResourcePatterns:',
    `  - "projects/${project}/global/images/.*"`,
  ].join('\n');
  const label = gkeNodeLabel(project, image);
  const autopilotNodeSelector = ['nodeSelector:', `  ${label.key}: ${label.value}`].join('\n');
  const prune = `gke-disk-image-builder prune --project-name=${project} --image-family-name=${family} --dry-run`;
  return { gcloud, doctor, terraform, autopilotAllowlist, autopilotNodeSelector, prune };
}

/** A data disk's --k8s-manifests-filepath content needs the disk's size (the claim asks for it). */
export function dataManifestsOf(run: ImageRun): { diskSizeGb: number } | undefined {
  return diskKindOf(run) === 'data' ? { diskSizeGb: run.diskSizeGb } : undefined;
}

/** The next steps for the kind of disk the run made. */
export function nextStepsFor(run: ImageRun, image: string): NextSteps | DataNextSteps {
  return diskKindOf(run) === 'data'
    ? dataNextSteps(run.projectName, image, run.imageFamilyName, run.cluster)
    : nextSteps(run.projectName, image, run.imageFamilyName, run.cluster);
}
