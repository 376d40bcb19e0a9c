// The local build's blocks together, without the CLI: render the metadata, serve it, run the build
// script against a loop disk, pack the disk as a GCE image archive, unpack it, check the layout of docs/architecture.md, Disk layout
// layout, and verify it with the verify script — as `build --local` and `verify --local` will.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packDiskArchive, unpackDiskArchive } from '../../src/local/archive.js';
import { createLoopDisk, GIB, loopDevicesOf, type LoopDisk } from '../../src/local/disk.js';
import { startLocalMetadataServer } from '../../src/local/metadata-server.js';
import { localPreconditions } from '../../src/local/preconditions.js';
import { runStartupScript, type StartupScriptExit } from '../../src/local/run-script.js';
import { openDiskForVerify, type VerifyDisk } from '../../src/local/verify-local.js';
import { renderMetadata, type MetadataInput } from '../../src/startup-script/render.js';
import { goToolChecksum } from '../rig/checksum.js';
import { isMountPoint, mount, unmount } from '../rig/disk.js';
import { applyLayers, diffTrees, readTree } from '../rig/fs-model.js';
import { mountOverlay, parseSnapshotsMetadata, processesMentioning, type SnapshotLine } from '../rig/inspect.js';
import { randomToken } from '../rig/metadata-server.js';
import { run } from '../rig/proc.js';
import { chainIds, fetchImage } from '../rig/registry-client.js';
import { describeRig, GOOGLE_HOSTS, PRIVATE_REPO, REPO, startRig, type Rig } from '../rig/rig.js';

interface LocalRun extends StartupScriptExit {
  lines: string[];
  guest: [string, string][];
  tokens: string[];
  mountDir: string;
  workDir: string;
}

describeRig('local build blocks, end to end', () => {
  let rig: Rig;
  const disks: LoopDisk[] = [];
  const verifyDisks: VerifyDisk[] = [];
  const mounts: string[] = [];

  /** What `build --local` / `verify --local` do with the blocks, for one script run. */
  async function runLocally(
    name: string,
    input: MetadataInput,
    device: string,
    opts: { abortOn?: [string, string] } = {},
  ): Promise<LocalRun> {
    const attributes = Object.fromEntries(renderMetadata(input).map((i) => [i.key, i.value]));
    const guest: [string, string][] = [];
    const tokens: string[] = [];
    const ac = new AbortController();
    const server = await startLocalMetadataServer({
      attributes,
      // The caller's token; the rig's token registry accepts only the latest one handed out.
      token: async () => {
        const token = randomToken();
        await rig.token.setToken(token);
        tokens.push(token);
        return token;
      },
      onGuestAttribute: (key, value) => {
        guest.push([key, value]);
        if (opts.abortOn && key === opts.abortOn[0] && value === opts.abortOn[1]) ac.abort();
      },
    });
    const dir = rig.runDir(name);
    const lines: string[] = [];
    try {
      const exit = await runStartupScript({
        // As build --local runs it: the agent, with this process's own Node.
        script: attributes['gdib-agent'] ?? '',
        runner: 'node',
        env: {
          GCE_METADATA_HOST: server.host,
          GDIB_DEVICE: device,
          GDIB_MOUNT_DIR: join(dir, 'mnt'),
          GDIB_WORK_DIR: join(dir, 'work'),
          GDIB_HOSTS_DIR: rig.hostsDir,
        },
        onLine: (l) => lines.push(l),
        signal: ac.signal,
      });
      return { ...exit, lines, guest, tokens, mountDir: join(dir, 'mnt'), workDir: join(dir, 'work') };
    } finally {
      await server.close();
    }
  }

  beforeAll(async () => {
    expect(await localPreconditions()).toEqual([]);
    rig = await startRig('local', { huge: true });
  });

  afterAll(async () => {
    for (const m of mounts.reverse()) await unmount(m);
    for (const d of verifyDisks) await d.release();
    for (const d of disks) await d.detach();
    await rig?.close();
  });

  const app = () => rig.ref('app');
  const privateApp2 = `${GOOGLE_HOSTS[0]}/${PRIVATE_REPO}:app2`;

  let build: LocalRun;
  let disk: LoopDisk;
  let archive: { path: string; bytes: number };
  let unpacked: string;
  let lines: SnapshotLine[];
  let inspect: string;

  it('builds the disk: the startup script on a loop disk, with the local metadata server', async () => {
    disk = await createLoopDisk(join(rig.dir, 'data.img'), 1);
    disks.push(disk);
    build = await runLocally(
      'build',
      {
        mode: 'build',
        runId: 'loc001',
        containerImages: [app(), privateApp2],
        imagePullAuth: 'Auto',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      disk.device,
    );
    expect(build.exitCode, build.lines.join('\n')).toBe(0);
    expect(build.signal).toBeNull();
    expect(build.lines).toContain('gdib: state=running');
    expect(build.lines.at(-1)).toBe('gdib: state=succeeded');
    expect(build.lines.filter((l) => l.startsWith('gdib: phase=')).map((l) => l.slice(12))).toEqual(
      expect.arrayContaining(['installing', 'formatting', 'pulling', 'unpacking', 'checksumming', 'done']),
    );
    // The same facts arrived as guest attributes, in the same order.
    const serial = build.lines.flatMap((l) => {
      const m = /^gdib: (state|phase|progress|error)=(.*)$/.exec(l);
      return m ? [[`gdib/${m[1]}`, m[2]]] : [];
    });
    expect(build.guest).toEqual(serial);
    expect(build.guest.at(-1)).toEqual(['gdib/state', 'succeeded']);
    // Auto: a token for the Google-hosted image only, never shown.
    expect(build.tokens).toHaveLength(1);
    for (const t of build.tokens) expect(build.lines.join('\n')).not.toContain(t);
    // Everything was there already (localPreconditions): nothing was installed on this machine.
    expect(build.lines.filter((l) => l.startsWith('gdib: installing '))).toEqual([]);
    expect(disk.device).toMatch(/^\/dev\/loop\d+$/);
    expect(isMountPoint(build.mountDir)).toBe(false);
    expect(processesMentioning(build.workDir)).toEqual([]);
  });

  it('detaches and packs the disk into a small GCE image archive', async () => {
    await disk.detach();
    expect(loopDevicesOf(disk.file)).toEqual([]);
    const started = Date.now();
    archive = await packDiskArchive(disk.file, join(rig.dir, 'image.tar.gz'));
    const ms = Date.now() - started;
    expect(ms).toBeLessThan(20_000);
    expect(archive.bytes).toBeLessThan(64 * 1024 * 1024);
    const { stdout } = await run('tar', ['-tvzf', archive.path]);
    expect(stdout).toMatch(new RegExp(`^-rw-r--r-- 0/0\\s+${GIB}\\s.*\\sdisk\\.raw\\n$`));
  });

  it('unpacks to the very disk, with the layout of docs/architecture.md, Disk layout', async () => {
    unpacked = await unpackDiskArchive(archive.path, join(rig.dir, 'unpacked'));
    expect(statSync(unpacked).size).toBe(GIB);
    const [a, b] = await Promise.all([run('md5sum', [unpacked]), run('md5sum', [disk.file])]);
    expect(a.stdout.split(' ')[0]).toBe(b.stdout.split(' ')[0]);

    const ro = await openDiskForVerify(unpacked, rig.dir);
    verifyDisks.push(ro);
    inspect = join(rig.dir, 'inspect');
    mkdirSync(inspect);
    await mount(ro.device, inspect, { options: 'ro,noload' });
    mounts.push(inspect);
    lines = parseSnapshotsMetadata(readFileSync(join(inspect, 'snapshots.metadata'), 'utf8'));
    // The private app2 is the same image as the open registry's (one OCI layout pushed to both).
    const images = [await fetchImage(rig.open.host, REPO, 'app'), await fetchImage(rig.open.host, REPO, 'app2')];
    const expected = [...new Set(images.flatMap((i) => chainIds(i.diffIds)))];
    expect(lines.map((l) => l.chainId).sort()).toEqual([...expected].sort());
    for (const l of lines) {
      expect(l.path).toMatch(/^snapshots\/\d+\/fs$/);
      expect(l.checksum).toBe(goToolChecksum(join(inspect, l.path)));
    }
    expect(existsSync(join(inspect, 'images.metadata'))).toBe(true);
    const info = JSON.parse(readFileSync(join(inspect, 'gdib.json'), 'utf8')) as { runId: string; images: { reference: string }[] };
    expect(info.runId).toBe('loc001');
    expect(info.images.map((i) => i.reference)).toEqual([app(), privateApp2]);

    // The app image's root filesystem, from the unpacked disk's snapshots.
    const dirOf = new Map(lines.map((l) => [l.chainId, join(inspect, l.path)]));
    const lower = chainIds(images[0]!.diffIds)
      .map((c) => dirOf.get(c) as string)
      .reverse();
    const target = join(rig.dir, 'overlay-app');
    mkdirSync(target);
    await mountOverlay(lower, target);
    mounts.push(target);
    expect(diffTrees(applyLayers(images[0]!.layers), await readTree(target))).toEqual([]);
    await unmount(target);
    await unmount(inspect);
    mounts.splice(0);
    await ro.release();
  });

  it.each(['archive', 'raw disk'] as const)('verifies the %s with the verify script: succeeded', async (kind) => {
    const input = kind === 'archive' ? archive.path : unpacked;
    const ro = await openDiskForVerify(input, rig.dir);
    verifyDisks.push(ro);
    expect(readFileSync(`/sys/block/${ro.device.slice(5)}/ro`, 'utf8').trim()).toBe('1');
    const verify = await runLocally(
      `verify-${kind.replace(' ', '-')}`,
      {
        mode: 'verify',
        runId: 'loc002',
        containerImages: [],
        imagePullAuth: 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      ro.device,
    );
    expect(verify.exitCode, verify.lines.join('\n')).toBe(0);
    expect(verify.lines).toContain(`gdib: all ${lines.length} snapshots match their checksums`);
    expect(verify.guest.at(-1)).toEqual(['gdib/state', 'succeeded']);
    expect(verify.tokens).toEqual([]);
    const extracted = ro.file;
    await ro.release();
    expect(loopDevicesOf(extracted)).toEqual([]);
    if (kind === 'archive')
      expect(existsSync(extracted)).toBe(false); // its extracted copy is gone
    else expect(existsSync(extracted)).toBe(true); // the user's file stays
  });

  it('on abort, the script cleans up and every resource can be released', async () => {
    const d = await createLoopDisk(join(rig.dir, 'aborted.img'), 1);
    disks.push(d);
    const ref = rig.ref('huge');
    const res = await runLocally(
      'aborted',
      {
        mode: 'build',
        runId: 'loc003',
        containerImages: [ref],
        imagePullAuth: 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      },
      d.device,
      { abortOn: ['gdib/phase', 'pulling'] },
    );
    expect(res.exitCode).toBe(143);
    expect(res.guest.at(-2)).toEqual(['gdib/error', `interrupted by SIGTERM during: pulling ${ref}`]);
    expect(res.guest.at(-1)).toEqual(['gdib/state', 'failed']);
    expect(res.lines.at(-1)).toBe('gdib: state=failed');
    expect(isMountPoint(res.mountDir)).toBe(false);
    expect(processesMentioning(res.workDir)).toEqual([]);
    await d.detach();
    expect(loopDevicesOf(d.file)).toEqual([]);
  });
});
