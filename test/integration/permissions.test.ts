// The least-privilege custom role (docs/architecture.md, Least privilege): every API call each command makes against
// the emulator maps to permissions src/gcp/permissions.ts lists for that command, and every permission listed is
// used by one of these runs — so the list is exactly what the tool needs, neither less nor more.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { serialLine } from '../emulator/index.js';
import { describeRecord, recordFor } from '../../src/builder/image-record.js';
import { PERMISSIONS, PERMISSIONS_OF_FLAGS, permissionsOfCall, type PermissionScope } from '../../src/gcp/permissions.js';
import { emulatorEnv } from '../helpers/emulator-env.js';
import { FakeHub } from '../fakes/hf-server.js';
import { BASE_ARGS, LOCAL_ARGS, TOKEN, useEmulator, VERIFY_ARGS, type Harness } from './harness.js';

const SECRET = 'projects/test-project/secrets/registry';
const HF_SECRET = 'projects/test-project/secrets/hf-token';
const DAY = 86_400_000;

/** The permissions the calls recorded since `from` need. */
function used(h: Harness, from = 0): Set<string> {
  const out = new Set<string>();
  for (const q of h.emu.requests.slice(from)) for (const p of permissionsOfCall(q.call, q.body)) out.add(p);
  return out;
}

/** The runs of one command: each must succeed; returns what their calls needed. */
async function runs(h: Harness, argvs: string[][], env: Record<string, string> = {}): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const args of argvs) {
    const from = h.emu.requests.length;
    const r = await h.cli(args, { env });
    expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
    for (const p of used(h, from)) seen.add(p);
  }
  return seen;
}

function expectExactly(scope: PermissionScope, seen: Set<string>, flags: ReadonlyArray<keyof typeof PERMISSIONS_OF_FLAGS> = []) {
  const allowed = new Set([...PERMISSIONS[scope], ...flags.flatMap((f) => PERMISSIONS_OF_FLAGS[f])]);
  expect([...seen].filter((p) => !allowed.has(p)).sort(), `${scope}: used but not listed`).toEqual([]);
  expect([...allowed].filter((p) => !seen.has(p)).sort(), `${scope}: listed but never used`).toEqual([]);
}

describe('the permissions each command uses', () => {
  const h = useEmulator();
  const build = (...more: string[]) => [...BASE_ARGS, '--container-image=nginx:1', ...more];

  it('build', async () => {
    h.emu.secrets.add(SECRET, 'user:password\n');
    h.emu.secrets.add(HF_SECRET, 'hf_token\n');
    const hub = await FakeHub.start();
    hub.addRepo('org/gated', { gated: 'manual', files: { 'w.bin': 'weights' } });
    hub.grant('hf_token', 'org/gated');
    h.emu.state.objects.set('test-bucket/weights/m1/a.bin', {
      bucket: 'test-bucket',
      name: 'weights/m1/a.bin',
      data: Buffer.from('a'),
      contentType: 'application/octet-stream',
      generation: 1,
      metageneration: 1,
      createdAt: 0,
      updatedAt: 0,
    });
    const env = { CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: h.emu.storageHost, HF_ENDPOINT: hub.endpoint };
    const seen = await runs(
      h,
      [
        build('--image-name=plain'),
        // Everything that adds a permission: a service account with a token, labels, tags, a family to start from,
        // a lifetime, a registry secret, a KMS key; then the same name again with --force.
        build(
          '--image-name=full',
          '--image-family-name=fam',
          '--image-labels=team=ml',
          '--network-tags=builder',
          '--service-account=builder@test-project.iam.gserviceaccount.com',
          '--image-pull-auth=ServiceAccountToken',
          '--incremental',
          '--deprecate-after=30d',
          '--spot',
          `--registry-secret=registry.example.com=${SECRET}`,
          '--kms-key=projects/test-project/locations/us-central1/keyRings/gdib/cryptoKeys/disks',
        ),
        build('--image-name=plain', '--force', '--no-external-ip'),
        // A data disk: its sources listed with the caller's token, the Hugging Face token read.
        [
          ...VERIFY_ARGS,
          '--image-name=data',
          '--data-source=gs://test-bucket/weights/m1/',
          '--data-source=gs://test-bucket/weights/m1/a.bin=one/a.bin',
          '--data-source=hf://org/gated',
          `--hf-token-secret=${HF_SECRET}`,
        ],
      ],
      env,
    ).finally(() => hub.close());
    expectExactly('build', seen, ['--registry-secret', '--kms-key', '--data-source', '--hf-token-secret']);
  });

  it('verify', async () => {
    await runs(h, [build('--image-name=img')]);
    const from = h.emu.requests.length;
    const r = await h.cli(['verify', ...VERIFY_ARGS, '--image-name=img']);
    expect(r.code, r.stderr).toBe(0);
    expectExactly('verify', used(h, from));
  });

  it('build --local (its cloud part: what a local build reads, uploads and imports)', async () => {
    // The bake itself needs root and loop devices (test/local/end-to-end.test.ts); its dry run reads what the build
    // reads, and the upload and import are the calls the local build adds after the bake.
    const seen = await runs(h, [[...LOCAL_ARGS, '--local', '--dry-run', '--image-name=local', '--container-image=nginx:1']]);
    expect([...seen].sort()).toEqual([...PERMISSIONS['build --local']].filter((p) => !LOCAL_WRITES.includes(p)).sort());
    const writes = new Set(LOCAL_WRITE_CALLS.flatMap(([call, body]) => permissionsOfCall(call, body)));
    expect([...writes].sort()).toEqual([...LOCAL_WRITES].sort());
  });

  it('cleanup', async () => {
    // A build killed with SIGKILL leaves its disks and VM for cleanup to find and delete.
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]);
    const child = spawn(process.execPath, ['bin/gke-disk-image-builder.js', ...build('--image-name=killed')], {
      env: { ...process.env, ...h.env },
      stdio: 'ignore',
    });
    const end = Date.now() + 60_000;
    while (!h.emu.requests.some((q) => q.call === 'instances.getSerialPortOutput')) {
      if (Date.now() > end) throw new Error('the build never reached its VM');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Hours later: the killed build's deadline has passed, so cleanup deletes what it left.
    for (const r of [...h.emu.state.disks.values(), ...h.emu.state.instances.values()])
      if (r.labels['gdib-deadline']) r.labels['gdib-deadline'] = '20000101t000000z';
    const seen = await runs(h, [
      ['cleanup', '--project-name=test-project', '--older-than=0', '--dry-run'],
      ['cleanup', '--project-name=test-project', '--older-than=0'],
    ]);
    expect(h.emu.leftovers().instances).toEqual([]);
    expectExactly('cleanup', seen);
  });
});

describe('the permissions prune uses', () => {
  const RECORD = describeRecord(recordFor(['nginx:1'], { 'nginx:1': `sha256:${'a'.repeat(64)}` }, 'linux/amd64', true, '0.1.0'));
  const h = useEmulator({
    images: [0, 1, 40, 50].map((days, i) => ({
      project: 'test-project',
      name: `cache-${i + 1}`,
      family: 'cache',
      description: RECORD,
      createdAt: Date.now() - days * DAY,
      ...(days >= 50 ? { deprecated: { state: 'DEPRECATED' as const, deprecated: new Date(Date.now() - 30 * DAY).toISOString() } } : {}),
    })),
  });

  it('prune', async () => {
    // A standard cluster whose pool and ComputeClass name images of the family, and an Autopilot cluster with an
    // allowlist: prune reads each cluster's pools and, through the cluster's own API, ComputeClasses and allowlists.
    await h.emu.gke.addCluster({
      name: 'std',
      location: 'europe-west4',
      nodePools: [
        {
          name: 'cached',
          secondaryBootDisks: [{ diskImage: 'projects/test-project/global/images/cache-1', mode: 'CONTAINER_IMAGE_CACHE' }],
        },
        // A project named by its number: prune reads the project's number to tell.
        {
          name: 'by-number',
          secondaryBootDisks: [{ diskImage: `projects/${h.emu.state.projects.get('test-project')!.number}/global/images/cache-1` }],
        },
      ],
      kubernetes: { computeClasses: [{ name: 'warm', secondaryBootDisks: [{ diskImageName: 'cache-2', project: 'test-project' }] }] },
    });
    await h.emu.gke.addCluster({
      name: 'auto',
      autopilot: true,
      kubernetes: { allowlists: [{ name: 'exact', patterns: ['projects/test-project/global/images/cache-1'] }] },
    });
    const env = {
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER: h.emu.storageHost,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: h.emu.storageHost,
    };
    const seen = await runs(
      h,
      [
        ['prune', '--project-name=test-project', '--image-family-name=cache', '--dry-run'],
        ['prune', '--project-name=test-project', '--image-family-name=cache', '--keep=1', '--min-age=1d'],
        ['prune', '--project-name=test-project', '--image-family-name=cache', '--delete'],
      ],
      env,
    );
    expectExactly('prune', seen);
  });
});

describe('the permissions doctor uses', () => {
  const RECORD = describeRecord(recordFor(['nginx:1'], { 'nginx:1': `sha256:${'a'.repeat(64)}` }, 'linux/amd64', true, '0.1.0'));
  const IMG = 'projects/test-project/global/images/cache-1';
  const XIMG = 'projects/image-project/global/images/shared';
  const h = useEmulator({
    projects: ['test-project', 'image-project'],
    images: [
      { project: 'test-project', name: 'cache-1', description: RECORD },
      { project: 'image-project', name: 'shared', description: RECORD },
    ],
  });

  it('doctor (same- and cross-project image), and doctor --hits', async () => {
    h.emu.projectApis.enable('test-project', 'containerfilesystem.googleapis.com');
    await h.emu.gke.addCluster({
      name: 'std',
      location: 'us-central1-a',
      nodePools: [{ name: 'good', gcfs: true, secondaryBootDisks: [{ diskImage: IMG, mode: 'CONTAINER_IMAGE_CACHE' }] }],
    });
    await h.emu.gke.addCluster({
      name: 'auto',
      location: 'europe-west4',
      autopilot: true,
      kubernetes: { allowlists: [{ name: 'gke-secondary-boot-disk-allowlist', patterns: ['projects/test-project/global/images/.*'] }] },
    });
    const seen = new Set<string>();
    for (const args of [
      ['--cluster=projects/test-project/locations/us-central1-a/clusters/std', `--image=${IMG}`],
      ['--cluster=projects/test-project/locations/europe-west4/clusters/auto', `--image=${IMG}`],
      // An image of another project: the grants of that project's IAM policy are read.
      ['--cluster=projects/test-project/locations/us-central1-a/clusters/std', `--image=${XIMG}`],
      ['--cluster=projects/test-project/locations/us-central1-a/clusters/std', '--hits'],
    ]) {
      const from = h.emu.requests.length;
      const r = await h.cli(['doctor', ...args], { env: emulatorEnv(h.emu, TOKEN) });
      // Exit 1 is a failed check (the emulated cluster is not perfect); what matters is which calls were made.
      expect([0, 1], `${args.join(' ')}\n${r.stderr}`).toContain(r.code);
      for (const p of used(h, from)) seen.add(p);
    }
    expectExactly('doctor', seen);
  });
});

/**
 * The calls a local build adds to what its dry run reads (src/builder/steps/upload-archive.ts, create-image.ts,
 * replace-image.ts, image-lifetime.ts): the archive's upload and its deletion, the image imported from it (with
 * --image-labels), --force's deletion of the old image, a lifetime, and the wait for those global operations.
 */
const LOCAL_WRITE_CALLS: ReadonlyArray<readonly [string, unknown]> = [
  ['storage.objects.insert', {}],
  ['storage.objects.delete', {}],
  ['images.insert', { rawDisk: { source: 'https://storage.googleapis.com/b/o' }, labels: { team: 'ml' } }],
  ['images.delete', {}],
  ['images.deprecate', {}],
  ['globalOperations.wait', {}],
];
const LOCAL_WRITES = [
  'storage.objects.create',
  'storage.objects.delete',
  'compute.images.create',
  'storage.objects.get',
  'compute.images.setLabels',
  'compute.images.delete',
  'compute.images.deprecate',
  'compute.globalOperations.get',
];
