import { describe, expect, it } from 'vitest';
import { nextSteps } from '../../src/builder/next-steps.js';
import { parseDoctorPlan } from '../../src/commands/doctor/plan.js';

describe('nextSteps', () => {
  it('gives Autopilot pods the nodeSelector of the label GKE puts on nodes that have the image', () => {
    const next = nextSteps('my-project', 'ml-cache-v1', 'ml-cache');
    expect(next.autopilotNodeSelector).toBe(
      [
        'nodeSelector:',
        '  cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-ml-cache-v1: CONTAINER_IMAGE_CACHE.my-project',
      ].join('\n'),
    );
  });

  it('gives a 39-character image (the longest a build takes) a valid Kubernetes label name', () => {
    const image = `i${'m'.repeat(38)}`;
    const line = nextSteps('my-project', image, 'ml-cache').autopilotNodeSelector.split('\n')[1]!;
    const [, prefix, name, value] = /^ {2}([^/]+)\/([^:]+): (.+)$/.exec(line)!;
    expect(prefix).toBe('cloud.google.com.node-restriction.kubernetes.io');
    expect(name).toBe(`gke-secondary-boot-disk-${image}`);
    expect(name!.length).toBe(63);
    // Kubernetes' rules for the name part and for the value of a label.
    expect(name).toMatch(/^[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/);
    expect(value).toMatch(/^[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/);
  });

  it("names the prune command for the image's family, as a dry run", () => {
    expect(nextSteps('my-project', 'ml-cache-v1', 'ml-cache').prune).toBe(
      'gke-disk-image-builder prune --project-name=my-project --image-family-name=ml-cache --dry-run',
    );
  });

  it('gives the doctor command for the new pool, which doctor accepts once the placeholders are filled in', () => {
    const line = nextSteps('my-project', 'ml-cache-v1', 'ml-cache')
      .doctor.replace(/\\\n\s*/g, '')
      .replace('CLUSTER_PROJECT', 'my-project')
      .replace('LOCATION', 'us-central1')
      .replace('clusters/CLUSTER', 'clusters/ml')
      .replace('NODE_POOL', 'cached');
    const [command, ...args] = line.split(/\s+/).slice(1);
    expect(command).toBe('doctor');
    const flags = Object.fromEntries(args.map((a) => a.slice(2).split('=') as [string, string]));
    expect(parseDoctorPlan({ flags }, {}, '/')).toMatchObject({
      cluster: { path: 'projects/my-project/locations/us-central1/clusters/ml' },
      nodePool: 'cached',
      image: { path: 'projects/my-project/global/images/ml-cache-v1' },
    });
  });

  it('with --cluster, the pool and doctor commands name that cluster (its project, not the image project)', () => {
    const cluster = {
      project: 'gke-project',
      location: 'europe-west4',
      name: 'ml',
      path: 'projects/gke-project/locations/europe-west4/clusters/ml',
    };
    const next = nextSteps('my-project', 'ml-cache-v1', 'ml-cache', cluster);
    expect(next.gcloud.split('\n').slice(0, 3)).toEqual([
      'gcloud container node-pools create NODE_POOL \\',
      '  --cluster=ml --location=europe-west4 \\',
      '  --project=gke-project \\',
    ]);
    expect(next.gcloud).toContain('disk-image=projects/my-project/global/images/ml-cache-v1,mode=CONTAINER_IMAGE_CACHE');
    expect(next.doctor).toContain(`--cluster=${cluster.path} \\`);
  });
});
