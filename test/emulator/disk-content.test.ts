// Disk content handlers (vm.onDiskContent): each disk or image made from one with a content gets the handler's
// copy, and the handler hears of every holder's deletion. Without a handler the value is shared (vm.test.ts).
import { GlobalOperationsClient, ImagesClient, type protos } from '@google-cloud/compute';
import { afterEach, describe, expect, it } from 'vitest';
import { computeOptions } from './clients.js';
import type { DiskContentHolder } from './index.js';
import { opOf, project, startKit, TOKEN, zone, type Kit } from './test-kit.js';

let kit: Kit;
afterEach(() => kit.close());

const holder = (h: DiskContentHolder): string => `${h.kind}:${h.name}`;

describe('disk content handlers', () => {
  it('copy the content disk → image → image → disk (insert and boot disk), and release it on every deletion', async () => {
    kit = await startKit();
    const images = new ImagesClient(computeOptions(kit.emu, TOKEN));
    const globalOps = new GlobalOperationsClient(computeOptions(kit.emu, TOKEN));
    const zoneWait = async (r: readonly unknown[]) => kit.zoneOps.wait({ project, zone, operation: opOf(r).name! });
    const globalWait = async (r: readonly unknown[]) => globalOps.wait({ project, operation: opOf(r).name! });
    const copies: string[] = [];
    const released: string[] = [];
    const remove = kit.emu.vm.onDiskContent({
      copy: (content, to, from) => {
        copies.push(`${holder(from)} -> ${holder(to)}`);
        return `${String(content)}+${to.name}`;
      },
      release: (content, from) => void released.push(`${holder(from)}=${String(content)}`),
    });
    kit.emu.vm.onStart((ctx) => {
      if (ctx.instance.name === 'writer') ctx.setDiskContent('data', 'bytes');
    });
    const vm = (name: string, disks: protos.google.cloud.compute.v1.IAttachedDisk[]): protos.google.cloud.compute.v1.IInstance => ({
      name,
      machineType: `zones/${zone}/machineTypes/e2-standard-4`,
      disks,
      networkInterfaces: [{}],
    });
    const debian = {
      boot: true,
      autoDelete: true,
      initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' },
    };

    await zoneWait(await kit.disks.insert({ project, zone, diskResource: { name: 'd1', sizeGb: '10' } }));
    await zoneWait(
      await kit.instances.insert({
        project,
        zone,
        instanceResource: vm('writer', [debian, { source: `zones/${zone}/disks/d1`, deviceName: 'data' }]),
      }),
    );
    await zoneWait(await kit.instances.delete({ project, zone, instance: 'writer' }));
    await globalWait(await images.insert({ project, imageResource: { name: 'i1', sourceDisk: `zones/${zone}/disks/d1` } }));
    await globalWait(await images.insert({ project, imageResource: { name: 'i2', sourceImage: `projects/${project}/global/images/i1` } }));
    await zoneWait(
      await kit.disks.insert({ project, zone, diskResource: { name: 'd2', sourceImage: `projects/${project}/global/images/i2` } }),
    );
    await zoneWait(
      await kit.instances.insert({
        project,
        zone,
        instanceResource: vm('booter', [
          { boot: true, autoDelete: true, initializeParams: { sourceImage: `projects/${project}/global/images/i1` } },
        ]),
      }),
    );
    expect(copies).toEqual(['disk:d1 -> image:i1', 'image:i1 -> image:i2', 'image:i2 -> disk:d2', 'image:i1 -> disk:booter']);
    expect(kit.emu.state.image(project, 'i2')?.content).toBe('bytes+i1+i2');
    expect(kit.emu.state.disk(project, zone, 'd2')?.content).toBe('bytes+i1+i2+d2');
    expect(kit.emu.state.disk(project, zone, 'booter')?.content).toBe('bytes+i1+booter');
    // The boot disk from a Debian image had no content: nothing was copied for it, nothing is released.
    await zoneWait(await kit.instances.delete({ project, zone, instance: 'booter' }));
    await zoneWait(await kit.disks.delete({ project, zone, disk: 'd1' }));
    await globalWait(await images.delete({ project, image: 'i2' }));
    expect(released).toEqual(['disk:booter=bytes+i1+booter', 'disk:d1=bytes', 'image:i2=bytes+i1+i2']);

    remove();
    await globalWait(await images.delete({ project, image: 'i1' }));
    expect(released).toHaveLength(3);
    await Promise.all([images.close(), globalOps.close()]);
  });
});
