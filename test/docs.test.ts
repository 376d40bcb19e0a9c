// The README documents every flag and the test command .ci/run runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS } from '../src/commands/build.js';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it.each(Object.keys(BUILD_FLAGS))('documents --%s', (name) => {
    expect(readme).toMatch(new RegExp(`\\| \`--${name}\``));
  });

  it('gives the build limit of --image-name and why', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `--image-name`'))!;
    expect(row).toContain('at most 39 characters for builds');
    expect(row).toContain('cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-');
  });

  it('says who needs roles/compute.imageUser on an image in another project, with the commands', () => {
    for (const member of ['CLUSTER_PROJECT_NUMBER-compute@developer.gserviceaccount.com', 'service-CLUSTER_PROJECT_NUMBER@container-engine-robot.iam.gserviceaccount.com']) {
      expect(readme).toContain(`gcloud compute images add-iam-policy-binding ml-cache-v1 --project=IMAGE_PROJECT \\\n  --member=serviceAccount:${member} \\\n  --role=roles/compute.imageUser`);
      expect(readme).toContain(`gcloud projects add-iam-policy-binding IMAGE_PROJECT \\\n  --member=serviceAccount:${member} \\\n  --role=roles/compute.imageUser`);
    }
  });

  it('gives the exact test command that .ci/run runs', () => {
    const ci = readFileSync('.ci/run', 'utf8').trim().split('\n').pop()!;
    expect(readme).toContain(`\`\`\`sh\n${ci}\n\`\`\``);
  });
});
