// The emulator's real-VM mode on its own (no CLI): what the script sees, where its output and guest attributes
// go, how its data disk's bytes travel disk → image → disk, and how a VM that ignores SIGTERM is stopped.
import { GlobalOperationsClient, ImagesClient, type protos } from '@google-cloud/compute';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { computeOptions } from '../emulator/clients.js';
import { backingFile, realVm, type RealVm } from '../emulator/real-vm.js';
import { opOf, project, startKit, TOKEN, zone, type Kit } from '../emulator/test-kit.js';
import { describeRig } from '../rig/rig.js';

const MARK = 'gdib-real-vm-mark';

function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeRig('real-VM mode of the emulator', () => {
  let kit: Kit;
  let real: RealVm;
  let dir: string;
  let images: ImagesClient;
  let globalOps: GlobalOperationsClient;

  const zoneWait = async (r: readonly unknown[]) => kit.zoneOps.wait({ project, zone, operation: opOf(r).name! });
  const globalWait = async (r: readonly unknown[]) => globalOps.wait({ project, operation: opOf(r).name! });
  const instance = (name: string) => kit.emu.state.instance(project, zone, name);

  async function startVm(name: string, script: string, disk: string): Promise<void> {
    const body: protos.google.cloud.compute.v1.IInstance = {
      name,
      machineType: `zones/${zone}/machineTypes/e2-standard-4`,
      disks: [
        { boot: true, autoDelete: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' } },
        { source: `zones/${zone}/disks/${disk}`, deviceName: 'gdib-data' },
      ],
      networkInterfaces: [{}],
      metadata: {
        items: [
          { key: 'startup-script', value: script },
          { key: 'enable-guest-attributes', value: 'TRUE' },
          { key: 'gdib-device-name', value: 'gdib-data' },
        ],
      },
    };
    await zoneWait(await kit.instances.insert({ project, zone, instanceResource: body }));
  }

  async function until(check: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-real-vm-'));
    kit = await startKit();
    real = realVm(kit.emu, { dir, hostsDir: join(dir, 'hosts') }, { maxDiskMiB: 8, killGraceMs: 500 });
    images = new ImagesClient(computeOptions(kit.emu, TOKEN));
    globalOps = new GlobalOperationsClient(computeOptions(kit.emu, TOKEN));
  });

  afterEach(async () => {
    await Promise.all([images.close(), globalOps.close()]);
    await kit.close(); // closes the real-VM mode too
    expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the startup script with only the seams of docs/architecture.md, Test seams, as its environment; output to the serial console, guest attributes to the instance', async () => {
    await zoneWait(await kit.disks.insert({ project, zone, diskResource: { name: 'd1', sizeGb: '10' } }));
    const script = [
      '#!/bin/bash',
      'env -0 | tr "\\0" "\\n" | cut -d= -f1 | sort | sed "s/^/var /"',
      'echo "device $(stat -c %F "$GDIB_DEVICE") $(blockdev --getsize64 "$GDIB_DEVICE")"',
      'echo "to stderr" >&2',
      'curl -sf -X PUT -H "Metadata-Flavor: Google" --data-binary "written" "http://$GCE_METADATA_HOST/computeMetadata/v1/instance/guest-attributes/gdib/state"',
      `printf '${MARK}' | dd of="$GDIB_DEVICE" bs=1 seek=4096 conv=notrunc status=none`,
      'printf "no newline at the end"',
    ].join('\n');
    await startVm('vm1', script, 'd1');
    await until(() => real.runs[0]?.code !== undefined);
    const run = real.runs[0]!;
    expect(run.code, run.output).toBe(0);
    const vars = [...run.output.matchAll(/^var (.*)$/gm)].map((m) => m[1]);
    // bash itself adds PWD, SHLVL and _.
    expect(vars.filter((v) => !['PWD', 'SHLVL', '_'].includes(v!))).toEqual([
      'GCE_METADATA_HOST',
      'GDIB_DEVICE',
      'GDIB_HOSTS_DIR',
      'GDIB_MOUNT_DIR',
      'GDIB_WORK_DIR',
      'PATH',
    ]);
    expect(run.output).toContain(`device block special file ${8 * 1024 * 1024}`);
    const serial = instance('vm1')!.serial.text();
    expect(serial).toContain('google_metadata_script_runner[812]: startup-script: to stderr\n');
    expect(serial).toContain('startup-script: no newline at the end\n');
    expect(serial).toContain('Script "startup-script" finished with exit status 0');
    expect(Object.fromEntries(instance('vm1')!.guestAttributes)).toEqual({ 'gdib/state': 'written' });

    // The disk's bytes go into an image, and from it into a new disk that a second VM reads.
    await zoneWait(await kit.instances.delete({ project, zone, instance: 'vm1' }));
    await globalWait(await images.insert({ project, imageResource: { name: 'i1', sourceDisk: `zones/${zone}/disks/d1` } }));
    await zoneWait(await kit.disks.delete({ project, zone, disk: 'd1' }));
    await zoneWait(
      await kit.disks.insert({ project, zone, diskResource: { name: 'd2', sourceImage: `projects/${project}/global/images/i1` } }),
    );
    const imageFile = backingFile(kit.emu.state.image(project, 'i1')?.content);
    const diskFile = backingFile(kit.emu.state.disk(project, zone, 'd2')?.content);
    expect(imageFile).toBeDefined();
    expect(diskFile).toBeDefined();
    expect(new Set([imageFile, diskFile]).size).toBe(2);
    await startVm('vm2', `#!/bin/bash\ndd if="$GDIB_DEVICE" bs=1 skip=4096 count=${MARK.length} status=none; echo`, 'd2');
    await until(() => real.runs[1]?.code !== undefined);
    expect(real.runs[1]!.output).toBe(`${MARK}\n`);
    await zoneWait(await kit.instances.delete({ project, zone, instance: 'vm2' }));
    await zoneWait(await kit.disks.delete({ project, zone, disk: 'd2' }));
    await real.idle();
    expect(real.files()).toEqual([imageFile]);
    expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
  });

  it('sends SIGTERM when the instance is deleted, then SIGKILL to the whole process group', async () => {
    await zoneWait(await kit.disks.insert({ project, zone, diskResource: { name: 'd1', sizeGb: '10' } }));
    // Ignores SIGTERM, and has a child (in its process group) that ignores it too.
    await startVm('stubborn', `#!/bin/bash\ntrap '' TERM\nsleep 300 &\necho "child $!"\nwait\n`, 'd1');
    await until(() => real.runs[0]?.output.includes('child') === true);
    const child = Number(/child (\d+)/.exec(real.runs[0]!.output)?.[1]);
    expect(running(child)).toBe(true);
    expect(real.leftovers().loopDevices).toHaveLength(1);
    await zoneWait(await kit.instances.delete({ project, zone, instance: 'stubborn' }));
    await real.idle();
    expect(real.runs[0]).toMatchObject({ code: null, signal: 'SIGKILL' });
    await until(() => !running(child), 2_000); // gone, or a zombie for init to reap
    expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
    await zoneWait(await kit.disks.delete({ project, zone, disk: 'd1' }));
    expect(real.files()).toEqual([]);
  });
});
