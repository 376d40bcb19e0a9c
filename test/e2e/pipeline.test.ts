// The whole pipeline, locally: the CLI in-process, the real Google client libraries, the emulator — and VMs
// that really run the startup script the CLI rendered (test/emulator/real-vm.ts) against the rig's registries,
// containerd and loop-device disks. Build an image, verify it, and fail to verify a corrupted copy of it.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { backingFile, realVm, type RealVm, type RealVmRun } from '../emulator/real-vm.js';
import { runCli, Signals, type CliRun } from '../helpers/cli.js';
import { goToolChecksum } from '../rig/checksum.js';
import { LoopDisk, mount, unmount } from '../rig/disk.js';
import { applyLayers, diffTrees, readTree } from '../rig/fs-model.js';
import { mountOverlay, parseSnapshotsMetadata, type SnapshotLine } from '../rig/inspect.js';
import { chainIds, fetchImage, type RegistryImage } from '../rig/registry-client.js';
import { describeRig, REPO, startRig, type Rig } from '../rig/rig.js';

/** What bash 5.2 prints when a signal's trap is parsed in the middle of a command substitution. */
const BASH_TRAP_PARSE_BUG = /trap: line \d+: unexpected EOF while looking for matching `\)'/;

const TOKEN = 'ya29.e2e-pipeline-token-0123456789';
const PROJECT = 'test-project';
const IMAGE = 'e2e-cache';
const CORRUPT = 'e2e-cache-corrupt';
const BASE_ARGS = [`--project-name=${PROJECT}`, '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--timeout=3m'];

/** The values of one status fact (docs/architecture.md, VM status) the script printed (its serial console), in order. */
function facts(run: RealVmRun, key: string): string[] {
  // Each line ends with the run's status nonce (` nonce=<value>`), which the CLI checks; the value is before it.
  return [...run.output.matchAll(new RegExp(`^gdib: ${key}=(.*?)(?: nonce=[A-Za-z0-9_-]+)?$`, 'gm'))].map((m) => m[1] ?? '');
}

/**
 * The script's exit status and outcome. The CLI deletes the VM as soon as it sees the outcome (on the serial
 * console, which the script writes before the guest attribute), and the script may still be in that last write:
 * the VM's shutdown (SIGTERM) then makes it exit 143 after it has reported, and the last guest attribute may never
 * be written — as on GCE. So the outcome is checked on the serial console.
 */
function expectExit(run: RealVmRun, code: number): void {
  expect([code, 143], run.output).toContain(run.code);
  expect(facts(run, 'state')).toEqual(['running', code === 0 ? 'succeeded' : 'failed']);
  expect(run.output.trimEnd().split('\n').at(-1)).toMatch(
    new RegExp(`^gdib: state=${code === 0 ? 'succeeded' : 'failed'}( nonce=[A-Za-z0-9_-]+)?$`),
  );
}

describeRig('the whole pipeline, locally (emulator with real VMs)', () => {
  let rig: Rig;
  let emu: Emulator;
  let real: RealVm;
  const images: Partial<Record<'app' | 'app2', RegistryImage>> = {};
  let lines: SnapshotLine[] = [];
  const mounts: string[] = [];
  const loops: LoopDisk[] = [];

  /** Runs the CLI, then waits until the VMs it deleted have stopped (the script may outlive the CLI briefly). */
  const cli = async (args: string[], signals?: Signals): Promise<CliRun> => {
    const r = await runCli(args, {
      ...(signals ? { signals } : {}),
      env: {
        CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
        STORAGE_EMULATOR_HOST: emu.storageHost,
        CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
      },
    });
    await real.idle();
    return r;
  };

  /** The run of the VM the last CLI call created. */
  const lastRun = (): RealVmRun => {
    const r = real.runs.at(-1);
    expect(r).toBeDefined();
    return r!;
  };

  /** Mounts the file behind an image (by default read-only, no journal replay) on a loop device of its own. */
  async function mountImageFile(file: string, name: string, options = 'ro,noload'): Promise<{ dir: string; done(): Promise<void> }> {
    const loop = await LoopDisk.attach(file);
    loops.push(loop);
    const dir = join(rig.dir, name);
    mkdirSync(dir, { recursive: true });
    await mount(loop.device, dir, { options });
    mounts.push(dir);
    return {
      dir,
      async done() {
        await unmount(dir);
        mounts.splice(mounts.indexOf(dir), 1);
        await loop.detach();
      },
    };
  }

  beforeAll(async () => {
    rig = await startRig('e2e');
    emu = await startEmulator({ acceptTokens: [TOKEN] });
    real = realVm(emu, rig, { maxDiskMiB: 256 });
    images.app = await fetchImage(rig.open.host, REPO, 'app');
    images.app2 = await fetchImage(rig.open.host, REPO, 'app2');
  });

  afterEach(async () => {
    // Every test ends with nothing temporary left: no disk or VM in the emulator, nothing on the machine.
    await real.idle();
    const left = emu.leftovers();
    expect(left.disks).toEqual([]);
    expect(left.instances).toEqual([]);
    expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await unmount(m);
    for (const l of loops) await l.detach();
    await emu?.close(); // also closes the real-VM mode: stops VMs, detaches, removes its files
    if (real) expect(real.leftovers()).toEqual({ loopDevices: [], mounts: [], processes: [] });
    await rig?.close();
  });

  it(
    'builds an image from two of the rig images; the disk behind it has the layout of docs/architecture.md, Disk layout',
    { timeout: 150_000 },
    async () => {
      const refs = [rig.ref('app'), rig.ref('app2')];
      // No --skip-image-check: the CLI resolves the images from the loopback registry over plain http.
      const r = await cli([...BASE_ARGS, `--image-name=${IMAGE}`, '--disk-size-gb=10', ...refs.map((ref) => `--container-image=${ref}`)]);
      expect(r.code, r.stderr + lastRun().output).toBe(0);
      expect(r.stdout).toBe(`Image has successfully been created at: projects/${PROJECT}/global/images/${IMAGE}\n`);

      // The VM really ran the build script, and the CLI followed it.
      const run = lastRun();
      expect(run.mode).toBe('build');
      expectExit(run, 0);
      expect(run.attributeLog[0]).toEqual({ key: 'gdib/state', value: 'running' });
      expect(run.attributeLog.filter((a) => a.key === 'gdib/phase').map((a) => a.value)).toEqual(
        expect.arrayContaining(['installing', 'formatting', 'pulling', 'unpacking', 'checksumming']),
      );
      // The CLI followed the VM through guest attributes (forwarded from the metadata server) and the serial console.
      expect(emu.requests.some((q) => q.call === 'instances.getGuestAttributes' && q.status === 200)).toBe(true);
      const runId = /-([a-z0-9]{6})-vm$/.exec(run.instance)?.[1];
      const serialLog = emu.state.objects.get(`test-bucket/logs/secondary-disk-image-${runId}/serial-port-1.log`)?.data.toString() ?? '';
      expect(serialLog).toContain('startup-script: gdib: state=succeeded');
      const result = JSON.parse(
        emu.state.objects.get(`test-bucket/logs/secondary-disk-image-${runId}/result.json`)?.data.toString() ?? '{}',
      ) as {
        state: string;
        vmPhases: Record<string, number>;
        imageDigests: Record<string, string>;
      };
      expect(result.state).toBe('succeeded');
      expect(Object.keys(result.vmPhases)).toEqual(expect.arrayContaining(['formatting', 'pulling', 'checksumming']));

      // The image exists, and its content is the disk the script wrote.
      expect(emu.leftovers().images).toEqual([`${PROJECT}/${IMAGE}`]);
      const file = backingFile(emu.state.image(PROJECT, IMAGE)?.content);
      expect(file).toBeDefined();
      const disk = await mountImageFile(file!, 'inspect-image');
      try {
        const root = disk.dir;
        expect(readdirSync(root).sort()).toEqual(
          expect.arrayContaining(['gdib.json', 'images.metadata', 'snapshots', 'snapshots.metadata']),
        );
        lines = parseSnapshotsMetadata(readFileSync(join(root, 'snapshots.metadata'), 'utf8'));
        const expected = [...new Set([images.app!, images.app2!].flatMap((i) => chainIds(i.diffIds)))];
        expect(expected).toHaveLength(3); // the shared base once, app, app2
        expect(lines.map((l) => l.chainId).sort()).toEqual([...expected].sort());
        for (const l of lines) {
          expect(l.path).toMatch(/^snapshots\/\d+\/fs$/);
          // Recomputed independently of the script.
          expect(l.checksum).toBe(goToolChecksum(join(root, l.path)));
        }
        const listing = readFileSync(join(root, 'images.metadata'), 'utf8');
        for (const ref of refs) expect(listing).toContain(ref);
        const info = JSON.parse(readFileSync(join(root, 'gdib.json'), 'utf8')) as {
          images: { reference: string; manifestDigest: string; platform: string }[];
        };
        expect(info.images.map((i) => i.reference)).toEqual(refs);
        expect(info.images.map((i) => i.manifestDigest)).toEqual([images.app!.manifestDigest, images.app2!.manifestDigest]);
        // The digests the CLI resolved before the build are the ones the VM pulled.
        expect(Object.values(result.imageDigests).sort()).toEqual([images.app!.manifestDigest, images.app2!.manifestDigest].sort());

        // app's snapshots, as overlay lower dirs, give exactly its root filesystem.
        const dirOf = new Map(lines.map((l) => [l.chainId, join(root, l.path)]));
        const lower = chainIds(images.app!.diffIds)
          .map((c) => dirOf.get(c)!)
          .reverse();
        const target = join(rig.dir, 'overlay-app');
        mkdirSync(target);
        await mountOverlay(lower, target);
        mounts.push(target);
        try {
          expect(diffTrees(applyLayers(images.app!.layers), await readTree(target))).toEqual([]);
        } finally {
          await unmount(target);
          mounts.splice(mounts.indexOf(target), 1);
        }
      } finally {
        await disk.done();
      }
    },
  );

  it('verifies that image', { timeout: 90_000 }, async () => {
    expect(lines.length).toBeGreaterThan(0);
    const r = await cli([...BASE_ARGS, 'verify', `--image-name=${IMAGE}`]);
    expect(r.code, r.stderr + lastRun().output).toBe(0);
    expect(r.stdout).toBe(`Image verification succeeded: projects/${PROJECT}/global/images/${IMAGE}\n`);
    const run = lastRun();
    expect(run.mode).toBe('verify');
    expectExit(run, 0);
    expect(run.output).toContain(`all ${lines.length} snapshots match their checksums`);
    expect(facts(run, 'phase')).toEqual(['installing', 'verifying', 'done']);
    expect(emu.leftovers().images).toEqual([`${PROJECT}/${IMAGE}`]);
  });

  it('fails to verify a copy of the image with one byte changed, naming the snapshot', { timeout: 120_000 }, async () => {
    // The copy: an image made from the image (its file copied by the real-VM mode), then one byte changed
    // in a regular file of the shared base layer's snapshot.
    const res = await fetch(`${emu.computeEndpoint}projects/${PROJECT}/global/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: CORRUPT, sourceImage: `projects/${PROJECT}/global/images/${IMAGE}` }),
    });
    expect(res.status).toBe(200);
    emu.settle();
    const file = backingFile(emu.state.image(PROJECT, CORRUPT)?.content);
    expect(file).toBeDefined();
    expect(file).not.toBe(backingFile(emu.state.image(PROJECT, IMAGE)?.content));
    const base = lines.find((l) => l.chainId === images.app!.diffIds[0])!;
    expect(base).toBeDefined();
    const disk = await mountImageFile(file!, 'corrupt', 'rw');
    try {
      const victim = join(disk.dir, base.path, 'data/big.bin');
      const data = readFileSync(victim);
      data[1000] = (data[1000] ?? 0) ^ 0xff;
      writeFileSync(victim, data);
    } finally {
      await disk.done();
    }

    const r = await cli([...BASE_ARGS, 'verify', `--image-name=${CORRUPT}`]);
    const run = lastRun();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(run.mode).toBe('verify');
    expectExit(run, 1);
    const error = facts(run, 'error')[0] ?? '';
    expect(run.attributeLog).toContainEqual({ key: 'gdib/error', value: error });
    expect(error).toContain(`1 of ${lines.length} snapshots do not match their checksum`);
    expect(error).toContain(base.path);
    // The CLI reports the VM's reason.
    expect(r.stderr).toContain(base.path);
    expect(r.stderr).toContain('do not match their checksum');
    expect(emu.leftovers().images.sort()).toEqual([`${PROJECT}/${CORRUPT}`, `${PROJECT}/${IMAGE}`].sort());

    // The original image is untouched: it still verifies.
    const again = await cli([...BASE_ARGS, 'verify', `--image-name=${IMAGE}`]);
    expect(again.code, again.stderr).toBe(0);
  });

  it('stops the script when an interrupted build deletes its VM', { timeout: 90_000 }, async () => {
    const signals = new Signals();
    const before = real.runs.length;
    let sent = false;
    const watch = setInterval(() => {
      const run = real.runs[before];
      if (!sent && run?.attributeLog.some((a) => a.key === 'gdib/phase' && a.value === 'formatting')) {
        sent = true;
        signals.send('SIGINT');
      }
    }, 20);
    try {
      const r = await cli(
        [...BASE_ARGS, '--image-name=e2e-interrupted', '--disk-size-gb=10', `--container-image=${rig.ref('app')}`],
        signals,
      );
      expect(r.code, r.stderr).toBe(130);
    } finally {
      clearInterval(watch);
    }
    const run = real.runs[before]!;
    // The VM's deletion reached the script as a shutdown's SIGTERM, which it reported before exiting. Except in one
    // case that is bash's, not ours: bash 5.2 (Debian 12's, as on the VM) fails to parse the trap when the signal
    // lands while it is expanding a $(…), and exits 2 instead of running it (docs/vm-script.md). The EXIT trap still
    // reports the failure; that outcome is accepted only with bash's own message.
    if (BASH_TRAP_PARSE_BUG.test(run.output)) {
      expect(run.code, run.output).toBe(2);
    } else {
      expect(run.code, run.output).toBe(143);
      expect(facts(run, 'error')[0]).toMatch(/^interrupted by SIGTERM during: /);
    }
    expect(facts(run, 'state').at(-1)).toBe('failed');
    expect(emu.leftovers().images).not.toContain(`${PROJECT}/e2e-interrupted`);
  });
});
