// A data disk (--data-source) on the rig: files served by the emulator's Cloud Storage, written by the agent onto a
// loop-device disk held to a 200 GB pd-ssd's rate; beside it the floor (dd of as many bytes to the same kind of disk)
// and a plain sequential copy (each object fetched in turn and written to the mounted disk, then sync). Writes
// docs/benchmarks/data-disk.json and .md. Alone: `npm run bench -- bench/data-disk.ts` (GDIB_BENCH_DATA_MB, 1024).
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'vitest';
import { renderMetadata } from '../src/startup-script/render.js';
import { dataFingerprint, type DataSource } from '../src/vm/contract.js';
import { listDataSource } from '../src/vm/data-sources.js';
import { startEmulator } from '../test/emulator/index.js';
import { LoopDisk, mount, unmount } from '../test/rig/disk.js';
import { randomToken, startMetadataServer } from '../test/rig/metadata-server.js';
import { run } from '../test/rig/proc.js';
import { startRig } from '../test/rig/rig.js';
import { applyDiskMode, pdSsd } from './lib/honest-disk.js';
import { runMeasured } from './lib/on-vm.js';
import { writeResult } from './lib/results.js';
import { table } from './lib/stats.js';

const MiB = 2 ** 20;
const TOTAL = Number(process.env.GDIB_BENCH_DATA_MB ?? 1024) * MiB;
const log = (s: string) => console.log(`[bench] ${s}`);
const mode = pdSsd(200);

/** Several large files (80 % of the bytes) and many small ones (64 KiB), random bytes. */
function files(): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const large = 4;
  for (let i = 0; i < large; i++) out[`data/weights/shard-${i}.bin`] = Buffer.alloc(Math.floor((TOTAL * 0.8) / large), i + 1);
  const small = Math.floor((TOTAL * 0.2) / (64 * 1024));
  for (let i = 0; i < small; i++) out[`data/small/d${i % 50}/f-${i}.dat`] = Buffer.alloc(64 * 1024, (i % 250) + 1);
  return out;
}

async function freshDisk(dir: string, name: string, mib: number): Promise<{ disk: LoopDisk; mnt: string; done: () => Promise<void> }> {
  const disk = await LoopDisk.create(join(dir, `${name}.img`), mib);
  await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1', disk.device]);
  const undo = await applyDiskMode(disk, mode);
  const mnt = join(dir, `${name}-mnt`);
  mkdirSync(mnt, { recursive: true });
  await mount(disk.device, mnt, { options: 'noinit_itable' });
  return {
    disk,
    mnt,
    done: async () => {
      await unmount(mnt);
      undo();
      await disk.detach();
    },
  };
}

describe('a data disk', () => {
  it('the agent beside the disk floor and a sequential copy', { timeout: 1_800_000 }, async () => {
    const objects = files();
    const bytes = Object.values(objects).reduce((a, b) => a + b.length, 0);
    const emu = await startEmulator({ buckets: [{ name: 'weights' }] });
    const rig = await startRig('data-disk');
    try {
      for (const [name, data] of Object.entries(objects)) emu.putObject('weights', name, data);
      const token = randomToken();
      emu.acceptToken(token);
      const sources: DataSource[] = [{ kind: 'gcs', bucket: 'weights', path: 'data', prefix: true, dest: 'data' }];
      const listed = await listDataSource(sources[0]!, 0, {
        storageEndpoint: emu.storageHost,
        hfEndpoint: 'http://127.0.0.1:9',
        token: () => Promise.resolve(token),
      });
      const diskMiB = Math.ceil((bytes * 1.3) / MiB) + 512;
      const input = {
        mode: 'build',
        runId: 'data01',
        containerImages: ['unused.example/none:1'],
        imagePullAuth: 'None',
        storeChecksums: false,
        platform: 'linux/amd64',
      } as const;
      const attributes = Object.fromEntries(renderMetadata(input).map((i) => [i.key, i.value]));
      const plan = { sources, fingerprint: dataFingerprint(listed), sourceFingerprints: [dataFingerprint(listed)] };
      const md = await startMetadataServer({
        attributes: { ...attributes, 'gdib-container-images': '', 'gdib-data-plan': JSON.stringify(plan) },
        issueToken: () => {
          const t = randomToken();
          emu.acceptToken(t);
          return t;
        },
      });
      let agent;
      try {
        agent = await runMeasured(
          rig,
          'data-agent',
          attributes['startup-script'] ?? '',
          [],
          { diskMiB, mode, timeoutMs: 1_200_000 },
          (disk, runDir, work) => ({
            GCE_METADATA_HOST: md.host,
            GDIB_DEVICE: disk.device,
            GDIB_MOUNT_DIR: join(runDir, 'mnt'),
            GDIB_WORK_DIR: work,
            GDIB_STORAGE_ENDPOINT: emu.storageHost,
          }),
        );
      } finally {
        await md.close();
      }
      if (agent.code !== 0) throw new Error(`the agent failed: ${agent.output.slice(-2000)}`);
      await agent.disk.detach();
      const downloading = agent.phases.downloading ?? 0;
      log(
        `agent: ${agent.wallSec.toFixed(1)} s, downloading ${downloading.toFixed(1)} s, ${(agent.writtenBytes / 1e6).toFixed(0)} MB written`,
      );

      const dir = rig.runDir('data-floor');
      mkdirSync(dir, { recursive: true });
      const f = await freshDisk(dir, 'floor', diskMiB);
      let t = performance.now();
      await run('dd', ['if=/dev/zero', `of=${join(f.mnt, 'zeros')}`, 'bs=4M', `count=${Math.ceil(bytes / (4 * MiB))}`, 'conv=fsync']);
      const floorSec = (performance.now() - t) / 1000;
      await f.done();
      log(`floor (dd): ${floorSec.toFixed(1)} s`);

      const c = await freshDisk(dir, 'copy', diskMiB);
      t = performance.now();
      for (const name of Object.keys(objects)) {
        const url = `${emu.storageHost}/storage/v1/b/weights/o/${encodeURIComponent(name)}?alt=media`;
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok || !res.body) throw new Error(`GET ${name}: ${res.status}`);
        const dest = join(c.mnt, name);
        mkdirSync(join(dest, '..'), { recursive: true });
        await pipeline(Readable.fromWeb(res.body as never), createWriteStream(dest));
      }
      await run('sync', ['-f', c.mnt]);
      const copySec = (performance.now() - t) / 1000;
      await c.done();
      log(`sequential copy: ${copySec.toFixed(1)} s`);

      const r = {
        bytes,
        files: Object.keys(objects).length,
        agent: { wallSec: agent.wallSec, downloadingSec: downloading, phases: agent.phases },
        floorSec,
        copySec,
      };
      const mb = bytes / 1e6;
      writeResult('data-disk', r, [
        `${r.files} files, ${mb.toFixed(0)} MB (4 large, the rest 64 KiB each), the emulator's Cloud Storage; disk held to ${mode.mibPerSec.toFixed(0)} MiB/s.`,
        table(
          ['', 's', 'MB/s'],
          [
            ['the agent: whole run', agent.wallSec.toFixed(1), (mb / agent.wallSec).toFixed(0)],
            ['the agent: downloading phase', downloading.toFixed(1), (mb / downloading).toFixed(0)],
            ['floor: dd of as many bytes, fsync', floorSec.toFixed(1), (mb / floorSec).toFixed(0)],
            ['sequential copy (one object at a time), sync', copySec.toFixed(1), (mb / copySec).toFixed(0)],
          ],
          ['l', 'r', 'r'],
        ),
      ]);
    } finally {
      await rig.close();
      await emu.close();
    }
  });
});
