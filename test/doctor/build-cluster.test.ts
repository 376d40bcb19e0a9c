// `build --cluster` end to end: the real bin/ against the emulator (Compute, Cloud Storage, GKE and each cluster's
// Kubernetes API, Service Usage, Resource Manager). doctor's checks that do not need the image run in preflight — a
// failure there creates nothing — and the image's own once it exists — a failure there is exit 1 with the image kept.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { BASE_ARGS } from '../integration/harness.js';
import { emulatorEnv } from '../helpers/emulator-env.js';
import { TOKEN } from './harness.js';

const P = 'test-project';
const CLUSTER = `projects/${P}/locations/us-central1-a/clusters/std`;
const IMAGE = `projects/${P}/global/images/img-cluster`;
const ARGS = ['build', ...BASE_ARGS, '--container-image=registry.example/app:1', '--image-name=img-cluster', `--cluster=${CLUSTER}`];

let emu: Emulator;

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN], projects: [P], buckets: [{ name: 'test-bucket' }, { name: 'weights' }] });
  emu.serviceAccounts.emails.add('123456789012-compute@developer.gserviceaccount.com');
  emu.projectApis.enable(P, 'containerfilesystem.googleapis.com');
});

afterEach(async () => {
  await emu.close();
});

const build = (args: string[]) => spawnCli(args, emulatorEnv(emu, TOKEN)).done;

describe('build --cluster', () => {
  it('a cluster check failing in preflight: exit 1, each failure named with its fix, nothing created', async () => {
    await emu.gke.addCluster({ name: 'std', location: 'us-central1-a', version: '1.27.3-gke.100' });
    emu.projectApis.enabled.get(P)!.delete('containerfilesystem.googleapis.com');
    const r = await build(ARGS);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `cluster ${CLUSTER} (--cluster): container-file-system-api: containerfilesystem.googleapis.com is disabled in ${P} (fix: gcloud services enable containerfilesystem.googleapis.com --project=${P})`,
    );
    expect(r.stderr).toContain(
      `cluster ${CLUSTER} (--cluster): version: new node pools: COS_CONTAINERD 1.27.3-gke.100 is older than 1.30.1-gke.1329000`,
    );
    expect(emu.requests.filter((q) => /insert$/.test(q.call))).toEqual([]);
    expect(emu.leftovers()).toEqual({ disks: [], instances: [], images: [] });
  });

  it('an image-side check failing once the image exists: exit 1, the image kept, what to fix said', async () => {
    // A pool made beforehand for the image's name, but without CONTAINER_IMAGE_CACHE: the disk would not be a cache.
    await emu.gke.addCluster({
      name: 'std',
      location: 'us-central1-a',
      nodePools: [{ name: 'waiting', gcfs: true, secondaryBootDisks: [{ diskImage: IMAGE }] }],
    });
    const r = await build(ARGS);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: the image ${IMAGE} exists, but cluster ${CLUSTER} cannot use it yet`);
    expect(r.stderr).toContain(
      `secondary-boot-disk: pool waiting mounts ${IMAGE} in MODE_UNSPECIFIED mode, not CONTAINER_IMAGE_CACHE: the disk is not used as a cache`,
    );
    expect(r.stderr).toContain(`--secondary-boot-disk=disk-image=${IMAGE},mode=CONTAINER_IMAGE_CACHE`);
    expect(r.stderr).toContain(`The image was created and is kept (it was not deleted): ${IMAGE}`);
    expect(emu.leftovers()).toEqual({ disks: [], instances: [], images: [`${P}/img-cluster`] });
  });

  it('every check passing: exit 0; warnings printed; the next steps name the cluster', async () => {
    await emu.gke.addCluster({ name: 'std', location: 'us-central1-a', nodePools: [{ name: 'plain', gcfs: true }] });
    const r = await build(ARGS);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    // No pool mounts the image before it exists: the next step, said as a warning, not a failure.
    expect(r.stderr).toMatch(new RegExp(`warning.*cluster ${CLUSTER}: node-pool: no node pool mounts ${IMAGE} yet`));
    expect(r.stderr).toContain(`cluster ${CLUSTER}: `);
    expect(r.stderr).toContain(`--cluster=${CLUSTER} \\`);
    expect(r.stderr).toContain('--cluster=std --location=us-central1-a \\');
    expect(emu.leftovers()).toEqual({ disks: [], instances: [], images: [`${P}/img-cluster`] });
    // Both phases read the cluster.
    expect(emu.requests.filter((q) => q.call === 'container.projects.locations.clusters.get')).toHaveLength(2);
  });

  it('a data disk: the pool must mount it in no mode; one in CONTAINER_IMAGE_CACHE mode fails once the image exists', async () => {
    emu.putObject('weights', 'models/m1/w.bin', 'weights');
    const DATA = `projects/${P}/global/images/weights-v1`;
    await emu.gke.addCluster({
      name: 'std',
      location: 'us-central1-a',
      nodePools: [{ name: 'waiting', gcfs: true, secondaryBootDisks: [{ diskImage: DATA, mode: 'CONTAINER_IMAGE_CACHE' }] }],
    });
    const r = await build([
      'build',
      ...BASE_ARGS.filter((a) => a !== '--skip-image-check'),
      '--data-source=gs://weights/models/m1',
      '--image-name=weights-v1',
      `--cluster=${CLUSTER}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: the image ${DATA} exists, but cluster ${CLUSTER} cannot use it yet`);
    expect(r.stderr).toContain(`pool waiting mounts the data disk ${DATA} in CONTAINER_IMAGE_CACHE mode, not in no mode`);
    expect(r.stderr).toContain(`--secondary-boot-disk=disk-image=${DATA})`);
    expect(emu.leftovers()).toEqual({ disks: [], instances: [], images: [`${P}/weights-v1`] });
  });

  it.each([
    [
      ['verify', ...BASE_ARGS.filter((a) => a !== '--skip-image-check'), '--image-name=x', `--cluster=${CLUSTER}`],
      '--cluster does not apply to verify',
    ],
    [
      ['build', '--local', '--output=/tmp/never.tar.gz', '--container-image=registry.example/app:1', `--cluster=${CLUSTER}`],
      '--cluster: needs --image-name',
    ],
    [
      ['build', ...BASE_ARGS, '--image-name=x', '--container-image=a:1', '--cluster=clusters/x'],
      '--cluster: expected projects/PROJECT/locations/LOCATION/clusters/NAME',
    ],
  ])('%j: exit 2, one line naming the flag, no cloud call', async (args, message) => {
    const r = await build(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(emu.requests).toEqual([]);
  });
});
