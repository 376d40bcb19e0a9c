import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../helpers/plan.js';
import { UsageError } from '../../src/errors.js';
import type { RawFlags } from '../../src/config/flag.js';
import { loadConfigFile } from '../../src/config/file.js';
import { BUILD_FLAGS } from '../../src/commands/build/flags.js';
import { scriptMetadata } from '../../src/builder/steps/script-input.js';
import type { LocalBuild, VmBuild } from '../../src/config/types.js';
import { DEFAULT_PULL_STALL_TIMEOUT_S, MD } from '../../src/vm/contract.js';

const base: RawFlags = {
  'project-name': 'my-project',
  zone: 'us-central1-a',
  'image-name': 'my-image',
  'gcs-path': 'gs://my-bucket/logs',
  'container-image': ['nginx:1.27'],
};

function problems(flags: RawFlags, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(flags, env);
    return [];
  } catch (err) {
    if (err instanceof UsageError) return [...err.problems];
    throw err;
  }
}

describe('defaults', () => {
  it("are the Go tool's", () => {
    const c = parseConfig(base, {});
    expect(c).toMatchObject({
      mode: 'build',
      imageFamilyName: 'secondary-disk-image',
      jobName: 'secondary-disk-image',
      machineType: 'n2-standard-16',
      diskType: 'pd-ssd',
      diskSizeGb: 60,
      serviceAccount: 'default',
      imagePullAuth: 'None',
      timeoutMs: 20 * 60_000,
      network: 'default',
      storeSnapshotChecksum: true,
      k8sNamespace: 'default',
      platform: 'linux/amd64',
      gcsBucket: 'my-bucket',
      gcsPrefix: 'logs',
      region: 'us-central1',
    });
    expect(c.subnet).toBeUndefined();
    expect(Object.isFrozen(c.plan)).toBe(true);
    expect(Object.isFrozen(c.containerImages)).toBe(true);
  });

  it('take project and zone from the gcloud environment', () => {
    const { 'project-name': _p, zone: _z, ...rest } = base;
    const c = parseConfig(rest, { CLOUDSDK_CORE_PROJECT: 'env-project', CLOUDSDK_COMPUTE_ZONE: 'europe-west4-b' });
    expect([c.projectName, c.zone, c.region]).toEqual(['env-project', 'europe-west4-b', 'europe-west4']);
  });

  it('let flags win over the environment', () => {
    const c = parseConfig(base, { CLOUDSDK_CORE_PROJECT: 'env-project' });
    expect(c.projectName).toBe('my-project');
  });
});

describe('valid values', () => {
  it.each<[string, RawFlags, (c: ReturnType<typeof parseConfig>) => unknown, unknown]>([
    ['go duration', { timeout: '1h30m' }, (c) => c.timeoutMs, 5_400_000],
    ['fractional duration', { timeout: '1.5h' }, (c) => c.timeoutMs, 5_400_000],
    ['seconds', { timeout: '90s' }, (c) => c.timeoutMs, 90_000],
    ['labels', { 'image-labels': ['team=ml', 'env=', 'k_1=v-2'] }, (c) => c.imageLabels, { team: 'ml', env: '', k_1: 'v-2' }],
    ['bool false', { 'store-snapshot-checksum': 'false' }, (c) => c.storeSnapshotChecksum, false],
    ['bool 0', { 'store-snapshot-checksum': '0' }, (c) => c.storeSnapshotChecksum, false],
    ['verify-only', { 'verify-only': 'true' }, (c) => c.mode, 'verify'],
    ['digest ref', { 'container-image': [`gcr.io/p/app@sha256:${'a'.repeat(64)}`] }, (c) => c.containerImages.length, 1],
    ['registry with port', { 'container-image': ['localhost:5000/app:v1'] }, (c) => c.containerImages[0], 'localhost:5000/app:v1'],
    ['duplicate images once', { 'container-image': ['nginx:1', 'nginx:1'] }, (c) => c.containerImages, ['nginx:1']],
    ['bucket root', { 'gcs-path': 'gs://my-bucket' }, (c) => [c.gcsBucket, c.gcsPrefix], ['my-bucket', '']],
    ['trailing slash', { 'gcs-path': 'gs://my-bucket/a/b/' }, (c) => c.gcsPrefix, 'a/b'],
    [
      'subnet path',
      { subnet: 'projects/host-proj/regions/us-central1/subnetworks/sub-1' },
      (c) => c.subnet,
      'projects/host-proj/regions/us-central1/subnetworks/sub-1',
    ],
    [
      'network URL',
      { network: 'https://www.googleapis.com/compute/v1/projects/host-proj/global/networks/vpc' },
      (c) => c.network,
      'https://www.googleapis.com/compute/v1/projects/host-proj/global/networks/vpc',
    ],
    ['Auto pull auth', { 'image-pull-auth': 'Auto' }, (c) => c.imagePullAuth, 'Auto'],
    ['arm64', { platform: 'linux/arm64' }, (c) => c.platform, 'linux/arm64'],
    ['storage locations', { 'storage-location': ['us', 'europe-west4'] }, (c) => c.storageLocations, ['us', 'europe-west4']],
    [
      'service account',
      { 'service-account': 'builder@p.iam.gserviceaccount.com' },
      (c) => c.serviceAccount,
      'builder@p.iam.gserviceaccount.com',
    ],
  ])('%s', (_name, flags, pick, expected) => {
    expect(pick(parseConfig({ ...base, ...flags }, {}))).toEqual(expected);
  });
});

describe('invalid values name their flag', () => {
  it.each<[RawFlags, string]>([
    [{ 'image-name': 'My_Image' }, '--image-name: expected 1-63'],
    [{ 'image-name': 'a'.repeat(64) }, '--image-name: expected 1-63'],
    [{ 'image-name': 'ends-' }, '--image-name:'],
    [{ 'job-name': 'j'.repeat(50) }, '--job-name: expected 1-49'],
    [{ 'image-family-name': '1abc' }, '--image-family-name:'],
    [{ 'image-labels': ['novalue'] }, '--image-labels: "novalue" is not KEY=VALUE'],
    [{ 'image-labels': ['Key=v'] }, '--image-labels: key "Key"'],
    [{ 'image-labels': ['k=V!'] }, '--image-labels: value "V!"'],
    [{ 'gcs-path': 'my-bucket/logs' }, '--gcs-path: expected gs://BUCKET'],
    [{ 'gcs-path': 's3://x/y' }, '--gcs-path:'],
    [{ 'container-image': ['nginx'] }, '--container-image: "nginx" needs a tag or a digest'],
    [{ 'container-image': ['Nginx:1'] }, '--container-image: "Nginx:1"'],
    [{ 'container-image': ['nginx:1;rm -rf /'] }, '--container-image:'],
    [{ 'container-image': ['nginx@sha256:abc'] }, '--container-image:'],
    [{ 'container-image': [] }, '--container-image: required'],
    [{ 'disk-size-gb': '5' }, '--disk-size-gb: expected a whole number from 10'],
    [{ 'disk-size-gb': '1e3' }, '--disk-size-gb:'],
    [{ 'disk-size-gb': '-20' }, '--disk-size-gb:'],
    [{ timeout: '20' }, '--timeout: "20" is not a duration'],
    [{ timeout: '0s' }, '--timeout: must be at least 1s'],
    [{ timeout: '-5m' }, '--timeout: must be at least 1s'],
    [{ 'image-pull-auth': 'token' }, '--image-pull-auth: expected None, ServiceAccountToken or Auto'],
    [{ 'verify-only': 'yes' }, '--verify-only: expected true or false'],
    [{ zone: 'us-central1' }, '--zone: expected a zone'],
    [{ 'project-name': 'My Project' }, '--project-name: expected a project ID'],
    [{ 'service-account': 'not-an-email' }, '--service-account:'],
    [{ network: 'projects/p/networks/x' }, '--network:'],
    [{ subnet: 'projects/p/regions/europe-west1/subnetworks/s' }, '--subnet: is in region europe-west1'],
    [{ 'storage-location': ['US'] }, '--storage-location:'],
    [{ platform: 'windows/amd64' }, '--platform:'],
    [{ 'k8s-namespace': 'Kube_System' }, '--k8s-namespace:'],
    [{ 'gcp-oauth': '/nonexistent/key.json' }, '--gcp-oauth: /nonexistent/key.json does not exist'],
  ])('%j', (flags, expected) => {
    const p = problems({ ...base, ...flags });
    expect(p.length).toBeGreaterThan(0);
    expect(p.some((line) => line.startsWith(expected))).toBe(true);
    for (const line of p) expect(line).not.toMatch(/\n/);
  });

  it('reports every problem at once', () => {
    const p = problems({ 'image-name': 'BAD', timeout: 'x', 'container-image': ['x'] });
    expect(p.map((l) => l.split(':')[0])).toEqual(
      expect.arrayContaining(['--project-name', '--zone', '--image-name', '--gcs-path', '--container-image', '--timeout']),
    );
  });

  it('does not require images in verify mode', () => {
    const { 'container-image': _c, ...rest } = base;
    expect(parseConfig(rest, {}, { mode: 'verify' }).mode).toBe('verify');
  });
});

describe('--image-name fits the node label GKE derives from it', () => {
  const name = (n: number) => `i${'m'.repeat(n - 1)}`;
  const { 'container-image': _c, ...noImages } = base;
  const local: RawFlags = { local: 'true', zone: undefined };
  const nameProblems = (flags: RawFlags, opts: Parameters<typeof parseConfig>[2], length: number): string[] => {
    try {
      parseConfig({ ...flags, 'image-name': name(length) }, {}, opts);
      return [];
    } catch (err) {
      if (err instanceof UsageError) return [...err.problems];
      throw err;
    }
  };
  const rejected = (p: string[]) =>
    p.length === 1 &&
    /^--image-name: at most 39 characters for builds \(got \d+\): .*node.*label/.test(p[0]!) &&
    p[0]!.includes('cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-');

  it.each<[string, RawFlags, Parameters<typeof parseConfig>[2]]>([
    ['build (the default)', base, {}],
    ['build', base, { mode: 'build' }],
    ['build --local', { ...base, ...local }, {}],
    ['build --local --output', { ...base, ...local, output: 'disk.tar.gz' }, {}],
  ])('%s: 39 characters are accepted, 40 and 63 rejected', (_what, flags, opts) => {
    expect(nameProblems(flags, opts, 39)).toEqual([]);
    expect(rejected(nameProblems(flags, opts, 40))).toBe(true);
    expect(rejected(nameProblems(flags, opts, 63))).toBe(true);
    // A long name that breaks the GCE rules gets those rules, once.
    expect(problems({ ...flags, 'image-name': 'A'.repeat(45) })).toEqual([expect.stringMatching(/^--image-name: expected 1-63/)]);
  });

  it('verifying an existing image still takes up to 63 characters, while building the same name does not', () => {
    expect(nameProblems(noImages, { mode: 'verify' }, 63)).toEqual([]);
    expect(nameProblems({ ...noImages, 'verify-only': 'true' }, {}, 63)).toEqual([]);
    expect(rejected(nameProblems(base, {}, 63))).toBe(true);
  });
});

describe('--gcp-oauth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gdib-key-'));
  it('reads a service-account key by relative path and keeps its token_uri', () => {
    writeFileSync(
      join(dir, 'key.json'),
      JSON.stringify({
        type: 'service_account',
        client_email: 'a@b.iam.gserviceaccount.com',
        private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
        token_uri: 'http://127.0.0.1:1/token',
      }),
    );
    const c = parseConfig({ ...base, 'gcp-oauth': 'key.json' }, {}, { cwd: dir });
    expect(c.keyFile).toMatchObject({ type: 'service_account', tokenUri: 'http://127.0.0.1:1/token', path: join(dir, 'key.json') });
  });
  it('rejects a file that is not a key', () => {
    writeFileSync(join(dir, 'bad.json'), '{"type":"external_account"}');
    expect(problems({ ...base, 'gcp-oauth': join(dir, 'bad.json') })[0]).toMatch(/^--gcp-oauth: .* has type "external_account"/);
    writeFileSync(join(dir, 'text.json'), 'hello');
    expect(problems({ ...base, 'gcp-oauth': join(dir, 'text.json') })[0]).toMatch(/^--gcp-oauth: .* is not JSON/);
  });
});

describe('output files are checked before anything is spent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gdib-out-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  // A local run takes no --zone (it has no VM).
  const local = { local: 'true', zone: undefined };

  it.each<[string, RawFlags, string]>([
    [
      'manifests: missing parent',
      { 'k8s-manifests-filepath': join(dir, 'missing/snap.yaml') },
      `--k8s-manifests-filepath: directory ${join(dir, 'missing')} does not exist`,
    ],
    [
      'manifests: relative, missing parent',
      { 'k8s-manifests-filepath': 'missing/snap.yaml' },
      `--k8s-manifests-filepath: directory ${join(dir, 'missing')} does not exist`,
    ],
    [
      'manifests: parent is a file',
      { 'k8s-manifests-filepath': join(file, 'snap.yaml') },
      `--k8s-manifests-filepath: ${file} is not a directory`,
    ],
    [
      'manifests: under a file',
      { 'k8s-manifests-filepath': join(file, 'sub/snap.yaml') },
      `--k8s-manifests-filepath: ${join(file, 'sub')} is not a directory`,
    ],
    // /proc/1 exists and is a directory, but no file can be created in it, not even by root.
    [
      'manifests: unwritable parent',
      { 'k8s-manifests-filepath': '/proc/1/snap.yaml' },
      '--k8s-manifests-filepath: directory /proc/1 is not writable',
    ],
    [
      'manifests: under /proc, missing parent',
      { 'k8s-manifests-filepath': '/proc/self/foo/x.yaml' },
      '--k8s-manifests-filepath: directory /proc/self/foo does not exist',
    ],
    ['manifests: a directory', { 'k8s-manifests-filepath': dir }, `--k8s-manifests-filepath: ${dir} is a directory`],
    [
      'manifests with --dry-run',
      { 'k8s-manifests-filepath': join(dir, 'missing/snap.yaml'), 'dry-run': 'true' },
      '--k8s-manifests-filepath: directory',
    ],
    [
      'manifests with --local',
      { ...local, 'k8s-manifests-filepath': '/proc/1/snap.yaml' },
      '--k8s-manifests-filepath: directory /proc/1 is not writable',
    ],
    [
      'archive: missing parent',
      { ...local, output: join(dir, 'missing/disk.tar.gz') },
      `--output: directory ${join(dir, 'missing')} does not exist`,
    ],
    ['archive: parent is a file', { ...local, output: join(file, 'disk.tar.gz') }, `--output: ${file} is not a directory`],
    ['archive: unwritable parent', { ...local, output: '/proc/1/disk.tar.gz' }, '--output: directory /proc/1 is not writable'],
    [
      'archive only: unwritable parent',
      { local: 'true', output: '/proc/1/disk.tar.gz', 'image-name': undefined },
      '--output: directory /proc/1 is not writable',
    ],
  ])('%s', (_name, flags, expected) => {
    let p: string[];
    try {
      parseConfig({ ...base, ...flags }, {}, { cwd: dir });
      p = [];
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      p = [...err.problems];
    }
    expect(
      p.filter((line) => line.startsWith(expected)),
      p.join('\n'),
    ).toHaveLength(1);
    for (const line of p) expect(line).not.toMatch(/\n/);
  });

  it('accepts a new or existing file in a writable directory, not one in a missing directory', () => {
    const c = parseConfig({ ...base, 'k8s-manifests-filepath': 'snap.yaml' }, {}, { cwd: dir });
    expect(c.k8sManifestsFilepath).toBe(join(dir, 'snap.yaml'));
    expect(parseConfig({ ...base, 'k8s-manifests-filepath': file }, {}).k8sManifestsFilepath).toBe(file);
    expect(parseConfig({ ...base, local: 'true', zone: undefined, output: 'disk.tar.gz' }, {}, { cwd: dir }).archivePath).toBe(
      join(dir, 'disk.tar.gz'),
    );
    expect(problems({ ...base, 'k8s-manifests-filepath': join(dir, 'no/snap.yaml') })).toHaveLength(1);
  });

  it('judges only what the run writes: not the manifests of a verify, nor the archive of a VM build', () => {
    const path = '/proc/1/snap.yaml';
    expect(problems({ ...base, 'k8s-manifests-filepath': path })).toEqual([
      expect.stringMatching(/^--k8s-manifests-filepath: directory \/proc\/1 is not writable \(E[A-Z]+\)$/),
    ]);
    // --verify-only accepts and ignores it, as the Go tool did; the verify command takes no flag it does not use.
    expect(parseConfig({ ...base, 'k8s-manifests-filepath': path, 'verify-only': 'true' }, {}).mode).toBe('verify');
    const { 'container-image': _images, ...verifyBase } = base;
    expect(() => parseConfig({ ...verifyBase, 'k8s-manifests-filepath': path }, {}, { mode: 'verify' })).toThrow(
      '--k8s-manifests-filepath does not apply to verify (only to build and build --local)',
    );
    // --output without --local is refused for that, not for its directory.
    expect(problems({ ...base, output: '/proc/1/disk.tar.gz' })).toEqual(['--output does not apply to build (only to build --local)']);
  });

  it('verify --local FILE: the file must exist and be a file', () => {
    const verify = (positionals: string[]) => {
      try {
        parseConfig({ local: 'true' }, {}, { mode: 'verify', cwd: dir, positionals });
        return [];
      } catch (err) {
        return [...(err as UsageError).problems];
      }
    };
    expect(verify(['nope.tar.gz'])).toEqual([`--local: the disk file ${join(dir, 'nope.tar.gz')} does not exist`]);
    expect(verify([dir])).toEqual([
      `--local: the disk file ${dir} is a directory, not a file: give a disk image archive (.tar.gz) or a raw disk file`,
    ]);
    expect(verify(['a-file'])).toEqual([]);
  });
});

describe('--if-changed', () => {
  it('is off by default and lands in the plans that build an image', () => {
    expect(parseConfig(base, {}).ifChanged).toBe(false);
    expect(parseConfig({ ...base, 'if-changed': 'true' }, {})).toMatchObject({ kind: 'vm-build', ifChanged: true });
    expect(parseConfig({ ...base, 'if-changed': 'true', local: 'true', zone: undefined }, {})).toMatchObject({
      kind: 'local-build',
      ifChanged: true,
    });
    expect(parseConfig({ ...base, 'if-changed': 'true', 'dry-run': 'true' }, {})).toMatchObject({ dryRun: true, ifChanged: true });
  });

  it.each<[string, RawFlags, string[]]>([
    [
      'with --skip-image-check: both flags named',
      { 'skip-image-check': 'true' },
      ['--if-changed and --skip-image-check: cannot be used together (the image digests are needed to compare)'],
    ],
    ['with --force: allowed (--force always builds)', { force: 'true' }, []],
    ['for verify', { 'verify-only': 'true' }, ['--if-changed does not apply to verify (only to build and build --local)']],
    [
      'for a local bake to a file only',
      { local: 'true', zone: undefined, output: join(tmpdir(), 'gdib-ifc.tar.gz'), 'image-name': undefined },
      ['--if-changed: needs --image-name (it compares with the images of --image-family-name)'],
    ],
    ['with an empty --image-family-name', { 'image-family-name': '' }, [expect.stringMatching(/^--image-family-name: /)]],
  ])('%s', (_name, flags, expected) => {
    const raw: RawFlags = { ...base, 'if-changed': 'true', ...flags };
    for (const [k, v] of Object.entries(raw)) if (v === undefined) delete raw[k];
    expect(problems(raw)).toEqual(expected);
  });
});

describe('--pull-stall-timeout', () => {
  it("defaults to the contract's default, takes seconds or a duration, and reaches the agent as whole seconds", () => {
    expect(parseConfig(base, {}).pullStallTimeoutMs).toBe(DEFAULT_PULL_STALL_TIMEOUT_S * 1000);
    expect(parseConfig({ ...base, 'pull-stall-timeout': '45' }, {}).pullStallTimeoutMs).toBe(45_000);
    const local = parseConfig({ ...base, 'pull-stall-timeout': '5m', local: 'true', zone: undefined }, {});
    expect(local).toMatchObject({ kind: 'local-build', pullStallTimeoutMs: 300_000 });
    const md = scriptMetadata(local.plan as LocalBuild, { runId: 'r1' });
    expect(md.find((i) => i.key === MD.pullStallTimeout)?.value).toBe('300');
    const vm = parseConfig({ ...base, 'pull-stall-timeout': '1m30s' }, {});
    expect(scriptMetadata(vm.plan as VmBuild, { runId: 'r1' }).find((i) => i.key === MD.pullStallTimeout)?.value).toBe('90');
  });

  it.each<[string, string]>([
    ['0', '--pull-stall-timeout: must be at least 1 second'],
    ['0s', '--pull-stall-timeout: must be at least 1 second'],
    ['1.5s', '--pull-stall-timeout: "1.5s" is not a whole number of seconds'],
    ['-5', '--pull-stall-timeout: "-5" is neither a whole number of seconds nor a duration (expected e.g. 300, 90s or 5m)'],
    ['soon', '--pull-stall-timeout: "soon" is neither a whole number of seconds nor a duration (expected e.g. 300, 90s or 5m)'],
    ['200h', '--pull-stall-timeout: must be at most 168h'],
  ])('%j is refused, naming the flag', (value, expected) => {
    expect(problems({ ...base, 'pull-stall-timeout': value })).toEqual([expected]);
  });

  it('does not apply to verify', () => {
    expect(problems({ ...base, 'verify-only': 'true', 'pull-stall-timeout': '60' })).toEqual([
      '--pull-stall-timeout does not apply to verify (only to build and build --local)',
    ]);
  });
});

describe('--incremental and --base-image', () => {
  it('are off by default; each lands in the VM build plan as where its data disk starts from', () => {
    expect(parseConfig(base, {}).base).toBeUndefined();
    expect(parseConfig({ ...base, incremental: 'true' }, {}).base).toEqual({ from: 'family' });
    expect(parseConfig({ ...base, incremental: 'false' }, {}).base).toBeUndefined();
    expect(parseConfig({ ...base, incremental: '1', 'dry-run': 'true' }, {})).toMatchObject({ dryRun: true, base: { from: 'family' } });
  });

  it.each<[string, { project: string; name: string }]>([
    ['projects/other-project/global/images/cache-1', { project: 'other-project', name: 'cache-1' }],
    [
      'https://compute.googleapis.com/compute/v1/projects/other-project/global/images/cache-1',
      { project: 'other-project', name: 'cache-1' },
    ],
    ['https://www.googleapis.com/compute/v1/projects/example.com:p-1/global/images/c', { project: 'example.com:p-1', name: 'c' }],
    ['cache-1', { project: 'my-project', name: 'cache-1' }],
  ])('--base-image=%s', (value, ref) => {
    expect(parseConfig({ ...base, 'base-image': value }, {}).base).toEqual({ from: 'image', ...ref });
  });

  it.each<[string, RawFlags, string[]]>([
    [
      'both together',
      { incremental: 'true', 'base-image': 'projects/p-12345/global/images/x' },
      [
        '--incremental and --base-image: cannot be used together (--base-image names the image to start from, --incremental picks the newest of --image-family-name)',
      ],
    ],
    [
      '--incremental with --local',
      { incremental: 'true', local: 'true', zone: undefined },
      ['--incremental does not apply to build --local (only to build)'],
    ],
    [
      '--base-image with --local',
      { 'base-image': 'x', local: 'true', zone: undefined },
      ['--base-image does not apply to build --local (only to build)'],
    ],
    [
      '--incremental for verify',
      { incremental: 'true', 'verify-only': 'true' },
      ['--incremental does not apply to verify (only to build)'],
    ],
    ['--base-image for verify', { 'base-image': 'x', 'verify-only': 'true' }, ['--base-image does not apply to verify (only to build)']],
    ['--incremental, not a bool', { incremental: 'maybe' }, ['--incremental: expected true or false']],
    [
      '--base-image, a family',
      { 'base-image': 'projects/p-12345/global/images/family/cache' },
      ['--base-image: expected an image, not a family: name the image, or use --incremental for the newest of --image-family-name'],
    ],
    [
      '--base-image, another resource',
      { 'base-image': 'projects/p-12345/global/snapshots/s' },
      [
        '--base-image: expected projects/PROJECT/global/images/NAME (or its https://compute.googleapis.com/compute/v1/ URL, or a NAME in --project-name)',
      ],
    ],
    ['--incremental with --if-changed and --force: allowed', { incremental: 'true', 'if-changed': 'true', force: 'true' }, []],
  ])('%s', (_name, flags, expected) => {
    expect(problems({ ...base, ...flags })).toEqual(expected);
  });

  it('are read from a config file like any flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-incr-'));
    writeFileSync(join(dir, 'c.yaml'), 'incremental: true\nbase-image: projects/p-12345/global/images/x\n');
    const raw = await loadConfigFile('c.yaml', dir, BUILD_FLAGS);
    expect(raw).toEqual({ incremental: 'true', 'base-image': 'projects/p-12345/global/images/x' });
    expect(parseConfig({ ...base, incremental: raw.incremental }, {}).base).toEqual({ from: 'family' });
  });
});
