// build --data-source against the emulator (Cloud Storage, Compute, Secret Manager) and the Hugging Face-shaped fake:
// preflight lists every source with the caller's credentials and sends the VM the resolved plan; the image records
// the sources so that --if-changed skips or names what changed; bad input is exit 2 and preflight's findings exit 1,
// with nothing created. The emulator's VM succeeds without running the agent: what the VM does with the plan is the
// agent's tests' (test/vm, the rig).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { diskKindOfRecord, parseRecord } from '../../src/builder/image-record.js';
import { MD, dataFingerprint, type DataPlan } from '../../src/vm/contract.js';
import { FakeHub } from '../fakes/hf-server.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { expectNothingLeft, TOKEN, useEmulator } from './harness.js';

const ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs'];
const SECRET = 'projects/test-project/secrets/hf-token';
const MUTATING = /^(disks|instances|images)\.(insert|delete|detachDisk)$/;

describe('build --data-source', () => {
  let hub: FakeHub;
  let commit: string;
  let dir: string;
  beforeAll(async () => {
    hub = await FakeHub.start();
    commit = hub.addRepo('org/tiny', { files: { 'config.json': '{"layers":2}', 'model.safetensors': 'W'.repeat(4096) } });
    hub.addRepo('org/gated', { gated: 'manual', files: { 'w.bin': 'gated' } });
    hub.grant('hf_granted_token_value', 'org/gated');
    dir = mkdtempSync(join(tmpdir(), 'gdib-data-'));
  });
  afterAll(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const h = useEmulator({ buckets: [{ name: 'test-bucket' }, { name: 'weights' }] });
  const env = () => ({ ...h.env, HF_ENDPOINT: hub.endpoint, CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: h.emu.storageHost });
  const cli = (args: string[]) => h.cli(args, { env: env() });
  const bin = async (args: string[]) => spawnCli(args, env()).done;
  const put = (name: string, data: string) => {
    const now = Date.now();
    const previous = h.emu.state.object('weights', name);
    h.emu.state.objects.set(`weights/${name}`, {
      bucket: 'weights',
      name,
      data: Buffer.from(data),
      contentType: 'application/octet-stream',
      generation: Math.max(now * 1000, (previous?.generation ?? 0) + 1),
      metageneration: 1,
      createdAt: now,
      updatedAt: now,
    });
  };
  beforeEach(() => {
    put('models/m1/config.json', '{"a":1}');
    put('models/m1/shards/w-0001.bin', 'weights-one');
    put('models/m10/other.bin', 'not this one');
  });
  const mutations = (from = 0) => h.emu.requests.slice(from).filter((q) => MUTATING.test(q.call));
  const metadataOf = (body: unknown): Record<string, string> =>
    Object.fromEntries(
      ((body as { metadata: { items: { key: string; value: string }[] } }).metadata.items ?? []).map((i) => [i.key, i.value]),
    );

  it('--dry-run lists the sources, pins the revision, plans the VM with the data plan and creates nothing', async () => {
    h.emu.secrets.add(SECRET, 'hf_granted_token_value\n');
    const run = await cli([
      ...ARGS,
      '--image-name=weights-v1',
      '--data-source=gs://weights/models/m1',
      '--data-source=hf://org/tiny=tiny',
      '--data-source=hf://org/gated',
      `--hf-token-secret=${SECRET}`,
      '--dry-run',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = events.at(-1)!.result as Record<string, any>;
    expect(result.state).toBe('planned');
    expect(result.data).toMatchObject({
      sources: [
        'gs://weights/models/m1/=m1',
        `hf://org/tiny@${commit}=tiny`,
        expect.stringMatching(/^hf:\/\/org\/gated@[0-9a-f]{40}=gated$/),
      ],
      files: 5,
      bytes: 7 + 11 + 12 + 4096 + 5,
    });
    expect(result.data.grants).toEqual([
      expect.stringContaining(
        `gcloud storage buckets add-iam-policy-binding gs://weights --member="serviceAccount:$(gcloud projects describe test-project --format='value(projectNumber)')-compute@developer.gserviceaccount.com" --role=roles/storage.objectViewer`,
      ),
      expect.stringContaining(`gcloud secrets add-iam-policy-binding hf-token --project=test-project`),
    ]);
    const vm = (result.plan as { kind: string; body: unknown }[]).find((r) => r.kind === 'vm')!;
    const md = metadataOf(vm.body);
    expect(md[MD.containerImages]).toBeUndefined();
    expect(md[MD.hfTokenSecret]).toBe(`${SECRET}/versions/latest`);
    const plan = JSON.parse(md[MD.dataPlan]!) as DataPlan;
    expect(plan.sources[0]).toEqual({ kind: 'gcs', bucket: 'weights', path: 'models/m1', prefix: true, dest: 'm1' });
    expect(plan.sources[1]).toEqual({ kind: 'hf', repo: 'org/tiny', revision: commit, dest: 'tiny' });
    expect(plan.fingerprint).toBe(result.data.fingerprint);
    expect(plan.sourceFingerprints).toHaveLength(3);
    // The VM reads a secret: cloud-platform, said in the dry run.
    expect((vm.body as { serviceAccounts: { scopes: string[] }[] }).serviceAccounts[0]!.scopes).toEqual([
      'https://www.googleapis.com/auth/cloud-platform',
    ]);
    expect(run.stderr).toMatch(/scope cloud-platform: the VM reads --hf-token-secret/);
    // The token never shows.
    expect(run.stdout + run.stderr).not.toContain('hf_granted_token_value');
    // Preflight listed with the caller's token, and created nothing.
    const lists = h.emu.requests.filter((r) => r.call === 'storage.objects.list');
    expect(lists.length).toBeGreaterThan(0);
    expect(lists.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(mutations()).toEqual([]);
    expectNothingLeft(h.emu);
  });

  it('builds an image that records its sources; --if-changed then skips, and names the source that changed', async () => {
    const manifests = join(dir, 'data.yaml');
    const args = [...ARGS, '--data-source=gs://weights/models/m1/', `--data-source=hf://org/tiny@${commit}`, '--disk-size-gb=10'];
    const first = await cli([...args, '--image-name=weights-v1', `--k8s-manifests-filepath=${manifests}`]);
    expect(first.code, first.stderr).toBe(0);
    const image = h.emu.state.image('test-project', 'weights-v1')!;
    const record = parseRecord(image.description)!;
    expect(diskKindOfRecord(record)).toBe('data');
    expect(record).toMatchObject({ kind: 'data', platform: 'data', count: 4 });
    expect(Object.keys(record.sources!)).toEqual(['gs://weights/models/m1/=m1', `hf://org/tiny@${commit}=tiny`]);
    expect(image.description).toMatch(/^Built by gke-disk-image-builder.*: a data disk of 4 files\./);
    // The VM was given the plan, no container images; it reads a bucket: devstorage.read_only only.
    const insert = h.emu.requests.find((r) => r.call === 'instances.insert')!;
    const md = metadataOf(insert.body);
    expect(md[MD.containerImages]).toBeUndefined();
    expect((JSON.parse(md[MD.dataPlan]!) as DataPlan).fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect((insert.body as { serviceAccounts: { scopes: string[] }[] }).serviceAccounts[0]!.scopes).toEqual([
      'https://www.googleapis.com/auth/devstorage.read_only',
    ]);
    // Next steps: no mode, a read-only hostPath at GKE's mount path, the ReadOnlyMany claim.
    expect(first.stderr).toContain('  --secondary-boot-disk=disk-image=projects/test-project/global/images/weights-v1\n');
    expect(first.stderr).not.toMatch(/CONTAINER_IMAGE_CACHE/);
    // The pool gets image streaming, as doctor requires of every pool with a secondary boot disk.
    expect(first.stderr).toMatch(/--enable-image-streaming/);
    expect(first.stderr).toContain('path: /mnt/disks/gke-secondary-disks/gke-weights-v1-disk');
    const yaml = readFileSync(manifests, 'utf8');
    expect(yaml).toContain('snapshotHandle: projects/test-project/global/images/weights-v1');
    expect(yaml).toMatch(
      /kind: PersistentVolumeClaim[\s\S]*- ReadOnlyMany[\s\S]*kind: VolumeSnapshot\n {4}name: weights-v1-vs[\s\S]*storage: 10Gi/,
    );
    expect(first.stderr).toContain('Waiting for the VM to download and check the files');
    expect(yaml).toMatch(/kind: VolumeSnapshotClass[\s\S]*snapshot-type: images/);

    const before = h.emu.requests.length;
    const second = await cli([...args, '--image-name=weights-v2', '--if-changed']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^up to date: projects\/test-project\/global\/images\/weights-v1 already holds these files/);
    expect(mutations(before)).toEqual([]);

    put('models/m1/shards/w-0001.bin', 'weights-two');
    const third = await cli([...args, '--image-name=weights-v3', '--if-changed']);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stderr).toContain('changed since image weights-v1: gs://weights/models/m1/=m1: its objects changed');
    expect(third.stderr).not.toMatch(/changed since image weights-v1: hf:/);
    expect(h.emu.state.image('test-project', 'weights-v3')).toBeDefined();
    expectNothingLeft(h.emu);
  });

  it.each<[string, string[], RegExp]>([
    [
      'an unknown scheme',
      ['--data-source=s3://weights/m'],
      /^error: --data-source: unknown scheme 's3:\/\/' \(expected gs:\/\/ or hf:\/\/\)/m,
    ],
    ['a DEST escaping the disk', ['--data-source=gs://weights/m=../../etc'], /--data-source: DEST '\.\.\/\.\.\/etc': .*"\.\."/],
    ['a bad repository', ['--data-source=hf://a/b/c'], /--data-source: 'a\/b\/c' is not a Hugging Face repository id/],
    ['".." as a revision', ['--data-source=hf://org/tiny@..'], /^error: --data-source: '\.\.' is not a revision/m],
    ['".." as an object', ['--data-source=gs://weights/..=x'], /^error: --data-source: '\.\.' is not an object name or prefix/m],
    ['"." as an object', ['--data-source=gs://weights/.=x'], /^error: --data-source: '\.' is not an object name or prefix/m],
    [
      'both kinds',
      ['--data-source=gs://weights/m/', '--container-image=busybox:1'],
      /--data-source and --container-image: a disk holds container images or data, not both; .*`gke-disk-image-builder build --image-name=x-images --container-image=busybox:1` and `gke-disk-image-builder build --image-name=x-data --data-source=gs:\/\/weights\/m\/`/,
    ],
    ['--base-image', ['--data-source=gs://weights/m/', '--base-image=old'], /--base-image: not supported for a data disk/],
    [
      'a flag of container images',
      ['--data-source=gs://weights/m/', '--registry-secret=ghcr.io=projects/p/secrets/s'],
      /--registry-secret: applies to container images, not to a data disk/,
    ],
    [
      '--hf-token-secret without hf://',
      ['--data-source=gs://weights/m/', `--hf-token-secret=${SECRET}`],
      /--hf-token-secret: needs an hf:\/\/ --data-source/,
    ],
  ])('bad input, %s: exit 2 naming the flag, nothing asked of the cloud', async (_name, extra, message) => {
    const run = await bin([...ARGS, '--image-name=x', ...extra]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(h.emu.requests).toEqual([]);
  });

  it('another bad flag beside an hf:// source and its token: only that flag is named', async () => {
    const run = await bin([...ARGS, '--image-name=x', '--data-source=hf://org/tiny', `--hf-token-secret=${SECRET}`, '--disk-size-gb=1']);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/^error: --disk-size-gb: /m);
    expect(run.stderr).not.toContain('--hf-token-secret');
    expect(h.emu.requests).toEqual([]);
  });

  it.each<[string, string[], RegExp]>([
    [
      'a missing object',
      ['--data-source=gs://weights/models/m2'],
      /--data-source gs:\/\/weights\/models\/m2=m2: gs:\/\/weights\/models\/m2: no such object, and no objects under gs:\/\/weights\/models\/m2\//,
    ],
    ['a missing revision', ['--data-source=hf://org/tiny@v9'], /--data-source hf:\/\/org\/tiny@v9=tiny: .*no revision 'v9' in org\/tiny/],
    ['a gated model without a token', ['--data-source=hf://org/gated'], /the model is gated; .*--hf-token-secret/],
    ['a missing repository', ['--data-source=hf://org/none'], /repository org\/none not found/],
  ])('preflight, %s: exit 1 with the reason, nothing created', async (_name, extra, message) => {
    const run = await bin([...ARGS, '--image-name=x', ...extra]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(mutations()).toEqual([]);
    expectNothingLeft(h.emu);
  });

  it('preflight: sources larger than the disk name the total and the size needed', async () => {
    h.emu.state.objects.set('weights/big/blob.bin', {
      bucket: 'weights',
      name: 'big/blob.bin',
      data: Buffer.alloc(1),
      contentType: 'application/octet-stream',
      generation: 1,
      metageneration: 1,
      createdAt: 0,
      updatedAt: 0,
    });
    // The emulator's listing reports the stored size; make it a 30 GiB object without holding 30 GiB.
    const obj = h.emu.state.object('weights', 'big/blob.bin')!;
    Object.defineProperty(obj.data, 'length', { value: 30 * 1024 ** 3 });
    const run = await bin([...ARGS, '--image-name=x', '--data-source=gs://weights/big/', '--disk-size-gb=20']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /--disk-size-gb: the data sources hold 30\.0 GiB in 1 file; with the filesystem's overhead the disk needs at least 32 GB \(--disk-size-gb=32\), not 20/,
    );
    expect(mutations()).toEqual([]);
  });

  it('preflight: a Hub answering a page that is not JSON (a proxy) is one line naming the source, nothing created', async () => {
    hub.fault({ path: '/api/models/org/tiny/revision/', action: { status: 200, body: '<html><body>Proxy sign-in</body></html>' } });
    const run = await cli([...ARGS, '--image-name=x', '--data-source=hf://org/tiny']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /^error: --data-source hf:\/\/org\/tiny@main=tiny: hf:\/\/org\/tiny@main: the answer of http:\/\/127\.0\.0\.1:\d+ was not JSON \(HTTP 200, text\/html\)/m,
    );
    expect(run.stderr).not.toMatch(/SyntaxError|Unexpected token/);
    expect(mutations()).toEqual([]);
  });

  it('preflight lists a model of more files than the Hub’s model info names (its siblings cut short), every one', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) files[`part/${String(i).padStart(4, '0')}.txt`] = 'x';
    hub.addRepo('org/many', { files });
    hub.siblingsLimit = 1000;
    try {
      const run = await cli([...ARGS, '--image-name=x', '--data-source=hf://org/many', '--dry-run', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!).result as { data: { files: number; bytes: number } };
      expect(result.data).toMatchObject({ files: 1500, bytes: 1500 });
    } finally {
      hub.siblingsLimit = undefined;
    }
  });

  it('preflight: an object stored compressed fails before anything is created, naming it', async () => {
    put('gz/w.bin', 'compressed bytes');
    h.emu.state.object('weights', 'gz/w.bin')!.contentEncoding = 'gzip';
    const run = await bin([...ARGS, '--image-name=x', '--data-source=gs://weights/gz/']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /--data-source gs:\/\/weights\/gz\/=gz: gs:\/\/weights\/gz\/w\.bin: stored compressed \(Content-Encoding: gzip\)/,
    );
    expect(mutations()).toEqual([]);
  });

  it('takes its sources from a --config file too (the flags are its keys)', async () => {
    const config = join(dir, 'data.yaml');
    writeFileSync(config, 'data-source:\n  - gs://weights/models/m1/\n  - hf://org/tiny=tiny\nimage-name: from-file\n');
    const run = await cli([...ARGS, `--config=${config}`, '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!).result as { data: { sources: string[] } };
    expect(result.data.sources).toEqual(['gs://weights/models/m1/=m1', `hf://org/tiny@${commit}=tiny`]);
    expect(mutations()).toEqual([]);
  });

  it('the fingerprint is what dataFingerprint makes of the listing (the VM compares its own with it)', async () => {
    const run = await cli([...ARGS, '--image-name=x', '--data-source=gs://weights/models/m1/config.json', '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!).result as { data: { fingerprint: string; sources: string[] } };
    const o = h.emu.state.object('weights', 'models/m1/config.json')!;
    const md5 = (await import('node:crypto')).createHash('md5').update(o.data).digest('base64');
    expect(result.data.sources).toEqual(['gs://weights/models/m1/config.json=config.json']);
    expect(result.data.fingerprint).toBe(
      dataFingerprint([
        { source: 0, name: 'models/m1/config.json', path: 'config.json', size: 7, checksum: { md5 }, generation: String(o.generation) },
      ]),
    );
  });
});
