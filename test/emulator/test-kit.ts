/**
 * Shared set-up for the emulator's own tests: an emulator with a known token and the compute
 * clients pointed at it, plus a quick way to get a RUNNING VM.
 */
import { DisksClient, InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import { computeOptions } from './clients.js';
import { startEmulator, type Emulator, type EmulatorOptions } from './index.js';

export const project = 'test-project';
export const zone = 'us-central1-a';
export const TOKEN = 'ya29.kit-token';

export interface Kit {
  emu: Emulator;
  disks: DisksClient;
  instances: InstancesClient;
  zoneOps: ZoneOperationsClient;
  /** Insert a VM (boot disk only, given metadata) and wait until it is RUNNING. */
  runVm(name: string, metadata?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

type Op = { name?: string | null };
export const opOf = (r: readonly unknown[]): Op => (r[0] as { latestResponse: Op }).latestResponse;

export async function startKit(opts: EmulatorOptions = {}): Promise<Kit> {
  const emu = await startEmulator({ acceptTokens: [TOKEN], ...opts });
  const o = computeOptions(emu, TOKEN);
  const disks = new DisksClient(o);
  const instances = new InstancesClient(o);
  const zoneOps = new ZoneOperationsClient(o);
  return {
    emu,
    disks,
    instances,
    zoneOps,
    async runVm(name, metadata = { 'enable-guest-attributes': 'TRUE' }) {
      const op = opOf(
        await instances.insert({
          project,
          zone,
          instanceResource: {
            name,
            machineType: `zones/${zone}/machineTypes/e2-standard-4`,
            disks: [
              { boot: true, autoDelete: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' } },
            ],
            networkInterfaces: [{}],
            metadata: { items: Object.entries(metadata).map(([key, value]) => ({ key, value })) },
          },
        }),
      );
      await zoneOps.wait({ project, zone, operation: op.name! });
    },
    async close() {
      await Promise.all([disks.close(), instances.close(), zoneOps.close()]);
      await emu.close();
    },
  };
}

/** Poll until `check` holds (the VM runs on small timers). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
