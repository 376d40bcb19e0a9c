// --local (docs/architecture.md, Workflow): what the local steps share — the very startup script the VM would run,
// run on this machine (through the seams of docs/architecture.md, Test seams) against a sparse file on a loop
// device, with a local metadata server; the scratch directory and loop device registered for cleanup like the VM
// path's disk and VM; where the archive is uploaded.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BuildError } from '../errors.js';
import { mountsOfDevice, mountsUnderDir, servesFile, undoCommands, unmountAll } from '../local/disk.js';
import { startLocalMetadataServer } from '../local/metadata-server.js';
import { DEFAULT_GRACE_MS, runStartupScript } from '../local/run-script.js';
import type { BakeRun, LocalBuild, LocalVerify } from '../config/types.js';
import { scriptMetadata } from './steps/script-input.js';
import type { Tracked } from './cleanup.js';
import type { BuildContext } from './context.js';
import { parseStatusLine } from './serial-log.js';
import { asState, VmStatus } from './vm-status.js';

/**
 * How long cleanup waits for a local step's own ending — the script's TERM handling (it stops its containerd and
 * unmounts the disk), its kill after the grace period, the unmounting of what it left — before it removes anything:
 * removing the scratch dir or the loop device under a running script is what leaked mounts and loop devices.
 */
const STEP_SETTLE_MS = DEFAULT_GRACE_MS + 30_000;

/** Resolved when a local step's own work has ended, however it ended. */
export function stepSettled(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function afterStep(settled: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([settled, new Promise<void>((r) => (timer = setTimeout(r, STEP_SETTLE_MS).unref()))]);
  clearTimeout(timer);
}

/**
 * A scratch directory, removed by cleanup once the step has ended, and never while something is mounted under it
 * (the hand-cleanup command then names the `umount`s). Short, for containerd's socket paths.
 */
export async function scratch(ctx: BuildContext, settled: Promise<void>, near?: string): Promise<string> {
  const dir = await mkdtemp(join(near ?? tmpdir(), 'gdib-'));
  const item: Tracked = {
    kind: 'file',
    name: dir,
    command: undoCommands({ dir }),
    remove: async () => {
      await afterStep(settled);
      const mounted = await unmountAll(mountsUnderDir(dir));
      if (mounted.length > 0) {
        item.command = undoCommands({ mounts: mounted, dir });
        throw new Error(`still mounted under it: ${mounted.join(', ')}`);
      }
      await rm(dir, { recursive: true, force: true });
      return 'deleted';
    },
  };
  ctx.cleanup.register(item);
  return dir;
}

/**
 * A loop device serving `file`, detached by cleanup once the step has ended: first unmounted wherever it is
 * mounted, and counted as deleted only when it no longer serves the file (`losetup -d` of a busy device only
 * marks it to go when closed). Otherwise the hand-cleanup command names the `umount`s and the `losetup -d`.
 */
export function registerLoop(
  ctx: BuildContext,
  device: string,
  file: string,
  release: () => Promise<void>,
  settled: Promise<void>,
): Tracked {
  const item: Tracked = {
    kind: 'file',
    name: device,
    command: undoCommands({ device }),
    remove: async () => {
      await afterStep(settled);
      const mounted = await unmountAll(mountsOfDevice(device));
      const released = await release().then(
        () => undefined,
        (err: Error) => err,
      );
      if (mounted.length > 0 || servesFile(device, file)) {
        item.command = undoCommands({ mounts: mounted, device });
        throw new Error(
          mounted.length > 0
            ? `still mounted at ${mounted.join(', ')}`
            : `${device} still serves ${file}${released ? ` (${released.message})` : ''}`,
        );
      }
      return 'deleted';
    },
  };
  return ctx.cleanup.register(item);
}

/** Runs a rendered script locally against a device and turns its report into the outcome, as wait-vm does. */
export async function runLocally(
  ctx: BuildContext<BakeRun | LocalVerify>,
  device: string,
  work: string,
  signal: AbortSignal,
): Promise<void> {
  const { config, names } = ctx;
  const mode = config.kind === 'local-verify' ? 'verify' : 'build';
  const items = scriptMetadata(config, names, 'blank', ctx.state.data?.plan);
  const attributes = Object.fromEntries(items.map((i) => [i.key, i.value]));
  const status = new VmStatus(ctx);
  const guest: Record<string, string> = {};
  const md = await startLocalMetadataServer({
    attributes,
    // The caller's token, for the registries it is sent to, for reading the registry secrets and a data disk's
    // Hugging Face token, and for its gs:// sources (the script reads them itself, as on a VM, so the credentials
    // never pass through this process's arguments or environment).
    ...(config.kind !== 'local-verify' &&
    (config.imagePullAuth !== 'None' || config.registrySecrets.length > 0 || config.dataSources.length > 0)
      ? { token: ctx.cloud.accessToken }
      : {}),
    onGuestAttribute: (key, value) => {
      const k = key.replace(/^gdib\//, '');
      guest[k] = value;
      status.apply({ state: asState(guest.state), phase: guest.phase, progress: guest.progress, error: guest.error });
    },
  });
  let exit;
  try {
    // docs/architecture.md, Test seams: the script's seams are taken from this process's environment where set.
    const env = ctx.env;
    exit = await runStartupScript({
      // The agent, run by this process's own Node (docs/vm-script.md, --local).
      script: attributes['gdib-agent']!,
      runner: 'node',
      env: {
        GCE_METADATA_HOST: md.host,
        GDIB_DEVICE: device,
        GDIB_MOUNT_DIR: env.GDIB_MOUNT_DIR ?? join(work, 'mnt'),
        GDIB_WORK_DIR: env.GDIB_WORK_DIR ?? join(work, 'w'),
        ...(env.GDIB_HOSTS_DIR ? { GDIB_HOSTS_DIR: env.GDIB_HOSTS_DIR } : {}),
        ...secretManagerSeam(env),
        ...dataSourceSeams(env),
      },
      onLine: (raw) => {
        const line = ctx.serial.append(raw);
        ctx.emit({ type: 'serial', line });
        // Guest attributes (always readable here) decide; the console's status lines only show phases and progress.
        const s = parseStatusLine(line, names.statusNonce);
        if (s) status.apply({ phase: s.phase, progress: s.progress });
      },
      signal,
    });
  } finally {
    await md.close();
    status.finishPhase();
  }
  signal.throwIfAborted();
  if (status.outcome !== 'succeeded' || exit.exitCode !== 0) {
    const why = status.error ?? `the script ended with ${exit.signal ?? `exit status ${exit.exitCode}`} without a reason`;
    throw new BuildError(
      `the local ${mode === 'verify' ? 'verification' : 'build'} failed: ${why}`,
      mode === 'verify' ? 'local-verify' : 'local-bake',
    );
  }
}

/** The script's Secret Manager endpoint: its own seam, else the CLI's (gcloud's variable), else the script's default. */
function secretManagerSeam(env: Record<string, string | undefined>): { GDIB_SECRETMANAGER_ENDPOINT?: string } {
  const endpoint = env.GDIB_SECRETMANAGER_ENDPOINT || env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER;
  return endpoint ? { GDIB_SECRETMANAGER_ENDPOINT: endpoint } : {};
}

/**
 * A data disk's source endpoints for the script: its own seam, else the CLI's (`STORAGE_EMULATOR_HOST`, with or
 * without a scheme, as the storage client takes it), and `HF_ENDPOINT` as Hugging Face's tools read it.
 */
function dataSourceSeams(env: Record<string, string | undefined>): { GDIB_STORAGE_ENDPOINT?: string; HF_ENDPOINT?: string } {
  const emulator = env.STORAGE_EMULATOR_HOST;
  const storage = env.GDIB_STORAGE_ENDPOINT || (emulator ? (/^https?:\/\//.test(emulator) ? emulator : `http://${emulator}`) : undefined);
  return { ...(storage ? { GDIB_STORAGE_ENDPOINT: storage } : {}), ...(env.HF_ENDPOINT ? { HF_ENDPOINT: env.HF_ENDPOINT } : {}) };
}

/** Where a local build's scratch directory (the disk file among it) is made: beside --output, else in the temp dir. */
export function scratchParent(ctx: BuildContext<BakeRun>): string {
  return ctx.config.archivePath ? dirname(ctx.config.archivePath) : tmpdir();
}

/** Where the archive is uploaded for the image import: next to the run's logs. */
export function archiveObject(ctx: BuildContext<LocalBuild>): { object: string; gsUri: string; url: string } {
  const { config, names } = ctx;
  const object = `${names.logs?.prefix ?? names.runId}/disk.tar.gz`;
  return { object, gsUri: `gs://${config.gcsBucket}/${object}`, url: `https://storage.googleapis.com/${config.gcsBucket}/${object}` };
}
