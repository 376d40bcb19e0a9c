import { DisksClient, ImagesClient, InstancesClient, ZoneOperationsClient, GlobalOperationsClient } from '@google-cloud/compute';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeOptions } from './clients.js';
import { startEmulator, type Emulator } from './index.js';

const project = 'test-project';
const zone = 'us-central1-a';
const TOKEN = 'ya29.test-token';

let emu: Emulator;
let disks: DisksClient;
let instances: InstancesClient;
let images: ImagesClient;
let zoneOps: ZoneOperationsClient;
let globalOps: GlobalOperationsClient;

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN] });
  const opts = computeOptions(emu, TOKEN);
  disks = new DisksClient(opts);
  instances = new InstancesClient(opts);
  images = new ImagesClient(opts);
  zoneOps = new ZoneOperationsClient(opts);
  globalOps = new GlobalOperationsClient(opts);
});
afterEach(async () => {
  await Promise.all([disks.close(), instances.close(), images.close(), zoneOps.close(), globalOps.close()]);
  await emu.close();
});

type Op = { name?: string | null; status?: unknown; error?: { errors?: Array<{ code?: string | null }> | null } | null };
const opOf = (r: readonly unknown[]): Op => (r[0] as { latestResponse: Op }).latestResponse;

async function waitZone(op: Op): Promise<Op> {
  const [done] = await zoneOps.wait({ project, zone, operation: op.name! });
  expect(done.status).toBe('DONE');
  expect(done.error ?? undefined).toBeUndefined();
  return done;
}

const vmResource = (name: string, dataDisk: string) => ({
  name,
  machineType: `zones/${zone}/machineTypes/n2-standard-16`,
  disks: [
    {
      boot: true,
      autoDelete: true,
      initializeParams: {
        sourceImage: 'projects/debian-cloud/global/images/family/debian-12',
        diskSizeGb: '10',
        diskType: `zones/${zone}/diskTypes/pd-balanced`,
      },
    },
    { source: `projects/${project}/zones/${zone}/disks/${dataDisk}`, deviceName: 'gdib-data', autoDelete: false },
  ],
  networkInterfaces: [{ network: 'global/networks/default' }],
  serviceAccounts: [{ email: 'default', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
  metadata: {
    items: [
      { key: 'enable-guest-attributes', value: 'TRUE' },
      { key: 'gdib-mode', value: 'build' },
    ],
  },
  labels: { 'gdib-run': 'abc123', 'gdib-managed': 'true' },
  scheduling: { onHostMaintenance: 'MIGRATE' },
  shieldedInstanceConfig: { enableSecureBoot: true },
  tags: { items: ['gdib'] },
});

describe('compute through @google-cloud/compute', () => {
  it('builds an image: disk → VM → serial/guest attributes → detach → delete VM → image → cleanup', async () => {
    const insert = opOf(
      await disks.insert({
        project,
        zone,
        diskResource: {
          name: 'job-abc123-disk',
          sizeGb: '60',
          type: `https://www.googleapis.com/compute/v1/projects/${project}/zones/${zone}/diskTypes/pd-ssd`,
          labels: { 'gdib-run': 'abc123' },
        },
      }),
    );
    expect(insert.status).toBe('PENDING');
    await expect(disks.get({ project, zone, disk: 'job-abc123-disk' })).rejects.toMatchObject({ code: 404 });
    await waitZone(insert);
    const [disk] = await disks.get({ project, zone, disk: 'job-abc123-disk' });
    expect(disk).toMatchObject({ sizeGb: '60', status: 'READY', labels: { 'gdib-run': 'abc123' } });

    await waitZone(opOf(await instances.insert({ project, zone, instanceResource: vmResource('job-abc123-vm', 'job-abc123-disk') })));
    const [vm] = await instances.get({ project, zone, instance: 'job-abc123-vm' });
    expect(vm.status).toBe('RUNNING');
    expect(vm.disks?.map((d) => [d.deviceName, d.boot, d.autoDelete])).toEqual([
      ['job-abc123-vm', true, true],
      ['gdib-data', false, false],
    ]);
    expect(vm.serviceAccounts?.[0]?.email).toMatch(/-compute@developer\.gserviceaccount\.com$/);
    expect(vm.metadata?.items).toContainEqual(expect.objectContaining({ key: 'gdib-mode', value: 'build' }));

    // The default VM run: poll the serial console by offset until it reports success.
    let next = 0;
    let log = '';
    for (let i = 0; i < 200 && !log.includes('gdib: state=succeeded'); i++) {
      const [out] = await instances.getSerialPortOutput({ project, zone, instance: 'job-abc123-vm', port: 1, start: next });
      expect(Number(out.start)).toBe(next);
      log += out.contents ?? '';
      next = Number(out.next);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(log).toMatch(/startup-script: gdib: state=running\n[\s\S]*gdib: phase=pulling[\s\S]*gdib: state=succeeded\n$/);

    const [attrs] = await instances.getGuestAttributes({ project, zone, instance: 'job-abc123-vm', queryPath: 'gdib/' });
    expect(attrs.queryValue?.items).toContainEqual(expect.objectContaining({ namespace: 'gdib', key: 'state', value: 'succeeded' }));
    const [state] = await instances.getGuestAttributes({ project, zone, instance: 'job-abc123-vm', variableKey: 'gdib/state' });
    expect(state.variableValue).toBe('succeeded');

    // Imaging a disk still attached to a running VM is refused without forceCreate.
    await expect(
      images.insert({ project, imageResource: { name: 'my-image', sourceDisk: `zones/${zone}/disks/job-abc123-disk` } }),
    ).rejects.toMatchObject({
      code: 400,
      message: expect.stringContaining('resourceInUseByAnotherResource'),
    });
    await expect(disks.delete({ project, zone, disk: 'job-abc123-disk' })).rejects.toMatchObject({ code: 400 });

    await waitZone(opOf(await instances.detachDisk({ project, zone, instance: 'job-abc123-vm', deviceName: 'gdib-data' })));
    expect(emu.state.disk(project, zone, 'job-abc123-disk')?.users).toEqual([]);
    await waitZone(opOf(await instances.delete({ project, zone, instance: 'job-abc123-vm' })));
    expect(emu.state.disk(project, zone, 'job-abc123-vm')).toBeUndefined(); // auto-delete boot disk

    const imageOp = opOf(
      await images.insert({
        project,
        imageResource: {
          name: 'my-image',
          family: 'secondary-disk-image',
          sourceDisk: `projects/${project}/zones/${zone}/disks/job-abc123-disk`,
          labels: { team: 'x' },
          storageLocations: ['us-central1'],
        },
      }),
    );
    const [imageDone] = await globalOps.wait({ project, operation: imageOp.name! });
    expect(imageDone).toMatchObject({ status: 'DONE', operationType: 'insert' });
    const [image] = await images.getFromFamily({ project, family: 'secondary-disk-image' });
    expect(image).toMatchObject({
      name: 'my-image',
      diskSizeGb: '60',
      status: 'READY',
      storageLocations: ['us-central1'],
      labels: { team: 'x' },
    });

    await waitZone(opOf(await disks.delete({ project, zone, disk: 'job-abc123-disk' })));
    expect(emu.leftovers()).toEqual({ disks: [], instances: [], images: [`${project}/my-image`] });
    const ledger = emu.state.ledger.map((e) => [e.kind, e.name, e.sizeGb, e.deletedAt !== undefined]);
    expect(ledger).toEqual([
      ['disk', 'job-abc123-disk', 60, true],
      ['disk', 'job-abc123-vm', 10, true],
      ['instance', 'job-abc123-vm', undefined, true],
      ['image', 'my-image', 60, false],
    ]);
  });

  it('moves operations one state per get', async () => {
    const op = opOf(
      await disks.insert({ project, zone, diskResource: { name: 'd1', sizeGb: '10', type: `zones/${zone}/diskTypes/pd-standard` } }),
    );
    const seen: unknown[] = [op.status];
    for (let i = 0; i < 3; i++) seen.push((await zoneOps.get({ project, zone, operation: op.name! }))[0].status);
    expect(seen).toEqual(['PENDING', 'RUNNING', 'DONE', 'DONE']);
    expect(emu.state.disk(project, zone, 'd1')).toBeDefined();
  });

  it('answers 409, 404 and 400 as GCE does', async () => {
    const d = { name: 'dup', sizeGb: '10', type: `zones/${zone}/diskTypes/pd-ssd` };
    await disks.insert({ project, zone, diskResource: d }); // in flight: the name is taken already
    await expect(disks.insert({ project, zone, diskResource: d })).rejects.toMatchObject({ code: 409 });
    await expect(disks.get({ project, zone: 'mars-north1-a', disk: 'dup' })).rejects.toMatchObject({ code: 404 });
    await expect(disks.get({ project: 'nope', zone, disk: 'dup' })).rejects.toMatchObject({ code: 404 });
    await expect(instances.delete({ project, zone, instance: 'ghost' })).rejects.toMatchObject({ code: 404 });
    await expect(disks.insert({ project, zone, diskResource: { ...d, name: 'bare', type: 'pd-ssd' } })).rejects.toMatchObject({
      code: 400,
    });
    await expect(disks.insert({ project, zone, diskResource: { ...d, name: 'tiny', sizeGb: '5' } })).rejects.toMatchObject({ code: 400 });
    const arm = { ...vmResource('arm-vm', 'dup'), machineType: `zones/${zone}/machineTypes/t2a-standard-4` };
    await expect(instances.insert({ project, zone, instanceResource: arm })).rejects.toMatchObject({ code: 400 });
  });

  it('lists with label filters, pages, and aggregates over zones', async () => {
    const mk = (name: string, z: string, run: string) =>
      disks.insert({
        project,
        zone: z,
        diskResource: { name, sizeGb: '10', type: `zones/${z}/diskTypes/pd-ssd`, labels: { 'gdib-run': run, 'gdib-managed': 'true' } },
      });
    await mk('a1', zone, 'aaaaaa');
    await mk('a2', zone, 'bbbbbb');
    await mk('b1', 'us-central1-b', 'aaaaaa');
    emu.settle();
    const [byRun] = await disks.list({ project, zone, filter: 'labels.gdib-run = "aaaaaa"' });
    expect(byRun.map((d) => d.name)).toEqual(['a1']);
    const [bare] = await disks.list({ project, zone, filter: 'labels.gdib-run=bbbbbb' });
    expect(bare.map((d) => d.name)).toEqual(['a2']);
    const [paged] = await disks.list({ project, zone, maxResults: 1 }); // autoPaginate follows nextPageToken
    expect(paged.map((d) => d.name)).toEqual(['a1', 'a2']);
    const found: string[] = [];
    for await (const [scope, list] of disks.aggregatedListAsync(
      { project, filter: 'labels.gdib-managed = "true"' },
      { autoPaginate: false },
    )) {
      for (const d of list.disks ?? []) found.push(`${scope}/${d.name}`);
    }
    expect(found.sort()).toEqual(['zones/us-central1-a/a1', 'zones/us-central1-a/a2', 'zones/us-central1-b/b1']);
    await expect(disks.list({ project, zone, filter: 'labels.x ~~ y' })).rejects.toMatchObject({ code: 400 });
  });

  it('serves the catalog', async () => {
    const { ZonesClient, MachineTypesClient, DiskTypesClient, NetworksClient, SubnetworksClient, ProjectsClient } =
      await import('@google-cloud/compute');
    const opts = computeOptions(emu, TOKEN);
    const [z] = await new ZonesClient(opts).get({ project, zone });
    expect(z.region).toMatch(/regions\/us-central1$/);
    const [m] = await new MachineTypesClient(opts).get({ project, zone, machineType: 't2a-standard-4' });
    expect(m.architecture).toBe('ARM64');
    await new DiskTypesClient(opts).get({ project, zone, diskType: 'hyperdisk-balanced' });
    await new NetworksClient(opts).get({ project, network: 'default' });
    await new SubnetworksClient(opts).get({ project, region: 'europe-west4', subnetwork: 'default' });
    const [p] = await new ProjectsClient(opts).get({ project });
    expect(p.name).toBe(project);
    const [debian] = await images.getFromFamily({ project: 'debian-cloud', family: 'debian-12' });
    expect(debian.name).toBe('debian-12-bookworm-v20240312');
  });
});

describe('references, images and cleanup scans', () => {
  it('accepts full URLs (any host), partial paths and family URLs; rejects bare names', async () => {
    const forms = [
      'https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/family/debian-12',
      `${emu.computeEndpoint}projects/debian-cloud/global/images/debian-12-bookworm-v20240312`,
      'projects/debian-cloud/global/images/family/debian-12',
    ];
    for (const [i, sourceImage] of forms.entries()) {
      await waitZone(
        opOf(
          await disks.insert({
            project,
            zone,
            diskResource: { name: `from-image-${i}`, sourceImage, type: `projects/${project}/zones/${zone}/diskTypes/pd-balanced` },
          }),
        ),
      );
      expect(emu.state.disk(project, zone, `from-image-${i}`)).toMatchObject({
        sizeGb: 10,
        sourceImage: expect.stringContaining('debian-12-bookworm-v20240312'),
      });
    }
    await expect(
      disks.insert({ project, zone, diskResource: { name: 'bare', sourceImage: 'debian-12', type: `zones/${zone}/diskTypes/pd-ssd` } }),
    ).rejects.toMatchObject({ code: 400 });
    await expect(
      disks.insert({ project, zone, diskResource: { name: 'nofam', sourceImage: 'projects/debian-cloud/global/images/family/debian-99' } }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('seeds images with a description and a status; a disk from an image of another project is at least its size; an unknown image is 404', async () => {
    const other = await startEmulator({
      acceptTokens: [TOKEN],
      images: [
        { project: 'base-project', name: 'base', diskSizeGb: 30, description: 'Built by someone\ngdib:{}' },
        { project, name: 'pending', status: 'PENDING' },
      ],
    });
    const opts = computeOptions(other, TOKEN);
    const [d, im, ops] = [new DisksClient(opts), new ImagesClient(opts), new ZoneOperationsClient(opts)];
    try {
      const [base] = await im.get({ project: 'base-project', image: 'base' });
      expect(base).toMatchObject({ description: 'Built by someone\ngdib:{}', diskSizeGb: '30', status: 'READY' });
      expect((await im.get({ project, image: 'pending' }))[0]).toMatchObject({ status: 'PENDING' });
      expect((await im.get({ project, image: 'pending' }))[0].description ?? undefined).toBeUndefined();
      const sourceImage = 'projects/base-project/global/images/base';
      await expect(
        d.insert({ project, zone, diskResource: { name: 'small', sourceImage, sizeGb: '10', type: `zones/${zone}/diskTypes/pd-ssd` } }),
      ).rejects.toMatchObject({ code: 400 });
      const op = opOf(
        await d.insert({ project, zone, diskResource: { name: 'big', sourceImage, sizeGb: '40', type: `zones/${zone}/diskTypes/pd-ssd` } }),
      );
      await ops.wait({ project, zone, operation: op.name! });
      expect(other.state.disk(project, zone, 'big')).toMatchObject({ sizeGb: 40, sourceImage: expect.stringContaining(sourceImage) });
      await expect(
        d.insert({
          project,
          zone,
          diskResource: { name: 'none', sourceImage: 'projects/base-project/global/images/nope', type: `zones/${zone}/diskTypes/pd-ssd` },
        }),
      ).rejects.toMatchObject({ code: 404 });
      expect(other.state.disk(project, zone, 'none')).toBeUndefined();
    } finally {
      await Promise.all([d.close(), im.close(), ops.close()]);
      await other.close();
    }
  });

  it('creates an image from a GCS object, filters image lists by label, deletes images', async () => {
    emu.state.objects.set('test-bucket/disk.tar.gz', {
      bucket: 'test-bucket',
      name: 'disk.tar.gz',
      data: Buffer.from('x'),
      contentType: 'application/gzip',
      generation: 1,
      metageneration: 1,
      createdAt: 0,
      updatedAt: 0,
    });
    const op = opOf(
      await images.insert({
        project,
        imageResource: {
          name: 'raw-image',
          rawDisk: { source: 'https://storage.googleapis.com/test-bucket/disk.tar.gz' },
          labels: { 'gdib-run': 'r1' },
        },
      }),
    );
    await globalOps.wait({ project, operation: op.name! });
    const missing = opOf(
      await images.insert({
        project,
        imageResource: { name: 'raw-missing', rawDisk: { source: 'https://storage.googleapis.com/test-bucket/nope.tar.gz' } },
      }),
    );
    const [failed] = await globalOps.wait({ project, operation: missing.name! });
    expect(failed.error?.errors?.[0]?.code).toBe('RESOURCE_NOT_FOUND');
    const [listed] = await images.list({ project, filter: 'labels.gdib-run = "r1"' });
    expect(listed.map((i) => i.name)).toEqual(['raw-image']);
    await globalOps.wait({ project, operation: opOf(await images.delete({ project, image: 'raw-image' })).name! });
    await expect(images.get({ project, image: 'raw-image' })).rejects.toMatchObject({ code: 404 });
  });

  it('finds labelled instances in every zone with the aggregated list', async () => {
    await waitZone(
      opOf(await disks.insert({ project, zone, diskResource: { name: 'data', sizeGb: '10', type: `zones/${zone}/diskTypes/pd-ssd` } })),
    );
    await waitZone(opOf(await instances.insert({ project, zone, instanceResource: vmResource('scan-vm', 'data') })));
    const found: string[] = [];
    for await (const [scope, list] of instances.aggregatedListAsync(
      { project, filter: 'labels.gdib-managed = "true"' },
      { autoPaginate: false },
    )) {
      for (const i of list.instances ?? []) found.push(`${scope}/${i.name}`);
    }
    expect(found).toEqual([`zones/${zone}/scan-vm`]);
    const [listed] = await instances.list({ project, zone, filter: 'labels.gdib-run = "nope"' });
    expect(listed).toEqual([]);
  });

  it('gives an unreachable zone the UNREACHABLE warning in an aggregated list, and leaves its resources out', async () => {
    await waitZone(opOf(await disks.insert({ project, zone, diskResource: { name: 'hidden', sizeGb: '10' } })));
    emu.state.unreachableZones.add(zone);
    const scopes = new Map<string, { names: string[]; warning?: string | null }>();
    for await (const [scope, list] of disks.aggregatedListAsync({ project }, { autoPaginate: false })) {
      scopes.set(scope, { names: (list.disks ?? []).map((d) => d.name!), warning: list.warning?.code });
    }
    expect(scopes.get(`zones/${zone}`)).toEqual({ names: [], warning: 'UNREACHABLE' });
    expect(scopes.get('zones/us-central1-b')).toEqual({ names: [], warning: 'NO_RESULTS_ON_PAGE' });
  });
});

describe('Cloud KMS and CMEK', () => {
  const key = 'projects/test-project/locations/us-central1/keyRings/gdib/cryptoKeys/disks';
  const get = (name: string, token = TOKEN) =>
    fetch(`${emu.storageHost}/v1/${name}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));

  it('answers cryptoKeys.get for a seeded key with its purpose and primary state; 404 for an unknown key; 403 when denied', async () => {
    const ok = await get(key);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      name: key,
      purpose: 'ENCRYPT_DECRYPT',
      primary: { name: `${key}/cryptoKeyVersions/1`, state: 'ENABLED' },
    });
    const disabled = await get('projects/test-project/locations/us-central1/keyRings/gdib/cryptoKeys/disabled');
    expect(disabled.body).toMatchObject({ primary: { state: 'DISABLED' } });
    expect((await get('projects/test-project/locations/us-central1/keyRings/gdib/cryptoKeys/nope')).status).toBe(404);
    emu.kms.denied = true;
    expect((await get(key)).status).toBe(403);
  });

  it('encrypts a disk and an image made from it with the key, and reports the key version as GCE does', async () => {
    await waitZone(
      opOf(
        await disks.insert({ project, zone, diskResource: { name: 'cmek-disk', sizeGb: '10', diskEncryptionKey: { kmsKeyName: key } } }),
      ),
    );
    const [disk] = await disks.get({ project, zone, disk: 'cmek-disk' });
    expect(disk.diskEncryptionKey?.kmsKeyName).toBe(`${key}/cryptoKeyVersions/1`);
    const op = opOf(
      await images.insert({
        project,
        imageResource: {
          name: 'cmek-image',
          sourceDisk: `projects/${project}/zones/${zone}/disks/cmek-disk`,
          imageEncryptionKey: { kmsKeyName: key },
        },
      }),
    );
    await globalOps.wait({ project, operation: op.name! });
    const [image] = await images.get({ project, image: 'cmek-image' });
    expect(image.imageEncryptionKey?.kmsKeyName).toBe(`${key}/cryptoKeyVersions/1`);
  });

  it('refuses a key that does not exist or cannot encrypt (400)', async () => {
    for (const bad of [`${key}-missing`, 'projects/test-project/locations/us-central1/keyRings/gdib/cryptoKeys/disabled']) {
      await expect(
        disks.insert({ project, zone, diskResource: { name: 'cmek-bad', sizeGb: '10', diskEncryptionKey: { kmsKeyName: bad } } }),
      ).rejects.toMatchObject({ code: 400 });
    }
  });
});

describe('Spot preemption', () => {
  const spot = (action: 'STOP' | 'DELETE') => ({
    ...vmResource('spot-vm', 'spot-data'),
    scheduling: { provisioningModel: 'SPOT', instanceTerminationAction: action, automaticRestart: false, onHostMaintenance: 'TERMINATE' },
  });
  const start = async (action: 'STOP' | 'DELETE') => {
    emu.vm.script([], { times: 1 });
    await waitZone(opOf(await disks.insert({ project, zone, diskResource: { name: 'spot-data', sizeGb: '10' } })));
    await waitZone(opOf(await instances.insert({ project, zone, instanceResource: spot(action) })));
  };
  const preemptions = async () => {
    const [ops] = await zoneOps.list({ project, zone, filter: 'operationType = "compute.instances.preempted"' }, { autoPaginate: false });
    return ops;
  };

  it('STOP: records a compute.instances.preempted operation and leaves the instance TERMINATED with its disks', async () => {
    await start('STOP');
    const [before] = await instances.get({ project, zone, instance: 'spot-vm' });
    expect(await preemptions()).toEqual([]);
    emu.vm.preempt('spot-vm');
    const [after] = await instances.get({ project, zone, instance: 'spot-vm' });
    expect(after.status).toBe('TERMINATED');
    expect(after.disks?.map((d) => d.deviceName)).toContain('gdib-data');
    const ops = await preemptions();
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ operationType: 'compute.instances.preempted', status: 'DONE', targetId: before.id });
    expect(ops[0]!.targetLink).toMatch(/\/instances\/spot-vm$/);
    // The data disk is held by the stopped VM until it is deleted, as on GCE.
    await expect(disks.delete({ project, zone, disk: 'spot-data' })).rejects.toMatchObject({ code: 400 });
  });

  it('DELETE: the instance and its boot disk go, the data disk (autoDelete false) stays, free', async () => {
    await start('DELETE');
    emu.vm.preempt('spot-vm');
    await expect(instances.get({ project, zone, instance: 'spot-vm' })).rejects.toMatchObject({ code: 404 });
    expect(emu.leftovers().disks).toEqual([`${project}/${zone}/spot-data`]);
    expect(emu.state.disk(project, zone, 'spot-data')!.users).toEqual([]);
    expect(await preemptions()).toHaveLength(1);
  });

  it('a VM script can preempt its own VM; a standard VM cannot be preempted', async () => {
    await waitZone(opOf(await disks.insert({ project, zone, diskResource: { name: 'std-data', sizeGb: '10' } })));
    await waitZone(opOf(await instances.insert({ project, zone, instanceResource: vmResource('std-vm', 'std-data') })));
    expect(() => emu.vm.preempt('std-vm')).toThrow(/neither a Spot nor a preemptible VM/);
    emu.vm.script([{ afterMs: 0, preempt: true }], { times: 1 });
    await waitZone(opOf(await disks.insert({ project, zone, diskResource: { name: 'spot-data', sizeGb: '10' } })));
    await waitZone(opOf(await instances.insert({ project, zone, instanceResource: spot('STOP') })));
    for (let i = 0; i < 200 && emu.state.instance(project, zone, 'spot-vm')!.status !== 'TERMINATED'; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(emu.state.instance(project, zone, 'spot-vm')!.status).toBe('TERMINATED');
  });
});
