// --kms-key and --spot against the emulator: the request bodies, preflight's checks of the key, the dry run, the
// config file, and input that is refused. Preemption itself is in the fault matrix (fault-matrix.test.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vmScripts } from '../emulator/index.js';
import { BASE_ARGS, bodyOf, expectNothingLeft, LOCAL_ARGS, useEmulator, VERIFY_ARGS } from './harness.js';

const RING = 'projects/test-project/locations';
const KEY = `${RING}/us-central1/keyRings/gdib/cryptoKeys/disks`;
const build = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];
const SPOT = { provisioningModel: 'SPOT', instanceTerminationAction: 'STOP', automaticRestart: false, onHostMaintenance: 'TERMINATE' };

type Body = Record<string, any>; // REST bodies, read in tests

describe('--kms-key and --spot', () => {
  const h = useEmulator();

  it('--kms-key encrypts the data disk, the boot disk and the image; --spot makes a Spot VM', async () => {
    let bootKey: string | undefined;
    h.emu.vm.onStart(async (vm) => {
      const { project, zone, disks } = vm.instance;
      bootKey = h.emu.state.disk(project, zone, disks.find((d) => d.boot)!.diskName)?.kmsKeyName;
      for (const step of vmScripts.succeed()) {
        if (!(await vm.sleep(step.afterMs ?? 0))) return;
        if (step.serial) vm.appendSerial(step.serial);
        for (const [k, v] of Object.entries(step.attributes ?? {})) vm.setAttribute(k, v);
      }
    });
    const r = await h.cli(build('img-cmek', `--kms-key=${KEY}`, '--spot'));
    expect(r.code, r.stderr).toBe(0);
    expect(bodyOf(h.emu, 'POST', /\/disks$/).diskEncryptionKey).toEqual({ kmsKeyName: KEY });
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as Body;
    expect(vm.disks[0].diskEncryptionKey).toEqual({ kmsKeyName: KEY });
    expect(vm.scheduling).toMatchObject(SPOT);
    const image = bodyOf(h.emu, 'POST', /\/global\/images$/);
    expect(image.imageEncryptionKey).toEqual({ kmsKeyName: KEY });
    // CMEK needs no key for the source disk (sourceDiskEncryptionKey is for customer-supplied keys).
    expect(image.sourceDiskEncryptionKey ?? undefined).toBeUndefined();
    expect(h.emu.state.image('test-project', 'img-cmek')!.kmsKeyName).toBe(KEY);
    expect(bootKey, 'the key of the boot disk, as created').toBe(KEY);
    expect(h.emu.requests.filter((q) => q.call === 'cloudkms.cryptoKeys.get').map((q) => q.path)).toEqual([`/v1/${KEY}`]);
    expectNothingLeft(h.emu);
  });

  it('without them: no key anywhere, a standard VM, and no call to Cloud KMS', async () => {
    expect((await h.cli(build('img-plain'))).code).toBe(0);
    expect(bodyOf(h.emu, 'POST', /\/disks$/).diskEncryptionKey ?? undefined).toBeUndefined();
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as Body;
    expect(vm.disks[0].diskEncryptionKey ?? undefined).toBeUndefined();
    expect(vm.scheduling.provisioningModel ?? 'STANDARD').toBe('STANDARD');
    expect(bodyOf(h.emu, 'POST', /\/global\/images$/).imageEncryptionKey ?? undefined).toBeUndefined();
    expect(h.emu.requests.some((q) => q.call === 'cloudkms.cryptoKeys.get' || q.call === 'instances.get')).toBe(false);
  });

  it('verify --kms-key encrypts the disk it makes from the image', async () => {
    expect((await h.cli(build('img-v', `--kms-key=${KEY}`))).code).toBe(0);
    const r = await h.cli(['verify', ...VERIFY_ARGS, '--image-name=img-v', `--kms-key=${KEY}`, '--spot']);
    expect(r.code, r.stderr).toBe(0);
    const disks = h.emu.requests.filter((q) => q.method === 'POST' && /\/disks$/.test(q.path)).map((q) => q.body as Body);
    expect(disks[1]).toMatchObject({ sourceImage: 'projects/test-project/global/images/img-v', diskEncryptionKey: { kmsKeyName: KEY } });
    expectNothingLeft(h.emu);
  });

  it('--dry-run shows the keys and the Spot scheduling in the bodies, and creates nothing', async () => {
    const r = await h.cli(build('img-dry', `--kms-key=${KEY}`, '--spot', '--dry-run'));
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as Array<{ kind: string; body: Body }>;
    const [disk, vm, image] = plan;
    expect(disk!.body.diskEncryptionKey).toEqual({ kmsKeyName: KEY });
    expect(vm!.body.disks[0].diskEncryptionKey).toEqual({ kmsKeyName: KEY });
    expect(vm!.body.scheduling).toEqual(SPOT);
    expect(image!.body.imageEncryptionKey).toEqual({ kmsKeyName: KEY });
    expect(h.emu.requests.some((q) => /insert|delete/.test(q.call))).toBe(false);
    expect(h.emu.requests.some((q) => q.call === 'cloudkms.cryptoKeys.get')).toBe(true); // preflight read the key
  });

  it('--local --dry-run: the imported image is encrypted with the key', async () => {
    const r = await h.cli([
      ...LOCAL_ARGS,
      '--image-name=img-local',
      '--container-image=nginx:1',
      `--kms-key=${KEY}`,
      '--local',
      '--dry-run',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const image = (JSON.parse(r.stdout) as Array<{ kind: string; body: Body }>).find((p) => p.kind === 'image');
    expect(image!.body).toMatchObject({ rawDisk: expect.any(Object), imageEncryptionKey: { kmsKeyName: KEY } });
  });

  it.each([
    ['a multi-region that contains the region', `${RING}/us/keyRings/gdib/cryptoKeys/multi`],
    ['global', `${RING}/global/keyRings/gdib/cryptoKeys/global`],
  ])('accepts a key in %s', async (_what, key) => {
    const r = await h.cli(build('img-loc', `--kms-key=${key}`, '--dry-run'));
    expect(r.code, r.stderr).toBe(0);
  });

  it.each([
    ['missing', `${KEY}-gone`, `key ${KEY}-gone does not exist (--kms-key)`],
    [
      'in another region',
      `${RING}/europe-west4/keyRings/gdib/cryptoKeys/eu`,
      `key ${RING}/europe-west4/keyRings/gdib/cryptoKeys/eu is in europe-west4, but --zone us-central1-a is in region us-central1`,
    ],
    [
      'with a disabled primary version',
      `${RING}/us-central1/keyRings/gdib/cryptoKeys/disabled`,
      'its primary version is DISABLED (--kms-key)',
    ],
  ])('preflight stops a key that is %s: exit 1 with the reason, nothing created', async (_what, key, reason) => {
    const r = await h.cli(build('img-bad-key', `--kms-key=${key}`));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(reason);
    expect(h.emu.requests.some((q) => /insert/.test(q.call))).toBe(false);
  });

  it('a key the caller may not read is a warning, not a failure (GCE checks it when the disk is created)', async () => {
    h.emu.kms.denied = true;
    const r = await h.cli(build('img-denied', `--kms-key=${KEY}`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: could not check key .* \(you lack cloudkms\.cryptoKeys\.get on it\)/);
  });

  it.each([
    [
      ['--kms-key=projects/p/keyRings/r/cryptoKeys/k'],
      '--kms-key: expected projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY',
    ],
    [[`--kms-key=${KEY}/cryptoKeyVersions/1`], '--kms-key: expected projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY'],
    [['--spot', '--local'], '--spot does not apply to build --local (only to build and verify)'],
    [['--spot=maybe'], '--spot: expected true or false'],
  ])('%j is refused: exit 2 naming the flag, no request', async (more, message) => {
    const r = await h.cli(build('img-bad', ...more));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(h.emu.requests).toEqual([]);
  });

  it('the config file takes kms-key and spot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-cfg-'));
    writeFileSync(join(dir, 'build.yaml'), [`kms-key: ${KEY}`, 'spot: true'].join('\n'));
    const r = await h.cli(['--config=build.yaml', ...build('img-cfg', '--dry-run')], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const [disk, vm] = JSON.parse(r.stdout) as Array<{ body: Body }>;
    expect(disk!.body.diskEncryptionKey).toEqual({ kmsKeyName: KEY });
    expect(vm!.body.scheduling).toEqual(SPOT);
  });
});
