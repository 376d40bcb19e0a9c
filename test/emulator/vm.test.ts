import { afterEach, describe, expect, it } from 'vitest';
import { serialLine, vmScripts, type VmContext } from './index.js';
import { eventually, opOf, project, startKit, TOKEN, zone, type Kit } from './test-kit.js';

let kit: Kit;
afterEach(() => kit.close());

const serialText = (name: string): string => kit.emu.state.instance(project, zone, name)?.serial.text() ?? '';
const attrs = (name: string): Record<string, string> =>
  Object.fromEntries(kit.emu.state.instance(project, zone, name)?.guestAttributes ?? []);

describe('scriptable VMs', () => {
  it('plays a scripted failure: error line, gdib/error, state=failed', async () => {
    kit = await startKit();
    kit.emu.vm.script(vmScripts.fail('pull of docker.io/library/nope:1 failed: not found', { atPhase: 'pulling', stepMs: 1 }));
    await kit.runVm('vm-fail');
    await eventually(() => attrs('vm-fail')['gdib/state'] === 'failed');
    expect(attrs('vm-fail')).toMatchObject({ 'gdib/phase': 'pulling', 'gdib/error': 'pull of docker.io/library/nope:1 failed: not found' });
    expect(serialText('vm-fail')).toContain(
      serialLine('gdib: error=pull of docker.io/library/nope:1 failed: not found') + serialLine('gdib: state=failed'),
    );
  });

  it('runs a VM that never finishes; deleting the instance stops its VM and its timers', async () => {
    kit = await startKit();
    kit.emu.vm.script(vmScripts.neverFinish({ stepMs: 1 }), { match: (i) => i.name === 'vm-hang' });
    let ended = false;
    kit.emu.vm.onStart(
      async (ctx) => {
        while (await ctx.sleep(2)) ctx.appendSerial('tick\n');
        ended = true;
      },
      { match: (i) => i.name === 'vm-tick' },
    );
    await kit.runVm('vm-hang');
    await kit.runVm('vm-tick');
    await eventually(() => attrs('vm-hang')['gdib/phase'] === 'pulling');
    await new Promise((r) => setTimeout(r, 30));
    expect(attrs('vm-hang')['gdib/state']).toBe('running');

    const instance = kit.emu.state.instance(project, zone, 'vm-tick')!;
    await eventually(() => instance.serial.text().includes('tick'));
    await kit.zoneOps.wait({ project, zone, operation: opOf(await kit.instances.delete({ project, zone, instance: 'vm-tick' })).name! });
    expect(instance.vm.signal.aborted).toBe(true);
    await eventually(() => ended);
    const length = instance.serial.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(instance.serial.length).toBe(length);
  });

  it('makes guest attributes unavailable so only the serial console tells the outcome', async () => {
    kit = await startKit();
    kit.emu.vm.script(vmScripts.succeed({ stepMs: 1 }), { guestAttributes: 'unavailable' });
    await kit.runVm('vm-noga');
    await eventually(() => serialText('vm-noga').includes('gdib: state=succeeded'));
    await expect(kit.instances.getGuestAttributes({ project, zone, instance: 'vm-noga', queryPath: 'gdib/' })).rejects.toMatchObject({
      code: 403,
    });
  });

  it('answers 404 for guest attributes not yet written, and drops writes without enable-guest-attributes', async () => {
    kit = await startKit();
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    kit.emu.vm.onStart(
      async (ctx) => {
        await gate;
        ctx.setAttribute('gdib/state', 'running');
      },
      { match: (i) => i.name === 'vm-slow' },
    );
    await kit.runVm('vm-slow');
    await expect(kit.instances.getGuestAttributes({ project, zone, instance: 'vm-slow', queryPath: 'gdib/' })).rejects.toMatchObject({
      code: 404,
    });
    await expect(kit.instances.getGuestAttributes({ project, zone, instance: 'vm-slow', variableKey: 'gdib/state' })).rejects.toMatchObject(
      { code: 404 },
    );
    release();
    await eventually(() => attrs('vm-slow')['gdib/state'] === 'running');
    const [one] = await kit.instances.getGuestAttributes({ project, zone, instance: 'vm-slow', variableKey: 'gdib/state' });
    expect(one).toMatchObject({ variableKey: 'gdib/state', variableValue: 'running' });

    await kit.runVm('vm-disabled', { 'gdib-mode': 'build' });
    await eventually(() => serialText('vm-disabled').includes('gdib: state=succeeded'));
    expect(attrs('vm-disabled')).toEqual({});
  });

  it('hands the hook the instance as the guest sees it, picks behaviours by match, and aborts on close', async () => {
    kit = await startKit();
    const seen: VmContext[] = [];
    kit.emu.vm.onStart(
      (ctx) => {
        seen.push(ctx);
        ctx.appendSerial('hooked\n');
      },
      { match: (i) => i.metadata['gdib-mode'] === 'verify' },
    );
    await kit.runVm('vm-verify', { 'gdib-mode': 'verify', 'enable-guest-attributes': 'TRUE', 'startup-script': '#!/bin/bash\necho hi' });
    await kit.runVm('vm-build', { 'gdib-mode': 'build', 'enable-guest-attributes': 'TRUE' });
    expect(seen.map((c) => c.instance.name)).toEqual(['vm-verify']);
    expect(seen[0]!.instance.metadata['startup-script']).toBe('#!/bin/bash\necho hi');
    expect(seen[0]!.instance.disks).toEqual([expect.objectContaining({ deviceName: 'vm-verify', boot: true, sizeGb: 10 })]);
    await eventually(() => serialText('vm-build').includes('gdib: state=succeeded'));
    expect(serialText('vm-verify')).toBe('hooked\n');
    expect(kit.emu.vm.started).toEqual(['vm-verify', 'vm-build']);
    await kit.emu.close();
    expect(seen[0]!.signal.aborted).toBe(true);
  });
});

describe('disk content lineage', () => {
  it('carries what a VM wrote to its data disk into the image, and into a disk made from that image', async () => {
    kit = await startKit();
    const { ImagesClient, GlobalOperationsClient } = await import('@google-cloud/compute');
    const { computeOptions } = await import('./clients.js');
    const images = new ImagesClient(computeOptions(kit.emu, TOKEN));
    const globalOps = new GlobalOperationsClient(computeOptions(kit.emu, TOKEN));
    const wait = async (r: readonly unknown[]) => kit.zoneOps.wait({ project, zone, operation: opOf(r).name! });
    const seen: unknown[] = [];
    kit.emu.vm.onStart((ctx) => {
      const data = ctx.instance.disks.find((d) => d.deviceName === 'gdib-data');
      seen.push(data?.content);
      if (ctx.instance.metadata['gdib-mode'] === 'build') ctx.setDiskContent('gdib-data', { file: '/tmp/disk-1.img' });
    });
    const vm = (name: string, disk: string, mode: string) => ({
      name,
      machineType: `zones/${zone}/machineTypes/e2-standard-4`,
      disks: [
        { boot: true, autoDelete: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' } },
        { source: `zones/${zone}/disks/${disk}`, deviceName: 'gdib-data' },
      ],
      networkInterfaces: [{}],
      metadata: { items: [{ key: 'gdib-mode', value: mode }] },
    });
    await wait(
      await kit.disks.insert({ project, zone, diskResource: { name: 'build-disk', sizeGb: '20', type: `zones/${zone}/diskTypes/pd-ssd` } }),
    );
    await wait(await kit.instances.insert({ project, zone, instanceResource: vm('build-vm', 'build-disk', 'build') }));
    await wait(await kit.instances.delete({ project, zone, instance: 'build-vm' }));
    const imageOp = opOf(await images.insert({ project, imageResource: { name: 'baked', sourceDisk: `zones/${zone}/disks/build-disk` } }));
    await globalOps.wait({ project, operation: imageOp.name! });
    await wait(
      await kit.disks.insert({
        project,
        zone,
        diskResource: { name: 'verify-disk', sourceImage: `projects/${project}/global/images/baked` },
      }),
    );
    await wait(await kit.instances.insert({ project, zone, instanceResource: vm('verify-vm', 'verify-disk', 'verify') }));
    expect(seen).toEqual([undefined, { file: '/tmp/disk-1.img' }]);
    expect(kit.emu.state.disk(project, zone, 'verify-disk')).toMatchObject({ sizeGb: 20, content: { file: '/tmp/disk-1.img' } });
    await Promise.all([images.close(), globalOps.close()]);
  });
});

describe('serial console window', () => {
  it('answers from the oldest retained byte, with the real start, when the window moved on', async () => {
    kit = await startKit({ serialWindowBytes: 64 });
    kit.emu.vm.onStart((ctx) => ctx.appendSerial('0123456789'.repeat(20)));
    await kit.runVm('vm-window');
    const read = async (start: number) =>
      (await kit.instances.getSerialPortOutput({ project, zone, instance: 'vm-window', port: 1, start }))[0];
    const first = await read(0);
    expect(first).toMatchObject({ start: '136', next: '200' });
    expect(first.contents).toHaveLength(64);
    expect(await read(190)).toMatchObject({ contents: '0123456789', start: '190', next: '200' });
    expect(await read(-4)).toMatchObject({ contents: '6789', start: '196', next: '200' });
    expect(await read(500)).toMatchObject({ contents: '', start: '200', next: '200' });
  });
});
