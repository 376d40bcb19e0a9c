// The IAM permissions the tool uses (docs/architecture.md, Least privilege): for each API call it makes, the
// permissions Google requires of the caller (some depend on the request's body), and for each command the exact
// list. test/integration/permissions.test.ts runs the commands against the emulator and checks that every call
// they make maps to permissions listed here for that command, and that nothing listed goes unused. The README's
// custom role (`customRoleCommand`) is generated from these lists; test/docs.test.ts checks it is the same.

/** The commands (and run modes) whose caller needs permissions of its own. */
export const PERMISSION_SCOPES = ['build', 'build --local', 'verify', 'cleanup', 'prune', 'doctor'] as const;
export type PermissionScope = (typeof PERMISSION_SCOPES)[number];

/** Flags that add permissions to the run that takes them. */
export type PermissionFlag = '--registry-secret' | '--kms-key' | '--data-source' | '--hf-token-secret';

const has = (body: unknown, key: string): boolean => !!body && typeof body === 'object' && key in body;
const nonEmpty = (v: unknown): boolean => !!v && typeof v === 'object' && Object.keys(v).length > 0;
const field = (body: unknown, key: string): unknown =>
  body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;

/**
 * The permissions an API call needs, by the call's name (as the emulator names it: the client library's
 * `<collection>.<method>`, `storage.…`, `secretmanager.…`) and its request body. Unknown calls throw, so a new call
 * cannot go unmapped.
 */
export function permissionsOfCall(call: string, body?: unknown): string[] {
  switch (call) {
    case 'oauth.token':
    case 'storage.buckets.testIamPermissions': // answers any caller
    case 'storage.objects.uploadChunk': // the session URI is the credential
      return [];
    case 'disks.aggregatedList':
      return ['compute.disks.list'];
    case 'instances.aggregatedList':
      return ['compute.instances.list'];
    case 'zoneOperations.wait':
      return ['compute.zoneOperations.get'];
    case 'regionOperations.wait':
      return ['compute.regionOperations.get'];
    case 'globalOperations.wait':
      return ['compute.globalOperations.get'];
    case 'disks.insert':
      return [
        'compute.disks.create',
        ...(has(body, 'sourceImage') ? ['compute.images.useReadOnly'] : []),
        ...(nonEmpty(field(body, 'labels')) ? ['compute.disks.setLabels'] : []),
      ];
    case 'instances.insert': {
      const nic = (field(body, 'networkInterfaces') as unknown[] | undefined)?.[0];
      return [
        'compute.instances.create',
        // The boot disk is created from an image; the data disk is attached.
        'compute.disks.create',
        'compute.images.useReadOnly',
        'compute.disks.use',
        'compute.subnetworks.use',
        'compute.instances.setMetadata',
        ...(has(nic, 'accessConfigs') ? ['compute.subnetworks.useExternalIp'] : []),
        ...(nonEmpty(field(body, 'labels')) ? ['compute.instances.setLabels', 'compute.disks.setLabels'] : []),
        ...(has(body, 'serviceAccounts') ? ['compute.instances.setServiceAccount', 'iam.serviceAccounts.actAs'] : []),
        ...(has(body, 'tags') ? ['compute.instances.setTags'] : []),
      ];
    }
    case 'instances.detachDisk':
      return ['compute.instances.detachDisk'];
    case 'images.insert':
      return [
        'compute.images.create',
        // From the detached data disk, or (--local) imported from the uploaded archive, which GCE reads as the caller.
        ...(has(body, 'sourceDisk') ? ['compute.disks.useReadOnly'] : ['storage.objects.get']),
        ...(nonEmpty(field(body, 'labels')) ? ['compute.images.setLabels'] : []),
      ];
    case 'storage.objects.insert':
      // The serial log is rewritten as it grows: an insert over an existing object needs delete too.
      return ['storage.objects.create', 'storage.objects.delete'];
    case 'storage.objects.download':
      return ['storage.objects.get'];
    case 'container.projects.locations.clusters.list':
      return ['container.clusters.list'];
    case 'container.projects.locations.clusters.get':
    case 'container.projects.locations.clusters.nodePools.list':
      return ['container.clusters.get'];
    case 'cloudresourcemanager.projects.get':
      return ['resourcemanager.projects.get'];
    case 'cloudresourcemanager.projects.getIamPolicy':
      return ['resourcemanager.projects.getIamPolicy'];
    case 'logging.entries.list':
      return ['logging.logEntries.list'];
    case 'k8s.gcpresourceallowlists.list':
    case 'k8s.computeclasses.list':
      return ['container.thirdPartyObjects.list'];
    case 'k8s.pods.list':
      return ['container.pods.list'];
  }
  // The rest are named as their permission is: compute's `<collection>.<method>` under `compute.`, the others as is.
  const direct =
    /^(projects|zones|machineTypes|diskTypes|networks|subnetworks|images|disks|instances|zoneOperations|regionOperations|globalOperations)\.(get|list|delete|getFromFamily|deprecate|getSerialPortOutput|getGuestAttributes)$/;
  if (direct.test(call)) return [`compute.${call}`];
  if (
    /^(storage\.(buckets|objects)\.(get|list|delete)|iam\.serviceAccounts\.get|cloudkms\.cryptoKeys\.get|secretmanager\.(secrets\.get|versions\.access)|serviceusage\.services\.get)$/.test(
      call,
    )
  )
    return [call];
  throw new Error(`no permission is known for the API call ${call}: add it to src/gcp/permissions.ts`);
}

/** What each command's caller needs, whatever its flags (those of PERMISSIONS_OF_FLAGS added where given). */
export const PERMISSIONS: Readonly<Record<PermissionScope, readonly string[]>> = {
  build: [
    'compute.diskTypes.get',
    'compute.disks.create',
    'compute.disks.delete',
    'compute.disks.setLabels',
    'compute.disks.use',
    'compute.disks.useReadOnly',
    'compute.globalOperations.get',
    'compute.images.create',
    'compute.images.delete',
    'compute.images.deprecate',
    'compute.images.get',
    'compute.images.list',
    'compute.images.setLabels',
    'compute.images.useReadOnly',
    'compute.instances.create',
    'compute.instances.delete',
    'compute.instances.detachDisk',
    'compute.instances.get',
    'compute.instances.getGuestAttributes',
    'compute.instances.getSerialPortOutput',
    'compute.instances.setLabels',
    'compute.instances.setMetadata',
    'compute.instances.setServiceAccount',
    'compute.instances.setTags',
    'compute.machineTypes.get',
    'compute.networks.get',
    'compute.projects.get',
    'compute.subnetworks.use',
    'compute.subnetworks.useExternalIp',
    'compute.zoneOperations.get',
    'compute.zones.get',
    'iam.serviceAccounts.actAs',
    'iam.serviceAccounts.get',
    'storage.objects.create',
    'storage.objects.delete',
  ],
  'build --local': [
    'compute.globalOperations.get',
    'compute.images.create',
    'compute.images.delete',
    'compute.images.deprecate',
    'compute.images.get',
    'compute.images.setLabels',
    'compute.projects.get',
    'storage.objects.create',
    'storage.objects.delete',
    'storage.objects.get',
  ],
  verify: [
    'compute.diskTypes.get',
    'compute.disks.create',
    'compute.disks.delete',
    'compute.disks.setLabels',
    'compute.disks.use',
    'compute.images.get',
    'compute.images.useReadOnly',
    'compute.instances.create',
    'compute.instances.delete',
    'compute.instances.getGuestAttributes',
    'compute.instances.getSerialPortOutput',
    'compute.instances.setLabels',
    'compute.instances.setMetadata',
    'compute.machineTypes.get',
    'compute.networks.get',
    'compute.projects.get',
    'compute.subnetworks.use',
    'compute.subnetworks.useExternalIp',
    'compute.zoneOperations.get',
    'compute.zones.get',
    'storage.objects.create',
    'storage.objects.delete',
  ],
  cleanup: [
    'compute.disks.delete',
    'compute.disks.list',
    'compute.instances.delete',
    'compute.instances.list',
    'compute.zoneOperations.get',
  ],
  prune: [
    'compute.globalOperations.get',
    'compute.images.delete',
    'compute.images.deprecate',
    // Each image is read again just before it is deleted.
    'compute.images.get',
    'compute.images.list',
    'container.clusters.get',
    'container.clusters.list',
    'container.thirdPartyObjects.list',
    // The project's number, read only when a node pool or ComputeClass names a project by number.
    'resourcemanager.projects.get',
  ],
  doctor: [
    'compute.images.get',
    'container.clusters.get',
    'container.thirdPartyObjects.list',
    'iam.serviceAccounts.get',
    'logging.logEntries.list',
    'resourcemanager.projects.get',
    'resourcemanager.projects.getIamPolicy',
    'serviceusage.services.get',
  ],
};

/** What a flag adds, to the runs that take it. */
export const PERMISSIONS_OF_FLAGS: Readonly<Record<PermissionFlag, readonly string[]>> = {
  // Preflight reads each secret with the caller's token to check the credentials before the VM does.
  '--registry-secret': ['secretmanager.versions.access'],
  // Preflight reads the key (its location must fit the disk's); without the permission it is a warning.
  '--kms-key': ['cloudkms.cryptoKeys.get'],
  // Preflight lists each gs:// source with the caller's token (docs/architecture.md, Data disks): on those buckets
  // (roles/storage.objectViewer), not project-wide.
  '--data-source': ['storage.objects.get', 'storage.objects.list'],
  // Preflight reads the Hugging Face token to check a gated or private model before the VM does.
  '--hf-token-secret': ['secretmanager.versions.access'],
};

/**
 * The custom role's permissions, sorted: every command's, and --kms-key's read of the key. Not
 * `secretmanager.versions.access`: granted in a project-wide role it would read every secret of the project, so it
 * is granted on each --registry-secret instead (roles/secretmanager.secretAccessor, as the README says).
 */
export function rolePermissions(): string[] {
  return [...new Set([...Object.values(PERMISSIONS).flat(), ...PERMISSIONS_OF_FLAGS['--kms-key']])].sort();
}

/** The gcloud command that creates the least-privilege custom role (the README shows it). */
export function customRoleCommand(project = 'PROJECT_ID'): string {
  return [
    `gcloud iam roles create gkeDiskImageBuilder --project=${project} \\`,
    `  --title="gke-disk-image-builder" --stage=GA \\`,
    `  --permissions=${rolePermissions().join(',')}`,
  ].join('\n');
}
