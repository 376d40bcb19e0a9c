// The build (docs/vm-script.md, Build): installing (the bootstrap) → formatting, or mounting a base image's disk →
// pulling/unpacking each image → checksumming → done.
import { cpus, totalmem } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LAYOUT } from '../contract.js';
import { snapshotChecksum } from './checksum.js';
import { Containerd } from './containerd.js';
import { checkAborted, type Ctx } from './context.js';
import { configureHosts, Scrubber } from './credentials.js';
import { DataDisk } from './disk.js';
import { Fail, humanBytes } from './errors.js';
import type { BuildParams } from './params.js';
import { chooseJobs, pullAll, pullImage } from './pull.js';
import { Recorder } from './record.js';
import { Reuse } from './reuse.js';

/** Checksums computed in the background, one snapshot at a time, while the next images pull. */
class ChecksumQueue {
  readonly sums = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private failure: Fail | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly ctx: Ctx,
    private readonly jobs: number,
  ) {}

  add(chain: string, dir: string): void {
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined || this.stop.signal.aborted) return;
      const started = Date.now();
      try {
        const sum = await snapshotChecksum(this.ctx.sys, join(this.ctx.env.mountDir, dir), this.jobs, this.stop.signal);
        this.sums.set(chain, sum);
        this.ctx.report.log(`checksum ${dir} ${sum} (${Math.round((Date.now() - started) / 1000)} s)`);
      } catch {
        this.failure ??= new Fail(`computing the checksum of ${dir} failed`);
      }
    });
  }

  async done(): Promise<Map<string, string>> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
    return this.sums;
  }

  async cancel(): Promise<void> {
    this.stop.abort();
    await this.chain;
  }
}

export async function build(ctx: Ctx, params: BuildParams, version: string): Promise<void> {
  const { report, step } = ctx;
  const disk = new DataDisk(ctx);
  const ctrd = new Containerd(ctx);
  const reuse = new Reuse(ctx, disk);
  const fromImage = params.dataDisk === 'from-image';
  const cpuCount = Math.max(1, cpus().length);
  const checksumJobs = ctx.opts.checksumJobs ?? cpuCount;
  const queue = params.storeChecksums ? new ChecksumQueue(ctx, checksumJobs) : undefined;
  let succeeded = false;
  try {
    if (fromImage) {
      await report.status('phase', 'mounting');
      step.set('mounting');
      await reuse.mountBase(params.deviceName);
    } else {
      await report.status('phase', 'formatting');
      step.set('formatting');
      await disk.claim(params.deviceName);
      await disk.formatAndMount();
    }
    checkAborted(ctx);
    await ctrd.start(fromImage);
    const hostsDir = configureHosts(ctx);
    if (fromImage) await reuse.restore(ctrd);
    checkAborted(ctx);

    const jobs = ctx.opts.pullJobs ?? chooseJobs(cpuCount, totalmem());
    const n = params.images.length;
    const scrubber = new Scrubber();
    const recorder = new Recorder(ctx, ctrd, params.platform);
    if (jobs > 1 && n > 1) report.log(`pulling ${n} images, up to ${jobs} at once`);
    await pullAll(
      ctx,
      n,
      jobs,
      // The first image alone: containerd 1.6 unpacks a base shared by two racing pulls twice.
      true,
      (i, stop) =>
        pullImage(
          {
            ctx,
            params,
            ctrd,
            hostsDir,
            scrubber,
            ...(fromImage
              ? { beforePull: (k, ref, creds, dir) => reuse.seed(ctrd, k, ref, params.platform, dir, creds, (s) => scrubber.scrub(s)) }
              : {}),
          },
          i,
          n,
          params.images[i - 1] ?? '',
          stop,
        ),
      async (i, pulled) => {
        const ref = params.images[i - 1] ?? '';
        step.set(`recording ${ref}`);
        const fresh = await recorder.describe(ref, pulled.target, pulled.chain);
        disk.startFlush();
        for (const chain of fresh) if (queue && !reuse.baseSums.has(chain)) queue.add(chain, recorder.snapshotDir.get(chain) ?? '');
      },
    );
    if (fromImage) await reuse.removeUnused(ctrd, new Set(recorder.chains));
    await report.status(
      'progress',
      `${n}/${n} images, ${recorder.chains.length} snapshots, ${humanBytes(disk.usage().used)} on the data disk`,
    );

    let sums: Map<string, string> | undefined;
    if (queue) {
      await report.status('phase', 'checksumming');
      step.set('checksumming the last snapshots');
      sums = await queue.done();
      report.log(`${sums.size} checksums computed while the images were pulled`);
      const total = recorder.chains.length;
      for (const [k, chain] of recorder.chains.entries()) {
        checkAborted(ctx);
        const dir = recorder.snapshotDir.get(chain) ?? '';
        if (!sums.has(chain)) {
          const carried = reuse.baseSums.get(chain);
          if (carried !== undefined) {
            sums.set(chain, carried);
            report.log(`checksum ${k + 1}/${total} ${dir} ${carried} (carried over from the base image)`);
          } else {
            step.set(`checksumming ${dir}`);
            const started = Date.now();
            try {
              sums.set(chain, await snapshotChecksum(ctx.sys, join(ctx.env.mountDir, dir), checksumJobs, ctx.signal));
            } catch {
              checkAborted(ctx);
              throw new Fail(`computing the checksum of ${dir} failed`);
            }
            report.log(`checksum ${k + 1}/${total} ${dir} ${sums.get(chain)} (${Math.round((Date.now() - started) / 1000)} s)`);
          }
        }
        await report.status('progress', `${k + 1}/${total} snapshots`);
      }
    }
    step.set('writing the metadata files');
    await recorder.write(params.runId, version, sums);

    step.set('unmounting the data disk');
    await ctrd.stop();
    // The snapshotter's own database is containerd's business, not GKE's.
    rmSync(join(ctx.env.mountDir, LAYOUT.snapshotterDb), { force: true });
    const use = disk.usage();
    report.log(`data disk: ${n} image(s), ${recorder.chains.length} snapshot(s), ${humanBytes(use.used)} of ${humanBytes(use.size)} used`);
    if (!(await disk.unmount())) throw new Fail(`cannot unmount the data disk ${ctx.env.mountDir}: ${disk.lastUnmountError}`);
    // The content store (the compressed layers) is of no further use: give the boot disk its space back, once
    // nothing is mounted under it.
    if (!ctx.sys.mounts().some((m) => m.target.startsWith(`${ctrd.dir}/`))) rmSync(ctrd.dir, { recursive: true, force: true });
    succeeded = true;
  } finally {
    if (!succeeded) {
      await queue?.cancel();
      await ctrd.stop();
      if (!(await disk.unmount())) report.log(`could not unmount ${ctx.env.mountDir}`);
    }
  }
}
