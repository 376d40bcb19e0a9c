/**
 * Buckets: get and iam/testPermissions, plus the permission checks the object calls make.
 * Each bucket grants the caller `'all'` permissions or an explicit list (e.g. only
 * `storage.objects.create`), so a preflight check and the failures it predicts can be tested.
 */
import { ApiError } from '../errors.js';
import type { Router } from '../router.js';
import type { Bucket, EmulatorState } from '../state.js';
import { timestamp } from '../compute/urls.js';

const CALLER = 'emulator-caller@test-project.iam.gserviceaccount.com';

export function requireBucket(state: EmulatorState, name: string): Bucket {
  const bucket = state.buckets.get(name);
  if (!bucket) throw new ApiError(404, 'notFound', 'The specified bucket does not exist.');
  return bucket;
}

export const hasPermission = (bucket: Bucket, permission: string): boolean =>
  bucket.permissions === 'all' || bucket.permissions.includes(permission);

/** 403 in GCS's words unless the caller holds `permission` on the bucket. */
export function requirePermission(bucket: Bucket, permission: string, object?: string): void {
  if (hasPermission(bucket, permission)) return;
  const what = object === undefined ? 'bucket' : 'object';
  throw new ApiError(
    403,
    'forbidden',
    `${CALLER} does not have ${permission} access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`,
  );
}

export function registerBuckets(router: Router, state: EmulatorState): void {
  router.add('GET', '/storage/v1/b/:bucket', 'storage.buckets.get', ({ params }) => {
    const bucket = requireBucket(state, params['bucket']!);
    requirePermission(bucket, 'storage.buckets.get');
    return {
      json: {
        kind: 'storage#bucket',
        id: bucket.name,
        name: bucket.name,
        selfLink: `https://www.googleapis.com/storage/v1/b/${bucket.name}`,
        projectNumber: '123456789012',
        metageneration: '1',
        location: bucket.location,
        locationType: 'multi-region',
        storageClass: 'STANDARD',
        etag: 'CAE=',
        timeCreated: timestamp(bucket.createdAt),
        updated: timestamp(bucket.createdAt),
        iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
      },
    };
  });

  router.add('GET', '/storage/v1/b/:bucket/iam/testPermissions', 'storage.buckets.testIamPermissions', ({ params, query }) => {
    const bucket = requireBucket(state, params['bucket']!);
    const asked = query.getAll('permissions');
    if (asked.length === 0) throw new ApiError(400, 'required', 'Required parameter: permissions');
    const granted = asked.filter((p) => hasPermission(bucket, p));
    return { json: { kind: 'storage#testIamPermissionsResponse', ...(granted.length > 0 ? { permissions: granted } : {}) } };
  });
}
