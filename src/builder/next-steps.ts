// The next step after a build, ready to paste: a node pool that mounts the image as a secondary boot disk in
// CONTAINER_IMAGE_CACHE mode (image streaming is required), the same in Terraform, and for Autopilot the
// allowlist that lets workloads use images of this project.
export function nextSteps(project: string, image: string): { gcloud: string; terraform: string; autopilotAllowlist: string } {
  const gcloud = [
    'gcloud container node-pools create NODE_POOL \\',
    '  --cluster=CLUSTER --location=LOCATION \\',
    `  --project=${project} \\`,
    '  --enable-image-streaming \\',
    `  --secondary-boot-disk=disk-image=projects/${project}/global/images/${image},mode=CONTAINER_IMAGE_CACHE`,
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
  return { gcloud, terraform, autopilotAllowlist };
}
