// `doctor` end to end: the real bin/ against the emulator (GKE, a cluster's Kubernetes API, Compute images, IAM,
// Service Usage, Resource Manager): each check's pass, warn and fail, Standard and Autopilot, an image in the
// cluster's project and in another one; exit codes 0 (nothing failed), 1 (a check failed), 2 (bad input).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRecord, recordFor } from '../../src/builder/image-record.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { doctor as run, has, pick, TOKEN } from './harness.js';

const P = 'test-project';
const OTHER = 'image-project';
const D1 = `sha256:${'1'.repeat(64)}`;
const RECORD = describeRecord(recordFor(['nginx:1.27'], { 'nginx:1.27': D1 }, 'linux/amd64', true, '0.1.0'));
const IMG = `projects/${P}/global/images/cache-1`;
/** A data disk's record (docs/architecture.md, Data disks): files, not container images. */
const DATA_RECORD = describeRecord({
  v: 1,
  tool: 'gke-disk-image-builder',
  kind: 'data',
  disk: 1,
  platform: 'data',
  checksums: true,
  count: 3,
  sum: 'f'.repeat(64),
  sources: { 'gs://models/llama/=llama': 'e'.repeat(64) },
});
const DIMG = `projects/${P}/global/images/weights-1`;
const XIMG = `projects/${OTHER}/global/images/shared-cache`;
const NUMBER = '123456789012';
const NODE_SA = `${NUMBER}-compute@developer.gserviceaccount.com`;
const AGENT = `service-${NUMBER}@container-engine-robot.iam.gserviceaccount.com`;
const CUSTOM_SA = 'nodes@test-project.iam.gserviceaccount.com';

let emu: Emulator;

const doctor = (args: string[]) => run(emu, args);

const cached = { diskImage: IMG, mode: 'CONTAINER_IMAGE_CACHE' };

beforeAll(async () => {
  emu = await startEmulator({
    acceptTokens: [TOKEN],
    projects: [P, OTHER],
    images: [
      { project: P, name: 'cache-1', description: RECORD },
      { project: P, name: 'foreign' },
      { project: P, name: 'pending', status: 'PENDING', description: RECORD },
      { project: P, name: 'a-name-that-is-longer-than-thirty-nine-c', description: RECORD },
      { project: P, name: 'old-one', description: RECORD },
      { project: P, name: 'gone-one', description: RECORD },
      { project: P, name: 'weights-1', description: DATA_RECORD },
      { project: OTHER, name: 'shared-cache', description: RECORD },
    ],
  });
  emu.state.images.get(`${P}/old-one`)!.deprecated = { state: 'DEPRECATED' };
  emu.state.images.get(`${P}/gone-one`)!.deprecated = { state: 'OBSOLETE' };
  emu.serviceAccounts.emails.add(NODE_SA);
  emu.serviceAccounts.emails.add(CUSTOM_SA);
  emu.projectApis.enable(P, 'containerfilesystem.googleapis.com');
  await emu.gke.addCluster({
    name: 'std',
    location: 'us-central1-a',
    nodePools: [
      { name: 'good', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'between', version: '1.29.4-gke.1043002', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'ancient', version: '1.27.3-gke.100', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'ubuntu-old', imageType: 'UBUNTU_CONTAINERD', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'ubuntu-new', imageType: 'UBUNTU_CONTAINERD', version: '1.35.0-gke.1403000', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'cos-docker', imageType: 'COS', gcfs: true, secondaryBootDisks: [cached] },
      { name: 'no-stream', secondaryBootDisks: [cached] },
      { name: 'plain-mode', gcfs: true, secondaryBootDisks: [{ diskImage: IMG }] },
      { name: 'no-disk', gcfs: true },
      { name: 'lost-sa', gcfs: true, serviceAccount: 'gone@test-project.iam.gserviceaccount.com', secondaryBootDisks: [cached] },
      { name: 'cross', gcfs: true, serviceAccount: CUSTOM_SA, secondaryBootDisks: [{ diskImage: XIMG, mode: 'CONTAINER_IMAGE_CACHE' }] },
      { name: 'data-plain', gcfs: true, secondaryBootDisks: [{ diskImage: DIMG }] },
      { name: 'data-as-cache', gcfs: true, secondaryBootDisks: [{ diskImage: DIMG, mode: 'CONTAINER_IMAGE_CACHE' }] },
    ],
  });
  await emu.gke.addCluster({
    name: 'nap',
    location: 'us-central1',
    version: '1.31.1-gke.1146000',
    autoprovisioning: { enabled: true },
    kubernetes: { allowlists: [] },
  });
  await emu.gke.addCluster({
    name: 'auto',
    location: 'europe-west4',
    autopilot: true,
    kubernetes: { allowlists: [{ name: 'gke-secondary-boot-disk-allowlist', patterns: [`projects/${P}/global/images/.*`] }] },
  });
  await emu.gke.addCluster({ name: 'auto-old', location: 'europe-west4', autopilot: true, version: '1.29.4-gke.1043002' });
  await emu.gke.addCluster({ name: 'bare', location: 'us-central1-a', nodePools: [{ name: 'plain', gcfs: true }] });
}, 60_000);

afterAll(async () => {
  await emu?.close();
});

const STD = `--cluster=projects/${P}/locations/us-central1-a/clusters/std`;

describe('doctor: Standard cluster, image in its project', () => {
  it('everything in order: every check passes, exit 0', async () => {
    const r = await doctor([STD, '--node-pool=good', `--image=${IMG}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.lines.filter((l) => l.status !== 'pass')).toEqual([]);
    expect(r.lines.map((l) => l.check)).toEqual(
      expect.arrayContaining([
        'cluster',
        'version',
        'image-streaming',
        'container-file-system-api',
        'node-service-account',
        'image-name',
        'image',
        'image-deprecation',
        'image-record',
        'secondary-boot-disk',
        'image-iam',
      ]),
    );
    expect(pick(r.lines, 'node-service-account')[0]!.seen).toContain(NODE_SA);
  });

  it.each([
    ['between', 'warn', 'older GKE docs accept'],
    ['ancient', 'fail', 'older than 1.30.1-gke.1329000'],
    ['ubuntu-old', 'fail', 'older than 1.35.0-gke.1403000'],
    ['ubuntu-new', 'pass', 'UBUNTU_CONTAINERD 1.35.0-gke.1403000'],
    ['cos-docker', 'fail', 'cannot use a secondary boot disk'],
  ])('version of pool %s: %s', async (pool, status, seen) => {
    const r = await doctor([STD, `--node-pool=${pool}`, `--image=${IMG}`]);
    const v = pick(r.lines, 'version');
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ status, seen: has(seen) });
    if (status !== 'pass')
      expect(v[0]!.fix).toMatch(/^gcloud container clusters upgrade std --location=us-central1-a --project=test-project/);
    expect(r.code).toBe(status === 'fail' ? 1 : 0);
  });

  it('image streaming off, and the pool mounting the image in another mode, fail with their fixes', async () => {
    let r = await doctor([STD, '--node-pool=no-stream', `--image=${IMG}`]);
    expect(r.code).toBe(1);
    expect(pick(r.lines, 'image-streaming')[0]).toMatchObject({
      status: 'fail',
      fix: 'gcloud container node-pools update no-stream --cluster=std --location=us-central1-a --project=test-project --enable-image-streaming',
    });
    r = await doctor([STD, '--node-pool=plain-mode', `--image=${IMG}`]);
    expect(pick(r.lines, 'secondary-boot-disk')[0]).toMatchObject({
      status: 'fail',
      seen: has('MODE_UNSPECIFIED mode'),
    });
    expect(pick(r.lines, 'secondary-boot-disk')[0]!.fix).toContain(`--secondary-boot-disk=disk-image=${IMG},mode=CONTAINER_IMAGE_CACHE`);
    r = await doctor([STD, '--node-pool=no-disk', `--image=${IMG}`]);
    expect(pick(r.lines, 'secondary-boot-disk')[0]).toMatchObject({ status: 'fail', seen: has('does not mount') });
    r = await doctor([STD, '--node-pool=nope', `--image=${IMG}`]);
    expect(pick(r.lines, 'node-pool')[0]).toMatchObject({ status: 'fail', seen: has('no node pool nope') });
    expect(r.code).toBe(1);
  });

  it('the Container File System API disabled fails; unreadable cannot be confirmed (exit 0)', async () => {
    emu.projectApis.enabled.get(P)!.delete('containerfilesystem.googleapis.com');
    try {
      const r = await doctor([STD, '--node-pool=good', `--image=${IMG}`]);
      expect(pick(r.lines, 'container-file-system-api')[0]).toMatchObject({
        status: 'fail',
        fix: 'gcloud services enable containerfilesystem.googleapis.com --project=test-project',
      });
      expect(r.code).toBe(1);
      emu.projectApis.servicesDenied.add(P);
      const denied = await doctor([STD, '--node-pool=good', `--image=${IMG}`]);
      expect(pick(denied.lines, 'container-file-system-api')[0]!.status).toBe('unknown');
      expect(denied.code).toBe(0);
    } finally {
      emu.projectApis.enable(P, 'containerfilesystem.googleapis.com');
      emu.projectApis.servicesDenied.delete(P);
    }
  });

  it('a cluster that does not exist fails, and nothing else is checked', async () => {
    const r = await doctor([`--cluster=projects/${P}/locations/us-central1-a/clusters/nowhere`, `--image=${IMG}`]);
    expect(r.lines).toEqual([
      {
        check: 'cluster',
        status: 'fail',
        seen: `projects/${P}/locations/us-central1-a/clusters/nowhere does not exist`,
        fix: `gcloud container clusters list --project=${P}`,
      },
    ]);
    expect(r.code).toBe(1);
  });

  it('no image named and no pool with a secondary boot disk: a warning, exit 0', async () => {
    const r = await doctor([`--cluster=projects/${P}/locations/us-central1-a/clusters/bare`]);
    expect(pick(r.lines, 'node-pool')).toEqual([
      expect.objectContaining({ status: 'warn', seen: 'no node pool has a secondary boot disk', fix: has('--enable-image-streaming') }),
    ]);
    expect(r.lines.filter((l) => l.status !== 'pass' && l.check !== 'node-pool')).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('a node service account the caller may not look up cannot be confirmed (exit 0)', async () => {
    emu.serviceAccounts.denied = true;
    try {
      const r = await doctor([STD, '--node-pool=good', `--image=${IMG}`]);
      expect(pick(r.lines, 'node-service-account')[0]).toMatchObject({ status: 'unknown', seen: has(NODE_SA) });
      expect(r.code).toBe(0);
    } finally {
      emu.serviceAccounts.denied = false;
    }
  });

  it('a node service account that does not exist fails', async () => {
    const r = await doctor([STD, '--node-pool=lost-sa', `--image=${IMG}`]);
    expect(pick(r.lines, 'node-service-account')[0]).toMatchObject({
      status: 'fail',
      seen: has('gone@test-project'),
      fix: 'gcloud iam service-accounts list --project=test-project',
    });
    // The default compute account names no project: the cluster's is listed.
    emu.serviceAccounts.emails.delete(NODE_SA);
    try {
      const d = await doctor([STD, '--node-pool=good', `--image=${IMG}`]);
      expect(pick(d.lines, 'node-service-account')[0]).toMatchObject({
        status: 'fail',
        seen: has(NODE_SA),
        fix: 'gcloud iam service-accounts list --project=test-project',
      });
    } finally {
      emu.serviceAccounts.emails.add(NODE_SA);
    }
    expect(r.code).toBe(1);
  });

  it.each([
    ['foreign', 'image-record', 'warn', 'no record', 0],
    ['pending', 'image', 'fail', 'is PENDING', 1],
    ['missing', 'image', 'fail', 'does not exist', 1],
    ['old-one', 'image-deprecation', 'warn', 'DEPRECATED', 0],
    ['gone-one', 'image-deprecation', 'fail', 'OBSOLETE', 1],
    ['a-name-that-is-longer-than-thirty-nine-c', 'image-name', 'fail', 'at most 39', 1],
  ])('image %s: %s %s', async (name, check, status, seen, code) => {
    // Without --node-pool: the pools that mount the image are checked, and none mounts these.
    const r = await doctor([STD, `--image-name=${name}`]);
    expect(pick(r.lines, check)[0]).toMatchObject({ status, seen: has(seen) });
    if (code === 0) expect(r.lines.filter((l) => l.status === 'fail').map((l) => l.check)).toEqual(['node-pool']);
    expect(r.code).toBe(1);
  });
});

describe('doctor: a data disk (files, mounted in no mode)', () => {
  it('a pool mounting it in no mode passes; its record says what it holds', async () => {
    const r = await doctor([STD, '--node-pool=data-plain', `--image=${DIMG}`]);
    expect(pick(r.lines, 'secondary-boot-disk')).toEqual([
      { check: 'secondary-boot-disk', status: 'pass', seen: `pool data-plain mounts ${DIMG} in no mode (MODE_UNSPECIFIED)` },
    ]);
    expect(pick(r.lines, 'image-record')[0]!.seen).toContain('a data disk of 3 files from gs://models/llama/=llama');
    expect(r.lines.filter((l) => l.status !== 'pass')).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('a pool mounting it in CONTAINER_IMAGE_CACHE mode fails, the fix a pool without a mode', async () => {
    const r = await doctor([STD, '--node-pool=data-as-cache', `--image=${DIMG}`]);
    const l = pick(r.lines, 'secondary-boot-disk')[0]!;
    expect(l).toMatchObject({ status: 'fail', seen: has('in CONTAINER_IMAGE_CACHE mode, not in no mode') });
    expect(l.fix).toContain(`data-as-cache-data --cluster=std`);
    expect(l.fix).toMatch(new RegExp(`--secondary-boot-disk=disk-image=${DIMG}$`));
    // Without --node-pool: every pool that names it is judged.
    const all = await doctor([STD, `--image=${DIMG}`]);
    expect(pick(all.lines, 'secondary-boot-disk').map((x) => x.status)).toEqual(['pass', 'fail']);
    expect(r.code).toBe(1);
  });

  it('--workload does not apply to a data disk: said, not compared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-doctor-data-'));
    try {
      writeFileSync(join(dir, 'pod.yaml'), 'kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "nginx:1.27"}]\n');
      const r = await doctor([STD, '--node-pool=data-plain', `--image=${DIMG}`, `--workload=${join(dir, 'pod.yaml')}`]);
      expect(pick(r.lines, 'workload')).toEqual([expect.objectContaining({ status: 'warn', seen: has(`${DIMG} is a data disk`) })]);
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('doctor: image in another project (IAM read from its policy)', () => {
  const args = [STD, '--node-pool=cross', `--image=${XIMG}`];

  it('both the node service account and the GKE service agent granted: pass', async () => {
    emu.projectApis.setIamPolicy(OTHER, [
      { role: 'roles/compute.imageUser', members: [`serviceAccount:${CUSTOM_SA}`, `serviceAccount:${AGENT}`] },
    ]);
    const r = await doctor(args);
    expect(pick(r.lines, 'image-iam').map((l) => l.status)).toEqual(['pass', 'pass']);
    expect(r.code).toBe(0);
  });

  it('the service agent missing: fail with the grant command', async () => {
    emu.projectApis.setIamPolicy(OTHER, [{ role: 'roles/editor', members: [`serviceAccount:${CUSTOM_SA}`] }]);
    const r = await doctor(args);
    expect(pick(r.lines, 'image-iam', CUSTOM_SA)[0]!.status).toBe('pass');
    expect(pick(r.lines, 'image-iam', AGENT)[0]).toMatchObject({
      status: 'fail',
      fix: `gcloud projects add-iam-policy-binding ${OTHER} --member=serviceAccount:${AGENT} --role=roles/compute.imageUser`,
    });
    expect(r.code).toBe(1);
  });

  it('a grant through a group, or under a condition, cannot be confirmed (exit 0)', async () => {
    emu.projectApis.setIamPolicy(OTHER, [
      { role: 'roles/compute.imageUser', members: ['group:gke-nodes@example.com'] },
      {
        role: 'roles/compute.imageUser',
        members: [`serviceAccount:${AGENT}`],
        condition: { title: 'until 2027', expression: 'request.time < timestamp("2027-01-01T00:00:00Z")' },
      },
    ]);
    const r = await doctor(args);
    expect(pick(r.lines, 'image-iam', CUSTOM_SA)[0]).toMatchObject({
      status: 'unknown',
      seen: has('group:gke-nodes@example.com'),
    });
    expect(pick(r.lines, 'image-iam', AGENT)[0]).toMatchObject({ status: 'unknown', seen: has('until 2027') });
    expect(r.code).toBe(0);
  });

  it('a policy the caller may not read cannot be confirmed', async () => {
    emu.projectApis.policyDenied.add(OTHER);
    try {
      const r = await doctor(args);
      expect(pick(r.lines, 'image-iam').map((l) => l.status)).toEqual(['unknown', 'unknown']);
    } finally {
      emu.projectApis.policyDenied.delete(OTHER);
    }
  });
});

describe('doctor: Autopilot and auto-provisioning', () => {
  it('Autopilot with a matching allowlist: pass', async () => {
    const r = await doctor([`--cluster=projects/${P}/locations/europe-west4/clusters/auto`, `--image=${IMG}`]);
    expect(pick(r.lines, 'allowlist')[0]).toMatchObject({
      status: 'pass',
      seen: has('gke-secondary-boot-disk-allowlist'),
    });
    expect(pick(r.lines, 'version')[0]).toMatchObject({ status: 'pass', seen: has('Autopilot nodes') });
    expect(r.code).toBe(0);
  });

  it('Autopilot without an allowlist for the image, and too old: fail (no warning band on Autopilot)', async () => {
    const r = await doctor([`--cluster=projects/${P}/locations/europe-west4/clusters/auto-old`, `--image=${IMG}`]);
    const allow = pick(r.lines, 'allowlist')[0]!;
    expect(allow.status).toBe('fail');
    expect(allow.fix).toContain('| kubectl apply -f -');
    expect(allow.fix).toContain(`projects/${P}/global/images/.*`);
    expect(pick(r.lines, 'version')[0]).toMatchObject({ status: 'fail', seen: has('1.29.4-gke.1043002') });
    expect(r.code).toBe(1);
  });

  it('an allowlist the caller may not read cannot be confirmed', async () => {
    const c = emu.gke.clusters.get(`projects/${P}/locations/europe-west4/clusters/auto`)!;
    c.kube.forbidden.add('gcpresourceallowlists');
    try {
      const r = await doctor([`--cluster=projects/${P}/locations/europe-west4/clusters/auto`, `--image=${IMG}`]);
      expect(pick(r.lines, 'allowlist')[0]!.status).toBe('unknown');
      expect(r.code).toBe(0);
    } finally {
      c.kube.forbidden.delete('gcpresourceallowlists');
    }
  });

  it('Autopilot, image in another project: the IAM of that project and an allowlist naming it', async () => {
    const AUTO = `--cluster=projects/${P}/locations/europe-west4/clusters/auto`;
    const c = emu.gke.clusters.get(`projects/${P}/locations/europe-west4/clusters/auto`)!;
    emu.projectApis.setIamPolicy(OTHER, [
      { role: 'roles/compute.imageUser', members: [`serviceAccount:${NODE_SA}`, `serviceAccount:${AGENT}`] },
    ]);
    let r = await doctor([AUTO, `--image=${XIMG}`]);
    // The nodes Autopilot creates run as the auto-provisioning default: the project's default compute account.
    expect(pick(r.lines, 'image-iam').map((l) => [l.status, l.seen.split(' ').slice(-6).join(' ')])).toEqual([
      ['pass', `${NODE_SA} may use images of ${OTHER}`],
      ['pass', `${AGENT} may use images of ${OTHER}`],
    ]);
    expect(pick(r.lines, 'allowlist')[0]).toMatchObject({ status: 'fail', fix: has(`projects/${OTHER}/global/images/.*`) });
    expect(r.code).toBe(1);

    c.kube.allowlists!.push({ name: 'shared-images', patterns: [`projects/${OTHER}/global/images/shared-.*`] });
    emu.projectApis.setIamPolicy(OTHER, [{ role: 'roles/compute.imageUser', members: [`serviceAccount:${AGENT}`] }]);
    try {
      r = await doctor([AUTO, `--image=${XIMG}`]);
      expect(pick(r.lines, 'allowlist')[0]).toMatchObject({ status: 'pass', seen: has('shared-images') });
      expect(pick(r.lines, 'image-iam', NODE_SA)[0]).toMatchObject({ status: 'fail', fix: has(`--member=serviceAccount:${NODE_SA}`) });
      expect(pick(r.lines, 'image-iam', AGENT)[0]!.status).toBe('pass');
      expect(r.code).toBe(1);
    } finally {
      c.kube.allowlists!.pop();
    }
  });

  it('Standard with auto-provisioning: the defaults image streaming off and no allowlist fail', async () => {
    const r = await doctor([`--cluster=projects/${P}/locations/us-central1/clusters/nap`, `--image=${IMG}`]);
    expect(pick(r.lines, 'image-streaming', 'auto-provisioning')[0]).toMatchObject({
      status: 'fail',
      fix: 'gcloud container clusters update nap --location=us-central1 --project=test-project --enable-image-streaming',
    });
    expect(pick(r.lines, 'allowlist')[0]!.status).toBe('fail');
    expect(r.code).toBe(1);
  });
});

describe('doctor: input and output', () => {
  it.each([
    [[`--image=${IMG}`], '--cluster: required'],
    [['--cluster=clusters/c'], '--cluster: expected projects/PROJECT/locations/LOCATION/clusters/NAME'],
    [[STD, '--image=projects/p/images/x'], '--image: expected projects/PROJECT/global/images/NAME'],
    [[STD, `--image=${IMG}`, '--image-name=x'], '--image and --image-name'],
    [[STD, '--workload=w.yaml'], '--workload/--namespace: need the image'],
    [[STD, '--hits', `--image=${IMG}`], '--image does not apply to doctor --hits'],
  ])('%j: one line naming the flag, exit 2, no cloud call', async (args, message) => {
    const before = emu.requests.length;
    const r = await doctor(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(emu.requests.length).toBe(before);
  });

  it('prints one line per check, then a summary (no --json)', async () => {
    const text = await run(emu, [STD, '--node-pool=no-stream', `--image=${IMG}`], { json: false });
    expect(text.code).toBe(1);
    const out = text.stdout.trim().split('\n');
    expect(out).toContain(
      'FAIL  image-streaming: pool no-stream: image streaming off (secondary boot disks need it)  — fix: gcloud container node-pools update no-stream --cluster=std --location=us-central1-a --project=test-project --enable-image-streaming',
    );
    expect(out.at(-1)).toMatch(/^\d+ passed, 0 warnings, 1 failed, 0 cannot be confirmed$/);
  });
});

describe('doctor --hits: the nodes gcfs-snapshotter lines, from Cloud Logging', () => {
  const HITS = [`--cluster=projects/${P}/locations/us-central1-a/clusters/std`, '--hits'];
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const line = (ref: string, cached: number, layers: number) =>
    `Image ${ref} is backed by secondary boot disk caching by ${((100 * cached) / layers).toFixed(1)}% (${cached}/${layers} layers), by image streaming by ${((100 * (layers - cached)) / layers).toFixed(1)}% (${layers - cached}/${layers} layers).`;
  const entry = (minutes: number, payload: { textPayload: string } | { jsonPayload: Record<string, unknown> }, cluster = 'std') => ({
    logName: `projects/${P}/logs/gcfs-snapshotter`,
    resource: {
      type: 'k8s_node',
      labels: { project_id: P, cluster_name: cluster, location: 'us-central1-a', node_name: 'gke-std-good-1' },
    },
    timestamp: ago(minutes),
    ...payload,
  });
  const WEB = 'us-docker.pkg.dev/test-project/apps/web:2.3.1';

  beforeAll(() => {
    emu.projectApis.logEntries.push(
      entry(5, { textPayload: line(WEB, 8, 8) }),
      entry(6, { jsonPayload: { MESSAGE: line(WEB, 8, 8) } }),
      entry(7, { textPayload: line(WEB, 3, 8) }),
      entry(8, { textPayload: line('nginx:latest', 0, 4) }),
      entry(9, { textPayload: 'Mounted the secondary boot disk' }),
      // Older than an hour, and another cluster's: left out.
      entry(120, { textPayload: line('nginx:latest', 4, 4) }),
      entry(5, { textPayload: line('redis:7', 2, 2) }, 'other'),
    );
  });

  it('counts, per reference, the pulls backed fully, partly and not at all; exit 0', async () => {
    const r = await run(emu, HITS, { json: false });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      '  full  partial   none  reference',
      '     0        0      1  nginx:latest',
      `     2        1      0  ${WEB}`,
      '',
    ]);
    expect(r.stderr).toContain('pulls logged by the nodes of');
  });

  it('--since reaches further back; --json gives the same counts as an object', async () => {
    const r = await run(emu, [...HITS, '--since=3h']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { references: unknown[]; truncated: boolean };
    expect(out.references).toEqual([
      { reference: 'nginx:latest', full: 1, partial: 0, none: 1 },
      { reference: WEB, full: 2, partial: 1, none: 0 },
    ]);
    expect(out.truncated).toBe(false);
  });

  it('no pull logged: says so, exit 0', async () => {
    const r = await run(emu, [`--cluster=projects/${P}/locations/us-central1/clusters/nap`, '--hits'], { json: false });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no image pulls were logged by gcfs-snapshotter');
  });

  it('logs the caller may not read: exit 1, saying why', async () => {
    emu.projectApis.loggingDenied = true;
    try {
      const r = await run(emu, HITS, { json: false });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain("error: cannot read the cluster's gcfs-snapshotter logs from Cloud Logging");
      expect(r.stderr).toContain('logging.logEntries.list');
    } finally {
      emu.projectApis.loggingDenied = false;
    }
  });
});
