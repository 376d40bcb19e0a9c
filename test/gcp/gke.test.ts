// The shared GKE read layer (src/gcp/gke.ts) and the Kubernetes API reader (src/k8s/api.ts) against the emulator:
// clusters across locations, node pools with their secondary boot disks and image streaming, and a cluster's
// allowlists, compute classes and pods read over HTTPS with the cluster's CA and the caller's token.
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gke } from '../../src/gcp/gke.js';
import { ApiError } from '../../src/gcp/errors.js';
import { KubeClient, KubeError } from '../../src/k8s/api.js';
import { startEmulator, type Emulator } from '../emulator/index.js';

const TOKEN = 'ya29.gke-test';
const tokens = { description: 'test', getToken: () => Promise.resolve({ token: TOKEN, expiresAt: Date.now() + 3_600_000 }) };
const retry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, attemptTimeoutMs: 5_000 };
const signal = new AbortController().signal;
const IMAGE = 'projects/test-project/global/images/cache-1';

let emu: Emulator;
let gke: Gke;

beforeAll(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN] });
  gke = new Gke(tokens, emu.storageHost, retry);
  await emu.gke.addCluster({
    name: 'std',
    location: 'us-central1-a',
    nodePools: [
      {
        name: 'cached',
        gcfs: true,
        secondaryBootDisks: [{ diskImage: IMAGE, mode: 'CONTAINER_IMAGE_CACHE' }],
        serviceAccount: 'nodes@test-project.iam.gserviceaccount.com',
      },
      { name: 'plain', imageType: 'UBUNTU_CONTAINERD', version: '1.29.1-gke.1000' },
    ],
    autoprovisioning: { enabled: true, imageType: 'COS_CONTAINERD' },
    kubernetes: {
      computeClasses: [
        { name: 'cached', secondaryBootDisks: [{ diskImageName: 'cache-1', project: 'test-project', mode: 'CONTAINER_IMAGE_CACHE' }] },
      ],
      pods: [
        {
          name: 'web',
          containers: [{ name: 'nginx', image: 'nginx:1.27' }],
          imageIds: { nginx: 'docker.io/library/nginx@sha256:' + 'a'.repeat(64) },
        },
        { name: 'other', namespace: 'kube-system', containers: [{ name: 'x', image: 'x:1' }] },
      ],
    },
  });
  await emu.gke.addCluster({
    name: 'auto',
    autopilot: true,
    kubernetes: { allowlists: [{ name: 'gke-secondary-boot-disk-allowlist', patterns: ['projects/test-project/global/images/.*'] }] },
  });
  await emu.gke.addCluster({ project: 'other-project', name: 'elsewhere' });
});

afterAll(async () => {
  await emu?.close();
});

describe('GKE API (src/gcp/gke.ts)', () => {
  it('lists the clusters of a project in every location', async () => {
    const clusters = await gke.listClusters('test-project', signal);
    expect(clusters.map((c) => c.path).sort()).toEqual([
      'projects/test-project/locations/us-central1-a/clusters/std',
      'projects/test-project/locations/us-central1/clusters/auto',
    ]);
    expect(emu.requests.find((r) => r.call === 'container.projects.locations.clusters.list')?.path).toBe(
      '/v1/projects/test-project/locations/-/clusters',
    );
  });

  it('reads a cluster: versions, Autopilot, auto-provisioning defaults, endpoint and CA', async () => {
    const std = await gke.getCluster('projects/test-project/locations/us-central1-a/clusters/std', signal);
    expect(std).toMatchObject({
      autopilot: false,
      masterVersion: '1.31.1-gke.1146000',
      autoprovisioning: { enabled: true, imageType: 'COS_CONTAINERD' },
      defaultGcfsEnabled: false,
    });
    expect(std?.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(std?.caCertificate).toContain('-----BEGIN CERTIFICATE-----');
    const auto = await gke.getCluster('projects/test-project/locations/us-central1/clusters/auto', signal);
    expect(auto).toMatchObject({ autopilot: true, defaultGcfsEnabled: true, autoprovisioning: { enabled: true } });
  });

  it('a missing cluster is undefined; another failure is an ApiError', async () => {
    expect(await gke.getCluster('projects/test-project/locations/us-central1/clusters/nope', signal)).toBeUndefined();
    emu.faults.add({ match: { call: 'container.projects.locations.clusters.get' }, times: 2, action: { status: 403 } });
    await expect(gke.getCluster('projects/test-project/locations/us-central1/clusters/auto', signal)).rejects.toBeInstanceOf(ApiError);
  });

  it('lists node pools with image type, version, service account, image streaming and secondary boot disks', async () => {
    const pools = await gke.listNodePools('projects/test-project/locations/us-central1-a/clusters/std', signal);
    expect(pools).toEqual([
      {
        name: 'cached',
        version: '1.31.1-gke.1146000',
        imageType: 'COS_CONTAINERD',
        serviceAccount: 'nodes@test-project.iam.gserviceaccount.com',
        gcfsEnabled: true,
        secondaryBootDisks: [{ diskImage: IMAGE, mode: 'CONTAINER_IMAGE_CACHE' }],
        autoprovisioned: false,
        status: 'RUNNING',
      },
      {
        name: 'plain',
        version: '1.29.1-gke.1000',
        imageType: 'UBUNTU_CONTAINERD',
        serviceAccount: 'default',
        gcfsEnabled: false,
        secondaryBootDisks: [],
        autoprovisioned: false,
        status: 'RUNNING',
      },
    ]);
  });
});

describe('Kubernetes API (src/k8s/api.ts)', () => {
  async function kubeOf(name: string, token = TOKEN): Promise<KubeClient> {
    const c = (await gke.listClusters('test-project', signal)).find((x) => x.name === name)!;
    return new KubeClient({ endpoint: c.endpoint!, caCertificate: c.caCertificate!, token: () => Promise.resolve(token) });
  }

  it('reads allowlists over HTTPS with the cluster CA and the caller token', async () => {
    const kube = await kubeOf('auto');
    expect(await kube.listAllowlists(signal)).toEqual([
      { name: 'gke-secondary-boot-disk-allowlist', allowedResourcePatterns: ['projects/test-project/global/images/.*'] },
    ]);
    const r = [...emu.requests].reverse().find((x) => x.call === 'k8s.gcpresourceallowlists.list');
    expect(r?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('a cluster that does not serve the allowlist type answers undefined, not an error', async () => {
    const c = await emu.gke.addCluster({ name: 'bare' });
    const kube = new KubeClient({ endpoint: c.endpoint, caCertificate: c.caCertificate, token: () => Promise.resolve(TOKEN) });
    expect(await kube.listAllowlists(signal)).toBeUndefined();
  });

  it('reads compute classes with their secondary boot disks, and pods of one namespace', async () => {
    const kube = await kubeOf('std');
    expect(await kube.listComputeClasses(signal)).toEqual([
      {
        name: 'cached',
        autoCreation: true,
        secondaryBootDisks: [{ diskImageName: 'cache-1', project: 'test-project', mode: 'CONTAINER_IMAGE_CACHE' }],
      },
    ]);
    const pods = await kube.listPods('default', signal);
    expect(pods).toEqual([
      {
        namespace: 'default',
        name: 'web',
        nodeSelector: {},
        containers: [{ name: 'nginx', image: 'nginx:1.27' }],
        initContainers: [],
        imageIds: { nginx: 'docker.io/library/nginx@sha256:' + 'a'.repeat(64) },
      },
    ]);
  });

  it('refuses an unknown token (401) and a server whose certificate the CA did not sign', async () => {
    await expect((await kubeOf('std', 'ya29.unknown')).listPods('default', signal)).rejects.toMatchObject({
      status: 401,
      reason: 'Unauthorized',
    });
    const c = (await gke.listClusters('test-project', signal)).find((x) => x.name === 'std')!;
    // A public CA: it signed nothing the emulator serves.
    const wrongCa = new KubeClient({ endpoint: c.endpoint!, caCertificate: rootCertificates[0]!, token: () => Promise.resolve(TOKEN) });
    const err = await wrongCa.listPods('default', signal).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(KubeError);
    expect((err as { code?: string }).code).toMatch(/CERT|SELF_SIGNED/);
  });

  it('a forbidden list is a KubeError 403', async () => {
    const c = emu.gke.clusters.get('projects/test-project/locations/us-central1-a/clusters/std')!;
    c.kube.forbidden.add('pods');
    try {
      await expect((await kubeOf('std')).listPods('default', signal)).rejects.toMatchObject({ status: 403, reason: 'Forbidden' });
    } finally {
      c.kube.forbidden.delete('pods');
    }
  });
});
