// build --local --cluster through the real bin/: doctor's cluster-side checks run before anything is done on this
// machine (a failure there runs no agent, uploads nothing, creates no image), and the image-side checks once the
// image exists (a failure there is exit 1 with the image kept), as for a build on a VM. The agent runs for real on a
// loop-device disk; the emulator plays Compute, Cloud Storage, GKE and the cluster's Kubernetes API.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { emulatorEnv } from '../helpers/emulator-env.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { LOCAL_ARGS } from '../integration/harness.js';
import { describeRig, startRig, type Rig } from '../rig/rig.js';

const TOKEN = 'ya29.local-cluster-token-0123456789';
const P = 'test-project';
const CLUSTER = `projects/${P}/locations/us-central1-a/clusters/std`;

describeRig('build --local --cluster, through bin/', () => {
  let rig: Rig;
  let emu: Emulator;
  let dir: string;
  beforeAll(async () => {
    rig = await startRig('local-cluster');
    dir = mkdtempSync(join(tmpdir(), 'gdib-loc-cluster-'));
  });
  afterAll(async () => {
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    emu = await startEmulator({ acceptTokens: [TOKEN], projects: [P], buckets: [{ name: 'test-bucket' }] });
    emu.projectApis.enable(P, 'containerfilesystem.googleapis.com');
    // The nodes' service account (the cluster's default): checked by doctor, though no VM of ours uses it.
    emu.serviceAccounts.emails.add('123456789012-compute@developer.gserviceaccount.com');
  });
  afterEach(() => emu.close());

  const build = (image: string) =>
    spawnCli(
      [
        'build',
        '--local',
        ...LOCAL_ARGS,
        `--image-name=${image}`,
        '--disk-size-gb=10',
        `--container-image=${rig.ref('app')}`,
        `--cluster=${CLUSTER}`,
      ],
      { ...emulatorEnv(emu, TOKEN), GDIB_HOSTS_DIR: rig.hostsDir },
    ).done;

  it('a cluster check failing: exit 1 before the agent runs, nothing uploaded or created', { timeout: 180_000 }, async () => {
    await emu.gke.addCluster({ name: 'std', location: 'us-central1-a' });
    emu.projectApis.enabled.get(P)!.delete('containerfilesystem.googleapis.com');
    const r = await build('local-c1');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`cluster ${CLUSTER} (--cluster): container-file-system-api: containerfilesystem.googleapis.com is disabled`);
    expect(r.stderr).not.toContain('gdib: state=');
    expect(emu.requests.filter((q) => q.call === 'images.insert' || q.call.startsWith('storage.objects.insert'))).toEqual([]);
    expect(emu.leftovers().images).toEqual([]);
  });

  it('an image-side check failing once the image exists: exit 1, the image kept', { timeout: 180_000 }, async () => {
    const image = `projects/${P}/global/images/local-c2`;
    // A pool made beforehand for the image, but without CONTAINER_IMAGE_CACHE: the disk would not be a cache.
    await emu.gke.addCluster({
      name: 'std',
      location: 'us-central1-a',
      nodePools: [{ name: 'waiting', gcfs: true, secondaryBootDisks: [{ diskImage: image }] }],
    });
    const r = await build('local-c2');
    expect(r.stderr).toContain('gdib: state=succeeded');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`error: the image ${image} exists, but cluster ${CLUSTER} cannot use it yet`);
    expect(r.stderr).toContain(`pool waiting mounts ${image} in MODE_UNSPECIFIED mode, not CONTAINER_IMAGE_CACHE`);
    expect(r.stderr).toContain(`The image was created and is kept (it was not deleted): ${image}`);
    expect(emu.leftovers().images).toEqual([`${P}/local-c2`]);
    // Both phases read the cluster.
    expect(emu.requests.filter((q) => q.call === 'container.projects.locations.clusters.get')).toHaveLength(2);
  });
});
