/**
 * The Cloud Storage JSON API surface: /storage/v1/, /upload/storage/v1/, /download/storage/v1/.
 */
import type { Router } from '../router.js';
import { registerBuckets } from './buckets.js';
import { registerObjects, type ObjectDeps } from './objects.js';
import { registerUploads } from './uploads.js';

export function registerStorage(router: Router, deps: ObjectDeps): void {
  registerBuckets(router, deps.state);
  registerObjects(router, deps);
  registerUploads(router, deps);
}
