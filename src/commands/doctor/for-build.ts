// What `build --cluster` runs (src/builder/steps/cluster-checks.ts; docs/architecture.md, Doctor): doctor's own
// checks, over the build's cloud, for an image of the build's project, one phase at a time.
import type { ClusterChecks } from '../../builder/steps/cluster-checks.js';
import type { ClusterRef } from '../../config/rules.js';
import type { DiskKind } from '../../config/types.js';
import { runChecks, type DoctorCloud } from './checks.js';

export function clusterChecksFor(cloud: DoctorCloud, cluster: ClusterRef, project: string, diskKind: DiskKind): ClusterChecks {
  return async (name, phase, signal) =>
    (
      await runChecks(
        cloud,
        { cluster, image: { project, name, path: `projects/${project}/global/images/${name}` }, diskKind },
        signal,
        phase,
      )
    ).lines;
}
