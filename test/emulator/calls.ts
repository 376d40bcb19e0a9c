/**
 * Stable names of the API calls the emulator serves, for fault matching and fault matrices.
 * Compute names follow the client library's `<collection>.<method>`; storage names are
 * prefixed `storage.`. The router refuses a route whose call is not listed here.
 */

export const OPERATION_CALLS = [
  'disks.insert',
  'disks.delete',
  'instances.insert',
  'instances.delete',
  'instances.detachDisk',
  'images.insert',
  'images.delete',
  'images.deprecate',
] as const;

export const COMPUTE_CALLS = [
  'projects.get',
  'zones.get',
  'machineTypes.get',
  'diskTypes.get',
  'networks.get',
  'subnetworks.get',
  'images.get',
  'images.getFromFamily',
  'images.list',
  'disks.get',
  'disks.list',
  'disks.aggregatedList',
  'instances.get',
  'instances.list',
  'instances.aggregatedList',
  'instances.getSerialPortOutput',
  'instances.getGuestAttributes',
  'zoneOperations.get',
  'zoneOperations.wait',
  'zoneOperations.list',
  'regionOperations.get',
  'regionOperations.wait',
  'globalOperations.get',
  'globalOperations.wait',
  ...OPERATION_CALLS,
] as const;

export const STORAGE_CALLS = [
  'storage.buckets.get',
  'storage.buckets.testIamPermissions',
  'storage.objects.insert',
  /** PUT of data to a resumable upload session (the session URI needs no token). */
  'storage.objects.uploadChunk',
  'storage.objects.get',
  'storage.objects.download',
  'storage.objects.list',
  'storage.objects.delete',
] as const;

export const IAM_CALLS = ['iam.serviceAccounts.get'] as const;

export const KMS_CALLS = ['cloudkms.cryptoKeys.get'] as const;

export const SECRET_MANAGER_CALLS = ['secretmanager.secrets.get', 'secretmanager.versions.access'] as const;

export const CONTAINER_CALLS = [
  'container.projects.locations.clusters.list',
  'container.projects.locations.clusters.get',
  'container.projects.locations.clusters.nodePools.list',
] as const;

export const PROJECT_API_CALLS = [
  'serviceusage.services.get',
  'cloudresourcemanager.projects.get',
  'cloudresourcemanager.projects.getIamPolicy',
  'logging.entries.list',
] as const;

/** Calls to a cluster's own Kubernetes API (kubernetes.ts), served on the cluster's endpoint, not the main port. */
export const KUBE_CALLS = ['k8s.gcpresourceallowlists.list', 'k8s.computeclasses.list', 'k8s.pods.list'] as const;

export const CALLS = [
  ...COMPUTE_CALLS,
  ...STORAGE_CALLS,
  ...IAM_CALLS,
  ...KMS_CALLS,
  ...SECRET_MANAGER_CALLS,
  ...CONTAINER_CALLS,
  ...KUBE_CALLS,
  ...PROJECT_API_CALLS,
  'oauth.token',
] as const;

export type CallName = (typeof CALLS)[number];

const known = new Set<string>(CALLS);
const operationCalls = new Set<string>(OPERATION_CALLS);

export const isCallName = (name: string): name is CallName => known.has(name);
export const returnsOperation = (name: string): boolean => operationCalls.has(name);
