/**
 * Real-VM mode: the emulator's VMs really run the startup script the CLI rendered.
 *
 * `realVm(emu, rig)` installs a VM behaviour and a disk content handler. For each instance that has a
 * `startup-script`:
 * - a fake metadata server (test/rig/metadata-server.ts) serves the instance's metadata items, and every
 *   guest attribute the script writes is forwarded to the instance (`ctx.setAttribute`), where the CLI reads
 *   it with getGuestAttributes;
 * - the data disk (device name from `gdib-device-name`, else `gdib-data`) is a sparse file on a loop device:
 *   a blank disk gets a new file (its `sizeGb`, capped at `maxDiskMiB`), a disk made from an image starts as
 *   a copy of the image's file. The file travels as the disk's `content`; the content handler copies it
 *   (`cp --sparse=always`) whenever an image is made from a disk or an image and whenever a disk is made from
 *   an image, and deletes it when its disk or image is deleted;
 * - the exact `startup-script` value runs under bash as root with only PATH and the script's variables of docs/architecture.md, Test seams
 *   (GCE_METADATA_HOST, GDIB_DEVICE, GDIB_MOUNT_DIR, GDIB_WORK_DIR, GDIB_HOSTS_DIR = the rig's hosts dir);
 *   its stdout and stderr go to the serial console line by line, as the guest agent writes them;
 * - deleting the instance (or closing the emulator) sends the script SIGTERM, as a VM shutdown does, then
 *   SIGKILL to its whole process group after `killGraceMs`; once the script is gone, whatever it left mounted
 *   under its directory is unmounted and the loop device detached.
 * `close()` (also run by `emu.close()`) stops every VM, waits for them and removes every file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { processesMentioning } from '../rig/inspect.js';
import { startMetadataServer, type MetadataServer } from '../rig/metadata-server.js';
import { readMounts, unmountUnder } from '../rig/disk.js';
import { run } from '../rig/proc.js';
import type { Rig } from '../rig/rig.js';
import type { Emulator } from './index.js';
import type { VmContext, VmInstanceView } from './vm.js';
import { line as serialLine } from './vm-scripts.js';

const MiB = 1024 * 1024;
/** The longest socket path the build script makes under its work dir (GDIB_WORK_DIR = <run dir>/work). */
const SOCKET_SUFFIX = 'work/containerd/containerd.sock.ttrpc';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A disk's (or image's) content in real-VM mode: the file that holds its bytes. */
export interface RealDiskContent {
  kind: 'gdib-real-vm-file';
  file: string;
}

export function isRealDiskContent(content: unknown): content is RealDiskContent {
  return typeof content === 'object' && content !== null && (content as RealDiskContent).kind === 'gdib-real-vm-file';
}

/** The file behind a disk or image content, if it is one of real-VM mode's. */
export function backingFile(content: unknown): string | undefined {
  return isRealDiskContent(content) ? content.file : undefined;
}

export interface RealVmOptions {
  /** Cap on a data disk's backing file (default 256 MiB): the file is `min(sizeGb GiB, maxDiskMiB MiB)`, sparse. */
  maxDiskMiB?: number;
  /** Time between SIGTERM and SIGKILL when the instance is deleted (default 30 s). */
  killGraceMs?: number;
  /** Which instances run for real (default: every instance with a `startup-script`). */
  match?: (instance: VmInstanceView) => boolean;
  /**
   * More of the script's environment: the seams of docs/architecture.md, Test seams that point the agent's own
   * requests elsewhere (GDIB_STORAGE_ENDPOINT, HF_ENDPOINT, GDIB_SECRETMANAGER_ENDPOINT for a data disk).
   */
  env?: Readonly<Record<string, string>>;
  /** Makes the service-account token the VM's metadata server hands out (default: a fresh random one). */
  issueToken?: () => string;
}

export interface RealVmRun {
  instance: string;
  mode?: string;
  dir: string;
  device?: string;
  /** The backing file of the data disk. */
  file?: string;
  /** The script's exit status; `signal` when it was killed. */
  code?: number | null;
  signal?: NodeJS.Signals | null;
  /** stdout and stderr as they arrived. */
  output: string;
  /** Every guest attribute the script wrote, in order. */
  attributeLog: { key: string; value: string }[];
  /** Tokens the metadata server handed out. */
  tokens: string[];
  startedAt: number;
  /** Script start to exit. */
  durationMs?: number;
  /** Resolves once the VM stopped and everything it had (loop device, mounts, processes) is gone. */
  finished: Promise<void>;
}

export interface RealVmLeftovers {
  /** Loop devices whose backing file is one of this mode's files. */
  loopDevices: string[];
  /** Mount points under this mode's directory, or of its loop devices. */
  mounts: string[];
  /** Processes whose command line mentions this mode's directory. */
  processes: number[];
}

export interface RealVm {
  /** Where the backing files and the runs' directories are. */
  dir: string;
  runs: RealVmRun[];
  /** Waits until every VM started so far has stopped and cleaned up (a VM stops when its instance is deleted). */
  idle(): Promise<void>;
  /** What is still on the machine: loop devices, mounts, processes. */
  leftovers(): RealVmLeftovers;
  /** Backing files present (disks' and images'). */
  files(): string[];
  /** Stops every VM (SIGTERM, then SIGKILL), waits for them, detaches, deletes every file; uninstalls. */
  close(): Promise<void>;
}

interface ActiveRun {
  run: RealVmRun;
  device?: string;
  /** Its disk was deleted while the VM held it: the file goes once the loop device is detached. */
  fileReleased?: boolean;
  stop(): void;
}

/** Loop devices (`/dev/loopN`) whose backing file is under `dir`. */
function loopDevicesUnder(dir: string): string[] {
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return found;
  }
  for (const name of names) {
    try {
      const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      if (backing.startsWith(`${dir}/`)) found.push(`/dev/${name}`);
    } catch {
      // not attached
    }
  }
  return found;
}

/** Detaches `device` if it still serves `file` (a freed device number may already be someone else's). */
async function detachLoop(device: string, file: string): Promise<void> {
  let backing: string;
  try {
    backing = readFileSync(`/sys/block/${basename(device)}/loop/backing_file`, 'utf8').trim();
  } catch {
    return; // not attached any more
  }
  if (backing === file || backing === `${file} (deleted)`) await run('losetup', ['--detach', device], { allowFailure: true });
}

function sparseFile(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

export function realVm(emu: Emulator, rig: Pick<Rig, 'dir' | 'hostsDir'>, options: RealVmOptions = {}): RealVm {
  const maxBytes = (options.maxDiskMiB ?? 256) * MiB;
  const killGraceMs = options.killGraceMs ?? 30_000;
  const dir = resolve(mkdtempSync(join(rig.dir, 'rv-')));
  const filesDir = join(dir, 'disks');
  mkdirSync(filesDir);
  const runs: RealVmRun[] = [];
  const active = new Set<ActiveRun>();
  const files = new Set<string>();
  let counter = 0;
  let closed = false;

  const newFile = (holder: string): string => {
    const file = join(filesDir, `${++counter}-${holder.replace(/[^a-z0-9-]/g, '_')}.img`);
    files.add(file);
    return file;
  };

  const removeContent = emu.vm.onDiskContent({
    copy: (content, to) => {
      if (!isRealDiskContent(content)) return content;
      const file = newFile(`${to.kind}-${to.name}`);
      const r = spawnSync('cp', ['--sparse=always', content.file, file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`real VM: cannot copy ${content.file}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
      return { kind: 'gdib-real-vm-file', file } satisfies RealDiskContent;
    },
    release: (content) => {
      if (!isRealDiskContent(content)) return;
      files.delete(content.file);
      // A disk deleted while a VM still holds it (detached first, or the VM still stopping): the VM stops, and
      // the file goes after its loop device.
      const holder = [...active].find((a) => a.run.file === content.file);
      if (holder) {
        holder.fileReleased = true;
        holder.stop();
      } else {
        rmSync(content.file, { force: true });
      }
    },
  });

  const removeHook = emu.vm.onStart(
    async (ctx) => {
      if (closed) return;
      await runVm(ctx);
    },
    { match: options.match ?? ((i) => i.metadata['startup-script'] !== undefined) },
  );

  async function runVm(ctx: VmContext): Promise<void> {
    const view = ctx.instance;
    // Short: containerd's sockets go under <runDir>/work/containerd, and a unix socket path has at most 104 bytes.
    const runDir = join(dir, `vm${++counter}`);
    mkdirSync(runDir);
    if (Buffer.byteLength(join(runDir, SOCKET_SUFFIX)) > 104) {
      throw new Error(`real VM: ${runDir} is too long a directory for containerd's sockets (${SOCKET_SUFFIX})`);
    }
    let resolveFinished!: () => void;
    const rec: RealVmRun = {
      instance: view.name,
      ...(view.metadata['gdib-mode'] !== undefined ? { mode: view.metadata['gdib-mode'] } : {}),
      dir: runDir,
      output: '',
      attributeLog: [],
      tokens: [],
      startedAt: Date.now(),
      finished: new Promise<void>((r) => (resolveFinished = r)),
    };
    runs.push(rec);
    const stopping = new AbortController();
    const entry: ActiveRun = { run: rec, stop: () => stopping.abort() };
    active.add(entry);
    const onAbort = (): void => stopping.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) stopping.abort();

    let metadata: MetadataServer | undefined;
    let child: ChildProcess | undefined;
    try {
      if (stopping.signal.aborted) return;
      const deviceName = view.metadata['gdib-device-name'] ?? 'gdib-data';
      const disk = view.disks.find((d) => d.deviceName === deviceName);
      if (disk) {
        let file = backingFile(disk.content);
        if (file === undefined) {
          file = newFile(`disk-${disk.diskName}`);
          sparseFile(file, Math.min((disk.sizeGb ?? 10) * 1024 * MiB, maxBytes));
          ctx.setDiskContent(deviceName, { kind: 'gdib-real-vm-file', file } satisfies RealDiskContent);
        }
        rec.file = file;
        const { stdout } = await run('losetup', ['--find', '--show', file]);
        entry.device = rec.device = stdout.trim();
      }
      metadata = await startMetadataServer({
        attributes: view.metadata,
        ...(options.issueToken ? { issueToken: options.issueToken } : {}),
        onAttribute: (key, value) => {
          rec.attributeLog.push({ key, value });
          ctx.setAttribute(key, value);
        },
      });
      rec.tokens = metadata.tokens;
      const scriptFile = join(runDir, 'startup-script');
      writeFileSync(scriptFile, view.metadata['startup-script'] ?? '', { mode: 0o755 });
      const env: NodeJS.ProcessEnv = {
        PATH,
        GCE_METADATA_HOST: metadata.host,
        ...(rec.device ? { GDIB_DEVICE: rec.device } : {}),
        GDIB_MOUNT_DIR: join(runDir, 'mnt'),
        GDIB_WORK_DIR: join(runDir, 'work'),
        GDIB_HOSTS_DIR: rig.hostsDir,
        ...options.env,
      };
      if (stopping.signal.aborted) return;
      // Its own process group, so a SIGKILL reaches its containerd too. stdin is /dev/null (see proc.ts).
      const proc = spawn('/bin/bash', [scriptFile], { env, cwd: runDir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child = proc;
      // Each stream line by line (as the guest agent reads them), so stdout and stderr never split each other's lines.
      const writers = [proc.stdout, proc.stderr].map((stream) => {
        const writer = lineWriter((text) => ctx.appendSerial(serialLine(text)));
        stream?.setEncoding('utf8');
        stream?.on('data', (text: string) => {
          rec.output += text;
          writer.write(text);
        });
        return writer;
      });
      const exited = new Promise<void>((res) => {
        proc.on('error', (err) => {
          rec.output += `real VM: ${err.message}\n`;
          res();
        });
        proc.on('close', (code, signal) => {
          rec.code = code;
          rec.signal = signal;
          rec.durationMs = Date.now() - rec.startedAt;
          res();
        });
      });
      let killTimer: NodeJS.Timeout | undefined;
      const onStop = (): void => {
        if (rec.code !== undefined || rec.signal !== undefined) return;
        proc.kill('SIGTERM'); // as a VM shutdown: the script reports the interruption and cleans up
        killTimer = setTimeout(() => killGroup(proc, 'SIGKILL'), killGraceMs);
      };
      stopping.signal.addEventListener('abort', onStop, { once: true });
      if (stopping.signal.aborted) onStop();
      await exited;
      if (killTimer) clearTimeout(killTimer);
      for (const w of writers) w.end();
      const status = rec.code ?? (rec.signal ? `killed by ${rec.signal}` : 'unknown');
      ctx.appendSerial(
        `Jan  1 00:00:00 vm google_metadata_script_runner[812]: Script "startup-script" finished with exit status ${status}\n`,
      );
      // The VM runs on (its disk attached) until the instance is deleted.
      if (!stopping.signal.aborted)
        await new Promise<void>((res) => stopping.signal.addEventListener('abort', () => res(), { once: true }));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (child) killGroup(child, 'SIGKILL'); // anything the script left running (normally nothing)
      await metadata?.close();
      await unmountUnder(runDir);
      if (entry.device && rec.file) {
        for (const m of readMounts().filter((x) => x.source === entry.device))
          await run('umount', ['-l', m.target], { allowFailure: true });
        await detachLoop(entry.device, rec.file);
        if (entry.fileReleased) rmSync(rec.file, { force: true });
      }
      active.delete(entry);
      resolveFinished();
    }
  }

  const idle = async (): Promise<void> => {
    while (active.size > 0) await Promise.all([...active].map((a) => a.run.finished));
  };

  const originalClose = emu.close.bind(emu);
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    removeHook();
    for (const a of active) a.stop();
    await Promise.all([...active].map((a) => a.run.finished));
    for (const dev of loopDevicesUnder(dir)) await run('losetup', ['--detach', dev], { allowFailure: true });
    removeContent();
    emu.close = originalClose;
    const mounted = readMounts().some((m) => m.target.startsWith(`${dir}/`));
    if (!mounted && !process.env.GDIB_KEEP_RIG) rmSync(dir, { recursive: true, force: true });
    files.clear();
  };
  emu.close = async () => {
    await originalClose();
    await close();
  };

  return {
    dir,
    runs,
    idle,
    leftovers: () => {
      const loopDevices = loopDevicesUnder(dir);
      return {
        loopDevices,
        mounts: readMounts()
          .filter((m) => m.target.startsWith(`${dir}/`) || m.source.startsWith(`${dir}/`) || loopDevices.includes(m.source))
          .map((m) => m.target),
        processes: processesMentioning(dir),
      };
    },
    files: () => [...files],
    close,
  };
}

/** Splits a byte stream into lines for the serial console; `end()` flushes a last unterminated line. */
function lineWriter(emit: (line: string) => void): { write(text: string): void; end(): void } {
  let pending = '';
  return {
    write(text) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        emit(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    },
    end() {
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}
