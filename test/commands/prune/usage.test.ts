// How prune (and doctor) read an image reference of a node pool or ComputeClass, which allowlist patterns pin an image, and what
// findUses makes of references it cannot place (a project number, a form it does not know).
import { describe, expect, it } from 'vitest';
import type { ClusterInfo, NodePoolInfo } from '../../../src/gcp/gke.js';
import { exactImageOfPattern, findUses, type UsageSources } from '../../../src/commands/prune/usage.js';
import { imageOf, imagePathOf } from '../../../src/gcp/image-ref.js';

describe('imageOf', () => {
  it.each([
    ['projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['https://www.googleapis.com/compute/v1/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['https://compute.googleapis.com/compute/v1/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['https://compute.googleapis.com/compute/beta/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['//compute.googleapis.com/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['compute.googleapis.com/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['www.googleapis.com/compute/v1/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['projects/123456789012/global/images/cache-1', { project: '123456789012', name: 'cache-1' }],
    ['global/images/cache-1', { project: 'home', name: 'cache-1' }],
    ['cache-1', { project: 'home', name: 'cache-1' }],
    ['projects/p/global/images/family/cache', { project: 'p', family: 'cache' }],
  ])('%s', (ref, want) => expect(imageOf(ref, 'home')).toEqual(want));

  it.each(['', 'projects/p/zones/z/disks/d', 'Cache', 'projects/p/global/images/', 'compute.googleapis.com/cache-1'])(
    'no image in %j',
    (ref) => expect(imageOf(ref, 'home')).toBeUndefined(),
  );
});

describe('imagePathOf (doctor: does a pool mount the image?)', () => {
  it.each([
    ['//compute.googleapis.com/projects/p/global/images/cache-1', 'projects/p/global/images/cache-1'],
    ['https://www.googleapis.com/compute/v1/projects/p/global/images/cache-1', 'projects/p/global/images/cache-1'],
    ['global/images/cache-1', 'projects/home/global/images/cache-1'],
    // A family names no one image; an unknown form stays as given: neither equals an image's path.
    ['projects/p/global/images/family/cache', 'projects/p/global/images/family/cache'],
    ['projects/p/zones/z/disks/d', 'projects/p/zones/z/disks/d'],
  ])('%s', (ref, want) => expect(imagePathOf(ref, 'home')).toBe(want));
});

describe('exactImageOfPattern', () => {
  it('a pattern that can match one image only pins it (anchors allowed)', () => {
    expect(exactImageOfPattern('projects/my-project/global/images/cache-1')).toEqual({ project: 'my-project', name: 'cache-1' });
    expect(exactImageOfPattern('^projects/my-project/global/images/cache-1$')).toEqual({ project: 'my-project', name: 'cache-1' });
    // By project number: findUses tells whether it is the image project.
    expect(exactImageOfPattern('projects/123456789012/global/images/cache-1')).toEqual({ project: '123456789012', name: 'cache-1' });
  });

  it.each([
    'projects/p/global/images/.*',
    'projects/p/global/images/cache-[0-9]+',
    'projects/p/global/images/cache-1.*',
    'projects/.*/global/images/x',
    'projects/p/global/images/cache-1|x',
  ])('a wildcard pins nothing: %s', (pattern) => expect(exactImageOfPattern(pattern)).toBeUndefined());
});

describe('findUses', () => {
  const cluster: ClusterInfo = {
    project: 'p',
    location: 'us-central1',
    name: 'c',
    path: 'projects/p/locations/us-central1/clusters/c',
    autopilot: false,
    nodePools: [],
    autoprovisioning: { enabled: false },
    defaultGcfsEnabled: false,
  };
  const pool = (name: string, diskImage: string): NodePoolInfo => ({
    name,
    gcfsEnabled: false,
    autoprovisioned: false,
    secondaryBootDisks: [{ diskImage }],
  });
  /** One cluster whose pools name these images; `number` is what Resource Manager says of project p. */
  function sources(images: string[], number: () => Promise<string>, kubeError?: Error) {
    const asked: string[] = [];
    const s: UsageSources = {
      gke: {
        listClusters: () => Promise.resolve([cluster]),
        listNodePools: () => Promise.resolve(images.map((ref, i) => pool(`pool-${i}`, ref))),
      },
      kube: () =>
        Promise.resolve({
          listAllowlists: () => Promise.resolve(undefined),
          listComputeClasses: () => (kubeError ? Promise.reject(kubeError) : Promise.resolve([])),
        }),
      projectReads: {
        projectNumber: (project) => {
          asked.push(project);
          return number();
        },
      },
    };
    return { s, asked };
  }
  const run = (s: UsageSources, kubernetesRequired = false) =>
    findUses(s, { project: 'p', family: 'cache' }, ['p'], new AbortController().signal, { kubernetesRequired });
  const by = (i: number) => `${cluster.path}/nodePools/pool-${i}`;

  it('reads the resource-name and scheme-less forms, and asks for no project number when none is named', async () => {
    const { s, asked } = sources(
      ['//compute.googleapis.com/projects/p/global/images/a', 'compute.googleapis.com/projects/p/global/images/b'],
      () => Promise.resolve('1'),
    );
    const usage = await run(s);
    expect(usage.uses).toEqual([
      { image: 'a', by: by(0) },
      { image: 'b', by: by(1) },
    ]);
    expect(usage.unreadable).toEqual([]);
    expect(asked).toEqual([]);
  });

  it("a reference by project number is the project's when its number says so, another project's otherwise", async () => {
    const refs = ['projects/123456789012/global/images/a', 'projects/999/global/images/b'];
    const { s, asked } = sources(refs, () => Promise.resolve('123456789012'));
    const usage = await run(s);
    expect(usage.uses).toEqual([{ image: 'a', by: by(0) }]);
    expect(usage.unreadable).toEqual([]);
    expect(asked).toEqual(['p']);
  });

  it('a reference by project number whose project cannot be told, or one not understood, is unreadable', async () => {
    const refs = ['projects/123456789012/global/images/a', 'projects/p/global/images/Bad_Name', 'images/a'];
    const { s } = sources(refs, () => Promise.reject(new Error('403 The caller does not have permission')));
    const usage = await run(s);
    expect(usage.uses).toEqual([]);
    expect(usage.unreadable).toEqual([
      `the image reference "projects/p/global/images/Bad_Name" of ${by(1)} (not a form prune understands)`,
      `the image reference "images/a" of ${by(2)} (not a form prune understands)`,
      `the image reference "projects/123456789012/global/images/a" of ${by(0)} (it names project 123456789012 by number, and the number of project p could not be read: 403 The caller does not have permission)`,
    ]);
  });

  it('a Kubernetes API that cannot be read is a note, and with --delete (kubernetesRequired) unreadable', async () => {
    const { s } = sources([], () => Promise.resolve('1'), new Error('connect ECONNREFUSED 10.0.0.2:443'));
    const plain = await run(s);
    expect(plain.unreadable).toEqual([]);
    expect(plain.notes).toEqual([expect.stringContaining(`could not read the Kubernetes API of ${cluster.path} (connect ECONNREFUSED`)]);
    const strict = await run(s, true);
    expect(strict.notes).toEqual([]);
    expect(strict.unreadable).toEqual([
      `the Kubernetes API of ${cluster.path} (connect ECONNREFUSED 10.0.0.2:443), where a ComputeClass or GCPResourceAllowlist may name an image`,
    ]);
  });
});
