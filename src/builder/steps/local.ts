// --local: the very startup script the VM would run, run on this machine (through the seams of docs/architecture.md, Test seams) against a sparse file on
// a loop device, then the disk packed as a GCE-importable archive and, unless only --output is wanted, uploaded
// and imported as the image (rawDisk). Every file, loop device, server and uploaded object is registered for
// cleanup like the VM path's disk and VM.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BuildError } from '../../errors.js';
import { packDiskArchive } from '../../local/archive.js';
import { createLoopDisk } from '../../local/disk.js';
import { startLocalMetadataServer } from '../../local/metadata-server.js';
import { runStartupScript } from '../../local/run-script.js';
import { openDiskForVerify } from '../../local/verify-local.js';
import { renderMetadata } from '../../startup-script/render.js';
import type { BuildContext } from '../context.js';
import { parseSignalLine } from '../serial-log.js';
import { asState, VmSignals } from '../vm-signals.js';
import type { Step } from './step.js';

/** A scratch directory, removed by cleanup. Short, for containerd's socket paths. */
async function scratch(ctx: BuildContext, near?: string): Promise<string> {
  const dir = await mkdtemp(join(near ?? tmpdir(), 'gdib-'));
  ctx.cleanup.register({ kind: 'file', name: dir, command: `rm -rf ${dir}`, remove: async () => (await rm(dir, { recursive: true, force: true }), 'deleted') });
  return dir;
}

/** Runs a rendered script locally against a device and turns its report into the outcome, as wait-vm does. */
async function runLocally(ctx: BuildContext, mode: 'build' | 'verify', device: string, work: string, signal: AbortSignal): Promise<void> {
  const { config, names } = ctx;
  const items = renderMetadata({ mode, runId: names.runId, containerImages: config.containerImages, imagePullAuth: config.imagePullAuth, storeChecksums: config.storeSnapshotChecksum, platform: config.platform });
  const attributes = Object.fromEntries(items.map((i) => [i.key, i.value]));
  const signals = new VmSignals(ctx);
  const guest: Record<string, string> = {};
  const md = await startLocalMetadataServer({
    attributes,
    ...(ctx.cloud.accessToken && config.imagePullAuth !== 'None' ? { token: ctx.cloud.accessToken } : {}),
    onGuestAttribute: (key, value) => {
      const k = key.replace(/^gdib\//, '');
      guest[k] = value;
      signals.apply({ state: asState(guest.state), phase: guest.phase, progress: guest.progress, error: guest.error });
    },
  });
  let exit;
  try {
    // docs/architecture.md, Test seams: the script's seams are taken from this process's environment where set.
    const env = ctx.env;
    exit = await runStartupScript({
      script: attributes['startup-script']!,
      env: {
        GCE_METADATA_HOST: md.host,
        GDIB_DEVICE: device,
        GDIB_MOUNT_DIR: env.GDIB_MOUNT_DIR ?? join(work, 'mnt'),
        GDIB_WORK_DIR: env.GDIB_WORK_DIR ?? join(work, 'w'),
        ...(env.GDIB_HOSTS_DIR ? { GDIB_HOSTS_DIR: env.GDIB_HOSTS_DIR } : {}),
      },
      onLine: (raw) => {
        const line = ctx.serial.append(raw);
        ctx.emit({ type: 'serial', line });
        const s = parseSignalLine(line);
        if (s) signals.apply(s);
      },
      signal,
    });
  } finally {
    await md.close();
    signals.finishPhase();
  }
  signal.throwIfAborted();
  if (signals.outcome !== 'succeeded' || exit.exitCode !== 0) {
    const why = signals.error ?? `the script ended with ${exit.signal ?? `exit status ${exit.exitCode}`} without a reason`;
    throw new BuildError(`the local ${mode === 'verify' ? 'verification' : 'build'} failed: ${why}`, mode === 'verify' ? 'local-verify' : 'local-bake');
  }
}

/** Where a local build's scratch directory (the disk file among it) is made: beside --output, else in the temp dir. */
export function scratchParent(ctx: BuildContext): string {
  return ctx.config.archivePath ? dirname(ctx.config.archivePath) : tmpdir();
}

export const localBake: Step = {
  name: 'local-bake',
  title: 'Baking the disk on this machine (--local)',
  async run(ctx, signal) {
    const work = await scratch(ctx, scratchParent(ctx));
    const disk = await createLoopDisk(join(work, 'disk.raw'), ctx.config.diskSizeGb);
    const loop = ctx.cleanup.register({ kind: 'file', name: disk.device, command: `losetup -d ${disk.device}`, remove: async () => (await disk.detach(), 'deleted') });
    try {
      await runLocally(ctx, 'build', disk.device, work, signal);
    } finally {
      await disk.detach();
      ctx.cleanup.release(loop);
    }
    ctx.state.localDisk = disk.file;
  },
};

export const packArchive: Step = {
  name: 'pack-archive',
  title: 'Packing the disk as a GCE image archive (disk.raw in a .tar.gz)',
  async run(ctx, signal) {
    const out = ctx.config.archivePath ?? join(dirname(ctx.state.localDisk!), 'disk.tar.gz');
    let last = 0;
    const packed = await packDiskArchive(ctx.state.localDisk!, out, {
      signal,
      onProgress: (bytes) => {
        if (bytes - last >= 64 << 20) ctx.emit({ type: 'vm-progress', progress: `packed ${(bytes / 1e6).toFixed(0)} MB` });
        last = bytes;
      },
    });
    ctx.state.archive = packed.path;
    if (ctx.config.archivePath) ctx.emit({ type: 'resource-created', kind: 'file', name: packed.path });
  },
};

/** Where the archive is uploaded for the image import: next to the run's logs. */
export function archiveObject(ctx: BuildContext): { object: string; gsUri: string; url: string } {
  const { config, names } = ctx;
  const object = `${names.logPrefix}/disk.tar.gz`;
  return { object, gsUri: `gs://${config.gcsBucket}/${object}`, url: `https://storage.googleapis.com/${config.gcsBucket}/${object}` };
}

export const uploadArchive: Step = {
  name: 'upload-archive',
  title: 'Uploading the archive to GCS',
  async run(ctx, signal) {
    const { config } = ctx;
    const { object, gsUri, url } = archiveObject(ctx);
    if (!config.keepArchive) {
      ctx.cleanup.register({
        kind: 'object',
        name: gsUri,
        command: `gcloud storage rm ${gsUri}`,
        remove: (s) => ctx.cloud.storage.deleteObject(config.gcsBucket, object, s),
      });
    }
    let last = 0;
    await ctx.cloud.storage.uploadFile(config.gcsBucket, object, ctx.state.archive!, (bytes) => {
      if (bytes - last >= 64 << 20) ctx.emit({ type: 'vm-progress', progress: `uploaded ${(bytes / 1e6).toFixed(0)} MB` });
      last = bytes;
    }, signal);
    ctx.state.archiveUrl = url;
    ctx.emit({ type: 'resource-created', kind: 'object', name: gsUri });
  },
};

export const localVerify: Step = {
  name: 'local-verify',
  title: 'Verifying the disk on this machine (--local)',
  async run(ctx, signal) {
    const work = await scratch(ctx);
    const disk = await openDiskForVerify(ctx.config.verifyFile!, work, { signal });
    try {
      await runLocally(ctx, 'verify', disk.device, work, signal);
    } finally {
      await disk.release();
    }
  },
};
