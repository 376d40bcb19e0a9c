// The scenarios of a build beyond the plain success (failed operations, interrupts, timeouts, the serial fallback,
// redaction, concurrent builds, verify, key files, preflight findings), each through the real client libraries and the emulator,
// each ending with no temporary disk or VM left behind.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serialLine, vmScripts } from '../emulator/index.js';
import { until } from '../helpers/until.js';
import { FAST_TUNING, runCli } from '../helpers/cli.js';
import { BASE_ARGS, expectNothingLeft, Signals, TOKEN, useEmulator, VERIFY_ARGS } from './harness.js';

const build = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];

describe('scenarios', () => {
  const h = useEmulator();

  it.each([
    ['503', { status: 503 }],
    ['429', { status: 429, reason: 'rateLimitExceeded' }],
    ['403 rateLimitExceeded', { status: 403, reason: 'rateLimitExceeded' }],
    ['a reset connection', { reset: true as const }],
  ])('retries %s on inserts, waits, reads and GCS writes', async (_name, action) => {
    for (const call of [
      'disks.insert',
      'instances.insert',
      'zoneOperations.wait',
      'instances.getSerialPortOutput',
      'images.insert',
      'storage.objects.insert',
    ] as const) {
      h.emu.faults.add({ match: { call }, times: 2, action });
    }
    const r = await h.cli(build('img-retry'));
    expect(r.stderr).toContain('retrying disks.insert');
    expect(r.code).toBe(0);
    // Retried inserts are idempotent: one disk, one VM, one image.
    expect(h.emu.requests.filter((q) => q.call === 'disks.insert' && q.status === 200).length).toBe(1);
    expect(h.emu.requests.filter((q) => q.call === 'instances.insert' && q.status === 200).length).toBe(1);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-retry']);
    expectNothingLeft(h.emu);
  });

  it('reports an operation that ends in QUOTA_EXCEEDED with its code, and cleans up', async () => {
    h.emu.faults.add({
      match: { call: 'instances.insert' },
      action: { operationError: { code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded. Limit: 8.0 in region us-central1." } },
    });
    const r = await h.cli(build('img-quota'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: creating the temporary vm failed: instances\.insert: operation failed: QUOTA_EXCEEDED: Quota 'CPUS' exceeded/,
    );
    expectNothingLeft(h.emu);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s while waiting for the VM: cleanup, exit 130, nothing left', async (sig) => {
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]); // never finishes
    const signals = new Signals();
    const running = h.cli(build('img-int'), { signals });
    await until(() => h.emu.requests.some((q) => q.call === 'instances.getSerialPortOutput'));
    signals.send(sig);
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`${sig} received`);
    expect(h.emu.leftovers().images).toEqual([]);
    expectNothingLeft(h.emu);
  });

  it('a second Ctrl-C during cleanup says what is left to delete by hand', async () => {
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]);
    h.emu.faults.add({ match: { call: 'instances.delete' }, action: { delayMs: 300 } });
    const signals = new Signals();
    const running = h.cli(build('img-int2'), { signals });
    await until(() => h.emu.requests.some((q) => q.call === 'instances.getSerialPortOutput'));
    signals.send('SIGINT');
    await until(() => h.emu.requests.some((q) => q.call === 'instances.delete'));
    signals.send('SIGINT');
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      /if you stop now, delete these by hand:\n {2}gcloud compute instances delete secondary-disk-image-[a-z0-9]{6}-vm --project test-project --zone us-central1-a --quiet/,
    );
    expectNothingLeft(h.emu);
  });

  it('a step that runs past --timeout fails, naming the step, and cleans up', async () => {
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]);
    const r = await h.cli(build('img-timeout', '--timeout=2s'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: step "wait-vm" did not finish within --timeout (2s)');
    expectNothingLeft(h.emu);
  });

  it('follows the serial console when guest attributes are unavailable', async () => {
    h.emu.vm.script(vmScripts.succeed(), { guestAttributes: 'unavailable' });
    const r = await h.cli(build('img-serial'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('guest attributes are unavailable');
    expect(h.emu.requests.filter((q) => q.call === 'instances.getGuestAttributes').length).toBe(1);
    expectNothingLeft(h.emu);
  });

  it('redacts a token printed by the VM from the terminal, build.log, serial log and result.json', async () => {
    const vmToken = 'ya29.c.vm-leaked-token-ABCDEFGHIJ';
    h.emu.vm.script([
      { afterMs: 0, serial: serialLine('gdib: state=running') },
      { afterMs: 5, serial: serialLine(`oops: Authorization: Bearer ${vmToken}`) },
      {
        afterMs: 5,
        serial: serialLine(`gdib: error=registry said 401 for token ${vmToken}`),
        attributes: { 'gdib/error': `registry refused ${vmToken}` },
      },
      { afterMs: 5, serial: serialLine('gdib: state=failed'), attributes: { 'gdib/state': 'failed' } },
    ]);
    const r = await h.cli(build('img-redact'));
    expect(r.code).toBe(1);
    const everything = [r.stdout, r.stderr, ...[...h.emu.state.objects.values()].map((o) => o.data.toString())].join('\n');
    expect(everything).toContain('[REDACTED]');
    expect(everything).not.toContain('vm-leaked-token');
    expect(everything).not.toContain(TOKEN);
    expect([...h.emu.state.objects.keys()].some((k) => k.endsWith('/result.json'))).toBe(true);
    expectNothingLeft(h.emu);
  });

  it('runs three builds at once, two with the same job name, without touching each other', async () => {
    const runs = await Promise.all([
      h.cli(build('img-a', '--job-name=shared')),
      h.cli(build('img-b', '--job-name=shared')),
      h.cli(build('img-c')),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    const created = h.emu.requests
      .filter((q) => /^(disks|instances)\.insert$/.test(q.call) && q.status === 200)
      .map((q) => (q.body as { name: string }).name);
    expect(new Set(created).size).toBe(6);
    expect(created.filter((n) => n.startsWith('shared-')).length).toBe(4);
    // Each resource is deleted exactly once, and only resources that were created are deleted.
    const deleted = h.emu.requests.filter((q) => /^(disks|instances)\.delete$/.test(q.call)).map((q) => q.path.split('/').pop()!);
    expect(deleted.sort()).toEqual([...created].sort());
    expect(h.emu.leftovers().images.sort()).toEqual(['test-project/img-a', 'test-project/img-b', 'test-project/img-c']);
    expectNothingLeft(h.emu);
  });

  it('verify mode makes the disk from the image, runs the verify script and creates no image', async () => {
    expect((await h.cli(build('img-v'))).code).toBe(0);
    const before = h.emu.requests.length;
    const r = await h.cli([...VERIFY_ARGS, 'verify', '--image-name=img-v']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Image verification succeeded: projects/test-project/global/images/img-v\n');
    const later = h.emu.requests.slice(before);
    const disk = later.find((q) => q.call === 'disks.insert')!.body as Record<string, unknown>;
    expect(disk.sourceImage).toBe('projects/test-project/global/images/img-v');
    const vm = later.find((q) => q.call === 'instances.insert')!.body as { metadata: { items: Array<{ key: string; value: string }> } };
    expect(vm.metadata.items.find((i) => i.key === 'gdib-mode')?.value).toBe('verify');
    expect(later.some((q) => q.call === 'images.insert')).toBe(false);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-v']);
    expectNothingLeft(h.emu);
  });

  it('--verify-only on a missing image fails before creating anything', async () => {
    const r = await h.cli([...VERIFY_ARGS, '--verify-only', '--image-name=nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('image nope does not exist in project test-project');
    expect(h.emu.requests.some((q) => q.call === 'disks.insert')).toBe(false);
  });

  it('authenticates with a key file through its token_uri, and never prints the key or the token', async () => {
    const { keyFile } = h.emu.createServiceAccountKey();
    const dir = mkdtempSync(join(tmpdir(), 'gdib-it-'));
    writeFileSync(join(dir, 'key.json'), JSON.stringify(keyFile));
    const r = await h.cli(build('img-key', '--gcp-oauth=key.json'), { env: { CLOUDSDK_AUTH_ACCESS_TOKEN: undefined }, cwd: dir });
    expect(r.code).toBe(0);
    const grants = h.emu.requests.filter((q) => q.call === 'oauth.token');
    expect(grants.length).toBeGreaterThan(0);
    const issued = h.emu.requests.find((q) => q.call === 'disks.insert')!.authorization!;
    expect(issued).toMatch(/^Bearer ya29\./);
    expect(issued).not.toBe(`Bearer ${TOKEN}`);
    const everything = [r.stdout, r.stderr, ...[...h.emu.state.objects.values()].map((o) => o.data.toString())].join('\n');
    expect(everything).not.toContain(issued.slice(7));
    expect(everything).not.toContain(String(keyFile.private_key).split('\n')[1]);
    expectNothingLeft(h.emu);
  });

  it('tells Autopilot pods which nodeSelector reaches nodes with the image, on stderr and in the --json result', async () => {
    const selector = (image: string) =>
      `nodeSelector:\n  cloud.google.com.node-restriction.kubernetes.io/gke-secondary-boot-disk-${image}: CONTAINER_IMAGE_CACHE.test-project`;
    const human = await h.cli(build('img-ap'));
    expect(human.code).toBe(0);
    expect(human.stderr).toContain(
      `put this nodeSelector in the pod spec, so that the pods run on nodes that have the disk:\n\n${selector('img-ap')}\n`,
    );
    const json = await h.cli(build('img-ap-json', '--json'));
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout.trim().split('\n').pop()!) as { result: { next: { autopilotNodeSelector: string } } };
    expect(result.result.next.autopilotNodeSelector).toBe(selector('img-ap-json'));
    expectNothingLeft(h.emu);
  });

  it('writes the k8s manifests for the image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-k8s-'));
    mkdirSync(join(dir, 'out'));
    const r = await h.cli(build('img-k8s', '--k8s-manifests-filepath=out/snap.yaml', '--k8s-namespace=ml'), { cwd: dir });
    expect(r.code).toBe(0);
    const yaml = readFileSync(join(dir, 'out/snap.yaml'), 'utf8');
    expect(yaml).toContain('kind: VolumeSnapshotContent\nmetadata:\n  name: img-k8s-vsc');
    expect(yaml).toContain(
      '  deletionPolicy: Retain\n  driver: pd.csi.storage.gke.io\n  source:\n    snapshotHandle: projects/test-project/global/images/img-k8s',
    );
    expect(yaml).toContain('kind: VolumeSnapshot\nmetadata:\n  name: img-k8s-vs\n  namespace: ml');
    expect(yaml).toContain('volumeSnapshotContentName: img-k8s-vsc');
    expectNothingLeft(h.emu);
  });

  it('preflight reports every problem at once: missing bucket, machine type and disk type', async () => {
    const r = await h.cli([
      ...build('img-pre', '--machine-type=n9-huge-1', '--disk-type=pd-fancy').filter((a) => !a.startsWith('--gcs-path')),
      '--gcs-path=gs://no-such-bucket/x',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('preflight found 3 problems');
    expect(r.stderr).toContain('bucket gs://no-such-bucket does not exist (--gcs-path)');
    expect(r.stderr).toContain('machine type n9-huge-1 does not exist in zone us-central1-a (--machine-type)');
    expect(r.stderr).toContain('disk type pd-fancy does not exist in zone us-central1-a (--disk-type)');
    expect(h.emu.requests.some((q) => q.call === 'disks.insert')).toBe(false);
  });

  it('preflight checks that a named service account exists', async () => {
    const bad = await h.cli(build('img-sa', '--service-account=ghost@test-project.iam.gserviceaccount.com'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('service account ghost@test-project.iam.gserviceaccount.com does not exist (--service-account)');
    expect(h.emu.requests.some((q) => q.call === 'disks.insert')).toBe(false);
    const good = await h.cli(build('img-sa', '--service-account=builder@test-project.iam.gserviceaccount.com'));
    expect(good.code).toBe(0);
    h.emu.serviceAccounts.denied = true;
    const unknown = await h.cli(build('img-sa2', '--service-account=builder@test-project.iam.gserviceaccount.com'));
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toContain('could not check that service account builder@test-project.iam.gserviceaccount.com exists');
    expectNothingLeft(h.emu);
  });

  it('preflight names a bucket the caller cannot write, and the permission and role', async () => {
    h.emu.state.buckets.get('test-bucket')!.permissions = ['storage.objects.create'];
    const r = await h.cli(build('img-perm'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'you lack storage.objects.delete (to rewrite the serial log as it grows) on gs://test-bucket (--gcs-path): grant roles/storage.objectUser',
    );
    expect(h.emu.requests.some((q) => q.call === 'disks.insert')).toBe(false);
  });
});

describe('a small serial window', () => {
  const h = useEmulator({ serialWindowBytes: 2048 });

  it('reports a gap when the serial window moved past unread output', async () => {
    const noisy = Array.from({ length: 200 }, (_, i) => serialLine(`unpacking layer ${i} ${'x'.repeat(40)}`)).join('');
    h.emu.vm.script(
      [
        { afterMs: 0, serial: serialLine('gdib: state=running') },
        { afterMs: 5, serial: noisy },
        { afterMs: 5, serial: serialLine('gdib: state=succeeded'), attributes: { 'gdib/state': 'succeeded' } },
      ],
      { guestAttributes: 'unavailable' },
    );
    const r = await h.cli(build('img-gap'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: \d+ bytes of serial output were lost/);
    expectNothingLeft(h.emu);
  });
});

describe('secrets in API errors', () => {
  const h = useEmulator();

  it('a token echoed back in an API error message is redacted everywhere', async () => {
    h.emu.faults.add({
      match: { call: 'images.insert' },
      action: { status: 400, reason: 'invalid', message: `bad request from Bearer ${TOKEN} (also ya29.some-other-token-xyz)` },
    });
    const r = await h.cli(build('img-errleak'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad request from Bearer [REDACTED]');
    const everything = [r.stdout, r.stderr, ...[...h.emu.state.objects.values()].map((o) => o.data.toString())].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain('some-other-token');
    expect([...h.emu.state.objects.keys()].some((k) => k.endsWith('/build.log'))).toBe(true);
    expectNothingLeft(h.emu);
  });
});

describe('calls that never answer, and waits that fail', () => {
  const h = useEmulator();

  it('a request with no answer is abandoned after its deadline and retried', async () => {
    h.emu.faults.add({ match: { call: 'disks.insert' }, action: { hang: true } });
    const r = await runCli([...BASE_ARGS, '--image-name=img-hung', '--container-image=nginx:1'], {
      env: h.env,
      tuning: { ...FAST_TUNING, retry: { ...FAST_TUNING.retry!, attemptTimeoutMs: 500 } },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('retrying disks.insert (ETIMEDOUT)');
    // The same requestId both times: one disk.
    const ids = h.emu.requests.filter((q) => q.call === 'disks.insert').map((q) => q.query.requestId);
    expect(ids.length).toBe(2);
    expect(new Set(ids).size).toBe(1);
    expectNothingLeft(h.emu);
  });

  it('when waiting on an insert fails, cleanup waits for the operation before deleting, so nothing leaks', async () => {
    h.emu.faults.add({ match: { call: 'zoneOperations.wait' }, action: { status: 400, reason: 'invalid', message: 'bad wait' } });
    const r = await h.cli(build('img-waitfail'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('creating the temporary data disk failed: zoneOperations.wait: HTTP 400');
    h.emu.settle(); // anything still pending would now appear
    expectNothingLeft(h.emu);
  });
});
