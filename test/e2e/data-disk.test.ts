// build --data-source end to end, locally: the CLI against the emulator in real-VM mode, whose VM runs the rendered
// bootstrap and agent as root on a loop device, reading the emulator's Cloud Storage with its service account's
// token and the Hugging Face-shaped fake (a gated model, its token read by the VM from the emulator's Secret
// Manager). The image's disk holds every file byte for byte; `verify` of the image passes on a real VM too.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { diskKindOfRecord, parseRecord } from '../../src/builder/image-record.js';
import { DATA_MANIFEST, type DataManifest } from '../../src/vm/contract.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { backingFile, realVm, type RealVm } from '../emulator/real-vm.js';
import { FakeHub } from '../fakes/hf-server.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { LoopDisk, mount, unmount } from '../rig/disk.js';
import { describeRig, startRig, type Rig } from '../rig/rig.js';

const TOKEN = 'ya29.e2e-data-disk-token-0123456789';
const PROJECT = 'test-project';
const SECRET = 'projects/test-project/secrets/hf';
const HF_TOKEN = 'hf_e2e_data_disk_token';
const ARGS = [`--project-name=${PROJECT}`, '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--timeout=3m'];

const bytes = (n: number, seed: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};
const objects: Record<string, Buffer> = {
  'models/m1/config.json': Buffer.from('{"layers":2}\n'),
  'models/m1/shards/w-00001.bin': bytes(300_000, 1),
  'models/m1/shards/w-00002.bin': bytes(200_001, 2),
  'models/m10/not-this.bin': bytes(10, 3),
};
const hfFiles: Record<string, Buffer> = { 'config.json': Buffer.from('{"hf":true}\n'), 'model.safetensors': bytes(400_000, 4) };

describeRig('build --data-source on a real VM (emulator, real-VM mode)', () => {
  let rig: Rig;
  let emu: Emulator;
  let real: RealVm;
  let hub: FakeHub;

  const cli = async (args: string[]): Promise<CliRun> => {
    const r = await runCli(args, {
      env: {
        CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
        STORAGE_EMULATOR_HOST: emu.storageHost,
        CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: emu.storageHost,
        CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
        HF_ENDPOINT: hub.endpoint,
      },
    });
    await real.idle();
    return r;
  };

  beforeAll(async () => {
    rig = await startRig('e2e-data');
    emu = await startEmulator({ acceptTokens: [TOKEN], buckets: [{ name: 'test-bucket' }, { name: 'weights' }] });
    hub = await FakeHub.start();
    hub.addRepo('org/gated', { gated: 'manual', files: hfFiles });
    hub.grant(HF_TOKEN, 'org/gated');
    emu.secrets.add(SECRET, `${HF_TOKEN}\n`);
    for (const [name, data] of Object.entries(objects)) emu.putObject('weights', name, data);
    let n = 0;
    real = realVm(emu, rig, {
      maxDiskMiB: 64,
      env: { GDIB_STORAGE_ENDPOINT: emu.storageHost, GDIB_SECRETMANAGER_ENDPOINT: emu.storageHost, HF_ENDPOINT: hub.endpoint },
      issueToken: () => {
        const token = `ya29.vm-token-${++n}-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;
        emu.acceptToken(token);
        return token;
      },
    });
  });

  afterAll(async () => {
    await emu?.close();
    if (real) expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
    await hub?.close();
    await rig?.close();
  });

  it('builds an image whose disk holds every file of both sources, byte for byte; verify passes', { timeout: 240_000 }, async () => {
    const r = await cli([
      ...ARGS,
      '--image-name=e2e-weights',
      '--disk-size-gb=10',
      '--data-source=gs://weights/models/m1',
      '--data-source=hf://org/gated=hf/gated',
      `--hf-token-secret=${SECRET}`,
    ]);
    const run = real.runs.at(-1);
    expect(r.code, `${r.stderr}\n${run?.output ?? ''}`).toBe(0);
    expect(run?.mode).toBe('build');
    expect(run?.output).not.toContain(HF_TOKEN);
    expect(r.stderr).not.toContain(HF_TOKEN);

    const image = emu.state.image(PROJECT, 'e2e-weights')!;
    expect(diskKindOfRecord(parseRecord(image.description)!)).toBe('data');
    // The image's bytes: an ext4 filesystem with every file at its place.
    const file = backingFile(image.content);
    expect(file).toBeDefined();
    const loop = await LoopDisk.attach(file!);
    const dir = join(rig.dir, 'image-view');
    mkdirSync(dir, { recursive: true });
    await mount(loop.device, dir, { options: 'ro,noload' });
    try {
      for (const [name, data] of Object.entries(objects)) {
        if (name.startsWith('models/m10/')) continue;
        expect(readFileSync(join(dir, 'm1', name.slice('models/m1/'.length))).equals(data), name).toBe(true);
      }
      for (const [name, data] of Object.entries(hfFiles)) expect(readFileSync(join(dir, 'hf/gated', name)).equals(data), name).toBe(true);
      const manifest = JSON.parse(readFileSync(join(dir, DATA_MANIFEST), 'utf8')) as DataManifest;
      expect(manifest.files.map((f) => f.path).sort()).toEqual(
        ['hf/gated/config.json', 'hf/gated/model.safetensors', 'm1/config.json', 'm1/shards/w-00001.bin', 'm1/shards/w-00002.bin'].sort(),
      );
    } finally {
      await unmount(dir);
      await loop.detach();
    }

    const v = await cli(['verify', ...ARGS, '--image-name=e2e-weights']);
    expect(v.code, `${v.stderr}\n${real.runs.at(-1)?.output ?? ''}`).toBe(0);
    const left = emu.leftovers();
    expect(left.disks).toEqual([]);
    expect(left.instances).toEqual([]);
  });
});
