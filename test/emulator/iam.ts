/**
 * IAM: just `projects.serviceAccounts.get`, which preflight uses to check that the VM's service account exists.
 * Service accounts are per project; `projects/-/serviceAccounts/EMAIL` finds one in any project, as in IAM.
 */
import { ApiError } from './errors.js';
import type { Router } from './router.js';

export class ServiceAccounts {
  readonly emails = new Set<string>(['123456789-compute@developer.gserviceaccount.com', 'builder@test-project.iam.gserviceaccount.com']);
  /** Set to make every lookup answer 403, as for a caller without iam.serviceAccounts.get. */
  denied = false;
}

export function registerIam(router: Router, accounts: ServiceAccounts): void {
  router.add('GET', '/v1/projects/:project/serviceAccounts/:email', 'iam.serviceAccounts.get', ({ params }) => {
    const email = decodeURIComponent(params['email']!);
    if (accounts.denied)
      throw new ApiError(403, 'forbidden', `Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist).`);
    if (!accounts.emails.has(email)) throw new ApiError(404, 'notFound', `Unknown service account`);
    const project = email.split('@')[1]!.split('.')[0]!;
    return { json: { name: `projects/${project}/serviceAccounts/${email}`, email, projectId: project, uniqueId: '1234567890' } };
  });
}
