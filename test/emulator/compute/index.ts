/**
 * The Compute Engine v1 surface, mounted under /compute/v1/.
 */
import type { Router } from '../router.js';
import { registerCatalog } from './catalog.js';
import type { ComputeDeps } from './context.js';
import { registerDisks } from './disks.js';
import { registerImages } from './images.js';
import { registerGuest } from './instance-guest.js';
import { registerInstances } from './instances.js';
import { registerOperations } from './operations-routes.js';

export type { ComputeDeps } from './context.js';

export function registerCompute(router: Router, deps: ComputeDeps): void {
  registerCatalog(router, deps);
  registerImages(router, deps);
  registerDisks(router, deps);
  registerInstances(router, deps);
  registerGuest(router, deps);
  registerOperations(router, deps);
}
