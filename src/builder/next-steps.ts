// The next step after a build, ready to paste: a node pool that mounts the image as a secondary boot disk in
// CONTAINER_IMAGE_CACHE mode (image streaming is required), the same in Terraform, and for Autopilot the
// allowlist that lets workloads use images of this project plus the nodeSelector that puts a pod on nodes that
// have the disk (GKE labels such nodes, and Autopilot pods ask for them by that label); and the `prune` command that
// keeps the image's family from growing without end.
import { gkeNodeLabel, type ClusterRef } from '../config/rules.js';
import { shellQuote } from '../io/shell-quote.js';

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

/** `cluster`: the build's --cluster, which the commands then name instead of placeholders. */
export function nextSteps(project: string, image: string, family: string, cluster?: ClusterRef): NextSteps {
  const gcloud = [
    'gcloud container node-pools create NODE_POOL \\',
    cluster
      ? `  ${shellQuote(`--cluster=${cluster.name}`)} ${shellQuote(`--location=${cluster.location}`)} \\`
      : '  --cluster=CLUSTER --location=LOCATION \\',
    `  ${shellQuote(`--project=${cluster?.project ?? project}`)} \\`,
    '  --enable-image-streaming \\',
    `  ${shellQuote(`--secondary-boot-disk=disk-image=projects/${project}/global/images/${image},mode=CONTAINER_IMAGE_CACHE`)}`,
  ].join('\n');
  const doctor = [
    'gke-disk-image-builder doctor \\',
    `  ${cluster ? shellQuote(`--cluster=${cluster.path}`) : '--cluster=projects/CLUSTER_PROJECT/locations/LOCATION/clusters/CLUSTER'} \\`,
    `  --node-pool=NODE_POOL --image=projects/${project}/global/images/${image}`,
  ].join('\n');
  const terraform = [
    'resource "google_container_node_pool" "cached" {',
    '  # name, cluster, location, node_count, ...',
    '  node_config {',
    '    gcfs_config {',
    '      enabled = true',
    '    }',
    '    secondary_boot_disks {',
    `      disk_image = "projects/${project}/global/images/${image}"`,
    '      mode       = "CONTAINER_IMAGE_CACHE"',
    '    }',
    '  }',
    '}',
  ].join('\n');
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
