// Verify (docs/vm-script.md, Verify): the data disk, made from the image under test, mounted read-only (no journal
// replay: not one block written); every snapshot snapshots.metadata lists must exist and match its checksum — or,
// on a disk of data files (gdib-data.json at its root), every file the manifest lists (data-verify.ts).
import { cpus } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKSUM_PATTERN, DATA_MANIFEST, LAYOUT, parseSnapshotsMetadata, statusValue } from '../contract.js';
import { snapshotChecksum } from './checksum.js';
import { checkAborted, type Ctx } from './context.js';
import { verifyDataDisk } from './data-verify.js';
import { DataDisk, isMountPoint } from './disk.js';
import { Fail } from './errors.js';
import type { VerifyParams } from './params.js';

/** The entries of snapshots.metadata, or why the disk cannot be verified. */
export function readForVerify(text: string): { chainId: string; dir: string; checksum: string }[] {
  const entries = parseSnapshotsMetadata(text);
  if (!Array.isArray(entries))
    throw new Fail(`${LAYOUT.snapshotsMetadata} line ${entries.badLine} is malformed: ${statusValue(entries.line.slice(0, 120))}`);
  let unsummed = 0;
  const lines = text.split('\n');
  for (const e of entries) {
    if (e.checksum === undefined) unsummed++;
    else if (!CHECKSUM_PATTERN.test(e.checksum)) {
      const n = lines.findIndex((l) => l.includes(e.chainId) && l.includes(e.checksum ?? '')) + 1;
      throw new Fail(`${LAYOUT.snapshotsMetadata} line ${n} has a malformed checksum`);
    }
  }
  if (entries.length === 0) throw new Fail(`${LAYOUT.snapshotsMetadata} lists no snapshot`);
  if (unsummed > 0) {
    throw new Fail(
      `${LAYOUT.snapshotsMetadata} has no checksum for ${unsummed} of ${entries.length} snapshots: build the image with --store-snapshot-checksum=true to verify it`,
    );
  }
  return entries.map((e) => ({ chainId: e.chainId, dir: e.dir, checksum: e.checksum ?? '' }));
}

function listed(dirs: readonly string[]): string {
  return `${dirs.slice(0, 5).join(' ')}${dirs.length > 5 ? ' ...' : ''}`;
}

export async function verify(ctx: Ctx, params: VerifyParams): Promise<void> {
  const { report, step } = ctx;
  const disk = new DataDisk(ctx);
  let done = false;
  try {
    await report.status('phase', 'verifying');
    step.set('verifying');
    disk.dev = ctx.env.device ?? `/dev/disk/by-id/google-${params.deviceName}`;
    await disk.claimDevice(params.deviceName);
    if (isMountPoint(ctx.sys, ctx.env.mountDir)) throw new Fail(`${ctx.env.mountDir} is already a mount point`);
    const why = await disk.mount('', undefined, true);
    if (why !== undefined) throw new Fail(`mounting ${disk.dev} read-only on ${ctx.env.mountDir} failed`);
    const file = join(ctx.env.mountDir, LAYOUT.snapshotsMetadata);
    if (existsSync(join(ctx.env.mountDir, DATA_MANIFEST))) {
      await verifyDataDisk(ctx, ctx.env.mountDir);
      await unmount(ctx, disk);
      done = true;
      return;
    }
    if (!existsSync(file))
      throw new Fail(`the disk has no ${LAYOUT.snapshotsMetadata}: it is not a disk image built by gke-disk-image-builder`);
    const entries = readForVerify(readFileSync(file, 'utf8'));
    const n = entries.length;
    const bad: string[] = [];
    const missing: string[] = [];
    for (const [k, e] of entries.entries()) {
      checkAborted(ctx);
      step.set(`verifying ${e.dir}`);
      const dir = join(ctx.env.mountDir, e.dir);
      if (!existsSync(dir)) {
        report.log(`MISSING ${e.dir} (${e.chainId})`);
        missing.push(e.dir);
        continue;
      }
      const started = Date.now();
      let actual: string;
      try {
        actual = await snapshotChecksum(ctx.sys, dir, cpus().length, ctx.signal);
      } catch {
        checkAborted(ctx);
        throw new Fail(`reading ${e.dir} failed`);
      }
      if (actual === e.checksum) report.log(`ok ${k + 1}/${n} ${e.dir} ${actual} (${Math.round((Date.now() - started) / 1000)} s)`);
      else {
        report.log(`MISMATCH ${k + 1}/${n} ${e.dir} (${e.chainId}): expected ${e.checksum}, got ${actual}`);
        bad.push(e.dir);
      }
      await report.status('progress', `${k + 1}/${n} snapshots`);
    }
    const problems: string[] = [];
    if (bad.length > 0) problems.push(`${bad.length} of ${n} snapshots do not match their checksum (${listed(bad)})`);
    if (missing.length > 0) problems.push(`${missing.length} of ${n} snapshot directories are missing (${listed(missing)})`);
    if (problems.length > 0) throw new Fail(`verification failed: ${problems.join('; ')}`);
    report.log(`all ${n} snapshots match their checksums`);
    await unmount(ctx, disk);
    done = true;
  } finally {
    if (!done && disk.mounted) await ctx.sys.run('umount', ['--', ctx.env.mountDir]);
  }
}

async function unmount(ctx: Ctx, disk: DataDisk): Promise<void> {
  ctx.step.set('unmounting the data disk');
  const res = await ctx.sys.run('umount', ['--', ctx.env.mountDir]);
  if (res.code !== 0) throw new Fail(`cannot unmount ${ctx.env.mountDir}`);
  disk.mounted = false;
}
