// `doctor --workload=FILE` and `--namespace=NS` end to end: the real bin/ against the emulator (GKE, each cluster's
// Kubernetes API with its pods) and a real registry (the rig's docker-registry, images pushed with skopeo) that
// serves the tags the image's record holds — one of them moved since the "build". Every container and init
// container reference of Deployments, StatefulSets, DaemonSets, Jobs and Pods is judged against the record: an
// exact hit passes, a moved tag fails naming both digests, a reference not on the disk fails; Autopilot pods must
// carry the node selector, Standard ones need not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRecord, recordFor } from '../../src/builder/image-record.js';
import { startEmulator, type Emulator, type PodSeed } from '../emulator/index.js';
import { OciLayout, type Layer } from '../rig/oci.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig } from '../rig/rig.js';
import { doctor, has, pick, TOKEN, type Line } from './harness.js';

const P = 'test-project';
const OTHER = 'image-project';
const SELECTOR_KEY = 'cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-cache-1';
const XSELECTOR_KEY = 'cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-shared-cache';
const file = (path: string, text: string): Layer => ({ entries: [{ type: 'file', path, mode: 0o644, content: Buffer.from(text) }] });

describeRig('doctor: workloads against what the image holds', () => {
  let dir: string;
  let registry: Registry;
  let emu: Emulator;
  /** Digests as the registry serves them: `moving` before and after it moved. */
  const d: Record<'pinned' | 'init' | 'movingOld' | 'movingNew', string> = { pinned: '', init: '', movingOld: '', movingNew: '' };
  const ref = (tagOrDigest: string, repo = 'doctor/app') =>
    `${registry.host}/${repo}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
  const digestOf = async (repo: string, tag: string) => {
    const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return res.headers.get('docker-content-digest')!;
  };
  let workloads: string;
  let good: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-doctor-wl-'));
    registry = await startRegistry(join(dir, 'registry'));
    const before = new OciLayout(join(dir, 'before'));
    before.addImage('pinned', { layers: [file('app', 'pinned')] });
    before.addImage('moving', { layers: [file('app', 'moving, as built')] });
    before.addImage('1', { layers: [file('init', 'init')] });
    before.close();
    const after = new OciLayout(join(dir, 'after'));
    after.addImage('moving', { layers: [file('app', 'moving, pushed after the build')] });
    after.close();
    await registry.push(join(dir, 'before'), 'pinned', 'doctor/app');
    await registry.push(join(dir, 'before'), 'moving', 'doctor/app');
    await registry.push(join(dir, 'before'), '1', 'doctor/init');
    d.pinned = await digestOf('doctor/app', 'pinned');
    d.movingOld = await digestOf('doctor/app', 'moving');
    d.init = await digestOf('doctor/init', '1');
    // The build is done: the tag moves.
    await registry.push(join(dir, 'after'), 'moving', 'doctor/app');
    d.movingNew = await digestOf('doctor/app', 'moving');
    expect(d.movingNew).not.toBe(d.movingOld);

    const held = [ref('pinned'), ref('moving'), ref('1', 'doctor/init')];
    const record = describeRecord(
      recordFor(held, { [held[0]!]: d.pinned, [held[1]!]: d.movingOld, [held[2]!]: d.init }, 'linux/amd64', true, '0.1.0'),
    );
    emu = await startEmulator({
      acceptTokens: [TOKEN],
      projects: [P, OTHER],
      images: [
        { project: P, name: 'cache-1', description: record },
        { project: OTHER, name: 'shared-cache', description: record },
      ],
    });
    emu.projectApis.enable(P, 'containerfilesystem.googleapis.com');
    emu.serviceAccounts.emails.add('123456789012-compute@developer.gserviceaccount.com');
    const pods = (selector?: Record<string, string>): PodSeed[] => [
      {
        namespace: 'shop',
        name: 'web-7d9f-abcde',
        containers: [{ name: 'app', image: ref('pinned') }],
        initContainers: [{ name: 'init', image: ref('1', 'doctor/init') }],
        ...(selector ? { nodeSelector: selector } : {}),
      },
      {
        namespace: 'shop',
        name: 'worker-0',
        containers: [{ name: 'app', image: ref('moving') }],
        ...(selector ? { nodeSelector: selector } : {}),
      },
      { namespace: 'elsewhere', name: 'other', containers: [{ name: 'x', image: 'busybox' }] },
    ];
    await emu.gke.addCluster({
      name: 'std',
      location: 'us-central1-a',
      nodePools: [
        {
          name: 'cached',
          gcfs: true,
          secondaryBootDisks: [{ diskImage: `projects/${P}/global/images/cache-1`, mode: 'CONTAINER_IMAGE_CACHE' }],
        },
      ],
      kubernetes: { pods: pods() },
    });
    await emu.gke.addCluster({
      name: 'auto',
      location: 'europe-west4',
      autopilot: true,
      kubernetes: {
        allowlists: [{ name: 'all', patterns: ['projects/.*/global/images/.*'] }],
        pods: pods({ [SELECTOR_KEY]: `CONTAINER_IMAGE_CACHE.${P}` }),
      },
    });

    // Several documents: each kind with a pod template, containers and init containers.
    workloads = join(dir, 'workloads.yaml');
    writeFileSync(
      workloads,
      [
        `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "${ref('1', 'doctor/init')}"}]
      containers: [{name: app, image: "${ref('pinned')}"}]`,
        `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: app, image: "${ref('moving')}"}]`,
        `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  template:
    spec:
      containers: [{name: agent, image: "${ref('2.0', 'doctor/agent')}"}]`,
        `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      initContainers: [{name: wait, image: "${ref('latest', 'doctor/init')}"}]
      containers: [{name: migrate, image: "${ref(d.pinned)}"}]`,
        `apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  nodeSelector: {"${SELECTOR_KEY}": "CONTAINER_IMAGE_CACHE.${P}"}
  containers: [{name: solo, image: "${ref('pinned')}"}]`,
        `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}`,
      ].join('\n---\n'),
    );
    good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "${ref(d.init, 'doctor/init')}"}]
      containers: [{name: app, image: "${ref('pinned')}"}]
`,
    );
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const STD = `--cluster=projects/${P}/locations/us-central1-a/clusters/std`;
  const AUTO = `--cluster=projects/${P}/locations/europe-west4/clusters/auto`;
  const IMG = `--image=projects/${P}/global/images/cache-1`;
  const workloadLines = (lines: Line[]) => pick(lines, 'workload').map((l) => [l.status, l.seen]);

  it('Standard: every container and init container of every kind judged; a moved tag names both digests', async () => {
    const r = await doctor(emu, [STD, '--node-pool=cached', IMG, `--workload=${workloads}`]);
    expect(r.stderr).toBe('');
    const w = `${workloads}:`;
    expect(workloadLines(r.lines)).toEqual([
      ['pass', `${w} Deployment/web init container init: ${ref('1', 'doctor/init')} is on the disk, and the tag still points at ${d.init}`],
      ['pass', `${w} Deployment/web container app: ${ref('pinned')} is on the disk, and the tag still points at ${d.pinned}`],
      [
        'fail',
        `${w} StatefulSet/db container app: ${ref('moving')} moved since the build: the disk holds ${d.movingOld}, the tag now points at ${d.movingNew}: nodes pull the new one`,
      ],
      ['fail', `${w} DaemonSet/agent container agent: ${ref('2.0', 'doctor/agent')} is not on the disk: pulled or streamed, not cached`],
      [
        'fail',
        `${w} Job/migrate init container wait: ${ref('latest', 'doctor/init')} is not on the disk (it holds ${ref('1', 'doctor/init')}): pulled or streamed, not cached`,
      ],
      ['pass', `${w} Job/migrate container migrate: ${ref(d.pinned)} is on the disk (as ${ref('pinned')})`],
      ['pass', `${w} Pod/solo container solo: ${ref('pinned')} is on the disk, and the tag still points at ${d.pinned}`],
    ]);
    // The fix pins the digest the disk holds.
    expect(pick(r.lines, 'workload', 'StatefulSet/db')[0]!.fix).toBe(
      `kubectl set image statefulset/db app=${ref(d.movingOld)} --namespace=default`,
    );
    // Standard nodes carry the disk without a node selector.
    expect(pick(r.lines, 'node-selector')).toEqual([]);
    expect(r.code).toBe(1);
  });

  it('Standard: every reference on the disk, exit 0', async () => {
    const r = await doctor(emu, [STD, '--node-pool=cached', IMG, `--workload=${good}`]);
    expect(workloadLines(r.lines).map(([s]) => s)).toEqual(['pass', 'pass']);
    expect(r.lines.filter((l) => l.status !== 'pass')).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('Autopilot: a pod spec without the node selector fails with the patch that adds it', async () => {
    const r = await doctor(emu, [AUTO, IMG, `--workload=${good}`, `--workload=${workloads}`]);
    const sel = pick(r.lines, 'node-selector');
    expect(sel.map((l) => [l.status, l.seen.split(' ').slice(0, 2).join(' ')])).toEqual([
      ['fail', `${good}: Deployment/web`],
      ['fail', `${workloads}: Deployment/web`],
      ['fail', `${workloads}: StatefulSet/db`],
      ['fail', `${workloads}: DaemonSet/agent`],
      ['fail', `${workloads}: Job/migrate`],
      ['pass', `${workloads}: Pod/solo`],
    ]);
    expect(sel[0]!.seen).toContain(`lacks the node selector ${SELECTOR_KEY}: CONTAINER_IMAGE_CACHE.${P}`);
    expect(sel[1]!.fix).toBe(
      `kubectl patch deployment web --namespace=shop --type=merge '--patch={"spec":{"template":{"spec":{"nodeSelector":{"${SELECTOR_KEY}":"CONTAINER_IMAGE_CACHE.${P}"}}}}}'`,
    );
    expect(r.code).toBe(1);
  });

  it('Autopilot, image in another project: the selector names that project', async () => {
    const r = await doctor(emu, [AUTO, `--image=projects/${OTHER}/global/images/shared-cache`, `--workload=${good}`]);
    expect(pick(r.lines, 'node-selector')[0]).toMatchObject({
      status: 'fail',
      seen: has(`${XSELECTOR_KEY}: CONTAINER_IMAGE_CACHE.${OTHER}`),
    });
    expect(workloadLines(r.lines).map(([s]) => s)).toEqual(['pass', 'pass']);
  });

  it('--namespace: the live pods of that namespace only; Standard', async () => {
    const r = await doctor(emu, [STD, '--node-pool=cached', IMG, '--namespace=shop']);
    expect(workloadLines(r.lines)).toEqual([
      [
        'pass',
        `pod shop/web-7d9f-abcde init container init: ${ref('1', 'doctor/init')} is on the disk, and the tag still points at ${d.init}`,
      ],
      ['pass', `pod shop/web-7d9f-abcde container app: ${ref('pinned')} is on the disk, and the tag still points at ${d.pinned}`],
      [
        'fail',
        `pod shop/worker-0 container app: ${ref('moving')} moved since the build: the disk holds ${d.movingOld}, the tag now points at ${d.movingNew}: nodes pull the new one (pin ${ref(d.movingOld)}, or rebuild the image)`,
      ],
    ]);
    expect(r.code).toBe(1);
  });

  it('--namespace on Autopilot: pods that carry the selector pass it', async () => {
    const r = await doctor(emu, [AUTO, IMG, '--namespace=shop']);
    expect(pick(r.lines, 'node-selector').map((l) => [l.status, l.seen])).toEqual([
      ['pass', 'pod shop/web-7d9f-abcde asks for nodes with the disk'],
      ['pass', 'pod shop/worker-0 asks for nodes with the disk'],
    ]);
  });

  it('--namespace: an empty namespace warns; pods the caller may not list cannot be confirmed', async () => {
    let r = await doctor(emu, [STD, '--node-pool=cached', IMG, '--namespace=empty']);
    expect(workloadLines(r.lines)).toEqual([['warn', 'no pods in namespace empty']]);
    expect(r.code).toBe(0);
    const c = emu.gke.clusters.get(`projects/${P}/locations/us-central1-a/clusters/std`)!;
    c.kube.forbidden.add('pods');
    try {
      r = await doctor(emu, [STD, '--node-pool=cached', IMG, '--namespace=shop']);
      expect(pick(r.lines, 'workload')).toEqual([expect.objectContaining({ status: 'unknown', seen: has('HTTP 403') })]);
      expect(r.code).toBe(0);
    } finally {
      c.kube.forbidden.delete('pods');
    }
  });

  it('a tag on the disk that the registry no longer serves cannot be confirmed; a file that is not YAML fails', async () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: Pod\nspec: [unclosed\n');
    const gone = join(dir, 'gone.yaml');
    writeFileSync(gone, `kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${ref('pinned')}"}]\n`);
    await fetch(`http://${registry.host}/v2/doctor/app/manifests/${d.pinned}`, { method: 'DELETE' });
    const r = await doctor(emu, [STD, '--node-pool=cached', IMG, `--workload=${gone}`, `--workload=${broken}`]);
    expect(pick(r.lines, 'workload').map((l) => [l.status, l.seen.replace(/\(.*\)/, '(…)')])).toEqual([
      ['fail', `${broken}: not valid YAML (…)`],
      [
        'unknown',
        `${gone}: Pod/p container c: ${ref('pinned')} is on the disk as ${d.pinned}, but its digest now could not be resolved from this machine`,
      ],
    ]);
    expect(r.code).toBe(1);
  });
});
