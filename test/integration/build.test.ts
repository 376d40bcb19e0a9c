// A whole build through the CLI, the real client libraries and the emulator.
import { BUILD_MUTATIONS } from '../helpers/plan.js';
import { describe, expect, it } from 'vitest';
import { vmScripts } from '../emulator/index.js';
import { BASE_ARGS, bodyOf, expectNothingLeft, objectText, TOKEN, useEmulator } from './harness.js';

describe('build', () => {
  const h = useEmulator();

  it('builds an image from two container images with labels, family and storage location', async () => {
    const r = await h.cli([
      ...BASE_ARGS,
      '--image-name=cache-v1',
      '--container-image=nginx:1.27',
      '--container-image=us-docker.pkg.dev/p/r/app@sha256:' + 'a'.repeat(64),
      '--image-labels=team=ml',
      '--image-labels=release=v1',
      '--image-family-name=ml-cache',
      '--storage-location=us',
      '--disk-size-gb=30',
      '--job-name=ci-job',
      '--image-pull-auth=Auto',
      '--platform=linux/arm64',
      '--machine-type=e2-standard-4',
    ]);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Image has successfully been created at: projects/test-project/global/images/cache-v1\n');

    const disk = bodyOf(h.emu, 'POST', /\/zones\/us-central1-a\/disks$/);
    const runId = /^ci-job-([a-z0-9]{6})-disk$/.exec(disk.name as string)?.[1];
    expect(runId).toBeDefined();
    expect(disk).toMatchObject({
      sizeGb: '30',
      type: expect.stringMatching(/diskTypes\/pd-ssd$/),
      labels: { 'gdib-run': runId, 'gdib-job': 'ci-job', 'gdib-managed': 'true' },
    });
    expect(disk.sourceImage).toBeUndefined();

    const vm = bodyOf(h.emu, 'POST', /\/zones\/us-central1-a\/instances$/) as Record<string, any>;
    expect(vm.name).toBe(`ci-job-${runId}-vm`);
    expect(vm.machineType).toMatch(/machineTypes\/e2-standard-4$/);
    expect(vm.labels).toEqual({
      'gdib-run': runId,
      'gdib-job': 'ci-job',
      'gdib-managed': 'true',
      // The latest the run can still be working, for `cleanup` (docs/architecture.md, Temporary resources).
      'gdib-deadline': expect.stringMatching(/^\d{8}t\d{6}z$/),
    });
    expect((disk.labels as Record<string, string>)['gdib-deadline']).toBe(vm.labels['gdib-deadline']);
    const [boot, data] = vm.disks;
    expect(boot).toMatchObject({
      boot: true,
      autoDelete: true,
      initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' },
    });
    expect(Number(boot.initializeParams.diskSizeGb)).not.toBe(30); // sized on its own
    expect(data).toMatchObject({ deviceName: 'gdib-data', source: expect.stringMatching(new RegExp(`disks/ci-job-${runId}-disk$`)) });
    // Auto with a Google registry among the images: read-only storage, the scope Artifact Registry pulls need.
    expect(vm.serviceAccounts).toEqual([{ email: 'default', scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] }]);
    const meta = Object.fromEntries((vm.metadata.items as Array<{ key: string; value: string }>).map((i) => [i.key, i.value]));
    expect(meta['startup-script']).toMatch(/^#!\/bin\/bash/);
    expect(meta).toMatchObject({
      'enable-guest-attributes': 'TRUE',
      'gdib-mode': 'build',
      'gdib-run-id': runId,
      'gdib-device-name': 'gdib-data',
      'gdib-container-images': `nginx:1.27\nus-docker.pkg.dev/p/r/app@sha256:${'a'.repeat(64)}`,
      'gdib-image-pull-auth': 'Auto',
      'gdib-store-checksums': 'true',
      'gdib-platform': 'linux/arm64',
    });

    const image = bodyOf(h.emu, 'POST', /\/global\/images$/);
    expect(image).toMatchObject({
      name: 'cache-v1',
      family: 'ml-cache',
      labels: { team: 'ml', release: 'v1' },
      storageLocations: ['us'],
      sourceDisk: expect.stringMatching(new RegExp(`disks/ci-job-${runId}-disk$`)),
    });

    // The image is requested once the disk is detached, with the VM's deletion alongside (either may reach the
    // emulator first); the disk is deleted after.
    const order = h.emu.requests.filter((q) => /^(disks|instances|images)\.(insert|delete|detachDisk)$/.test(q.call)).map((q) => q.call);
    const alongside = (calls: string[]) => [...calls.slice(0, 3), ...calls.slice(3, 5).sort(), ...calls.slice(5)];
    expect(alongside(order)).toEqual(alongside(BUILD_MUTATIONS));

    // Every request carried the token; logs and result are in GCS.
    expect(h.emu.requests.filter((q) => q.call !== 'oauth.token').every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const prefix = `logs/ci-job-${runId}`;
    expect(objectText(h.emu, `${prefix}/serial-port-1.log`)).toContain('gdib: state=succeeded');
    const result = JSON.parse(objectText(h.emu, `${prefix}/result.json`)!);
    expect(result).toMatchObject({
      version: 1,
      state: 'succeeded',
      runId,
      image: { name: 'cache-v1', uri: 'projects/test-project/global/images/cache-v1', family: 'ml-cache' },
    });
    expect(Object.keys(result.vmPhases)).toEqual(expect.arrayContaining(['pulling', 'unpacking']));
    const buildLog = objectText(h.emu, `${prefix}/build.log`)!;
    for (const line of buildLog.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();

    expect(h.emu.leftovers().images).toEqual(['test-project/cache-v1']);
    expectNothingLeft(h.emu);
  });

  it('requests the image while the VM is still being deleted, and keeps the disk until the image exists', async () => {
    // GCE takes its time deleting a VM (tens of seconds): here its operation runs 1.5 s by the wall clock.
    h.emu.faults.add({ match: { call: 'instances.delete' }, action: { operationDelayMs: 1_500 } });
    const r = await h.cli([...BASE_ARGS, '--image-name=img-overlap', '--container-image=nginx:1']);
    expect(r.code, r.stderr).toBe(0);
    const ops = [...h.emu.state.operations.values()];
    const vmDeletion = ops.find((op) => op.operationType === 'delete' && /\/instances\//.test(op.targetLink));
    const image = ops.find((op) => op.operationType === 'insert' && /\/images\//.test(op.targetLink));
    const detached = ops.find((op) => op.operationType === 'detachDisk');
    const diskDeletion = ops.find((op) => op.operationType === 'delete' && /\/disks\//.test(op.targetLink));
    expect(vmDeletion?.endTime && image?.endTime && detached?.endTime && diskDeletion).toBeTruthy();
    // Recorded times, compared for their order only: the image insert came after the detach was done and before
    // the VM's deletion was; the disk was deleted only once the image existed.
    expect(image!.insertTime).toBeGreaterThanOrEqual(detached!.endTime!);
    expect(image!.insertTime).toBeLessThan(vmDeletion!.endTime!);
    expect(diskDeletion!.insertTime).toBeGreaterThanOrEqual(image!.endTime!);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-overlap']);
    expectNothingLeft(h.emu);
  });

  it('stops before creating anything when the image name is taken', async () => {
    const first = await h.cli([...BASE_ARGS, '--image-name=taken', '--container-image=nginx:1']);
    expect(first.code).toBe(0);
    const inserts = h.emu.requests.filter((q) => q.method === 'POST' && /\/(disks|instances)$/.test(q.path)).length;
    const r = await h.cli([...BASE_ARGS, '--image-name=taken', '--container-image=nginx:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('image taken already exists in project test-project: choose another --image-name');
    expect(h.emu.requests.filter((q) => q.method === 'POST' && /\/(disks|instances)$/.test(q.path)).length).toBe(inserts);
    expectNothingLeft(h.emu);
  });

  it("fails with the VM's reason and deletes everything, image included", async () => {
    h.emu.vm.script(vmScripts.fail('pulling nginx:1: not found'));
    const r = await h.cli([...BASE_ARGS, '--image-name=img-fail', '--container-image=nginx:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: the VM reported failure: pulling nginx:1: not found');
    expect(h.emu.leftovers().images).toEqual([]);
    expectNothingLeft(h.emu);
  });

  it('boots an Arm VM from the Arm Debian image when the machine type is Arm', async () => {
    const r = await h.cli([
      ...BASE_ARGS,
      '--image-name=arm-cache',
      '--container-image=nginx:1',
      '--machine-type=t2a-standard-4',
      '--platform=linux/arm64',
    ]);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as { disks: Array<{ initializeParams?: { sourceImage: string } }> };
    expect(vm.disks[0]!.initializeParams!.sourceImage).toBe('projects/debian-cloud/global/images/family/debian-12-arm64');
    expectNothingLeft(h.emu);
  });
});
