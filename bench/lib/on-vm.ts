// The on-VM stage on the rig, measured. The rendered bootstrap (exactly the `startup-script` value the CLI puts in
// metadata; it execs the agent from `gdib-agent`) runs under bash against a loop-device data disk and the rig's local
// registries, like test/rig/run-script.ts — but here stdout is read as it comes (each `gdib: phase=` line gets a
// timestamp), the run is in a cpuacct cgroup of its own (CPU seconds of everything it starts) and the loop device's
// sectors-written counter is read at every phase change.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { STANDARD_PATH } from '../../src/local/command.js';
import { renderMetadata, type MetadataInput } from '../../src/startup-script/render.js';
import { LoopDisk, mount, unmount } from '../../test/rig/disk.js';
import { startMetadataServer } from '../../test/rig/metadata-server.js';
import type { Layer } from '../../test/rig/oci.js';
import { run } from '../../test/rig/proc.js';
import { rigUnavailable, type Rig } from '../../test/rig/rig.js';
import type { TarEntry } from '../../test/rig/tar.js';
import { applyDiskMode, type DiskMode } from './honest-disk.js';

const MB = 1e6;

/** Why the on-VM benchmarks cannot run here, or undefined. */
export function onVmUnavailable(): string | undefined {
  const r = rigUnavailable();
  if (r) return r;
  if (!existsSync('/sys/fs/cgroup/cpuacct/cgroup.procs')) return 'no cgroup v1 cpuacct hierarchy at /sys/fs/cgroup/cpuacct (CPU seconds)';
  return undefined;
}

const dirE = (path: string): TarEntry => ({ path, type: 'dir', mode: 0o755 });

/**
 * Up to `layers` layers of real files of this machine (shared libraries, binaries, data files: compressible about
 * as much as a real image's layers), about `layerMB` MB a layer, walked in sorted order so a machine gives the same
 * image every run. Regular files only (at most 32 MB each), with their parent directories and exec bits.
 */
export function realLayers(
  layers: number,
  layerMB: number,
  roots = ['/usr/lib/x86_64-linux-gnu', '/usr/bin', '/usr/share', '/usr/lib'],
): Layer[] {
  const budget = layerMB * MB;
  const out: Layer[] = [];
  let cur: TarEntry[] = [];
  let dirs = new Set<string>();
  let size = 0;
  const seen = new Set<string>();
  const addDirs = (rel: string) => {
    for (let d = dirname(rel); d !== '.' && !dirs.has(d); d = dirname(d)) dirs.add(d);
  };
  const flush = () => {
    out.push({ entries: [...[...dirs].sort().map((d) => dirE(d)), ...cur] });
    cur = [];
    dirs = new Set();
    size = 0;
  };
  const walk = (dir: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return false;
    }
    for (const name of names) {
      const abs = join(dir, name);
      let st;
      try {
        st = lstatSync(abs);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (walk(abs)) return true;
      } else if (st.isFile() && st.size > 0 && st.size <= 32 * 2 ** 20 && !seen.has(abs)) {
        let content: Buffer;
        try {
          content = readFileSync(abs);
        } catch {
          continue;
        }
        seen.add(abs);
        const rel = abs.slice(1);
        addDirs(rel);
        cur.push({ path: rel, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, content });
        size += content.length;
        if (size >= budget) {
          flush();
          if (out.length === layers) return true;
        }
      }
    }
    return false;
  };
  for (const root of roots) if (existsSync(root) && walk(root)) break;
  if (cur.length > 0 && out.length < layers) flush();
  return out;
}

/** Sectors (512 B) written to a block device so far. */
export function sectorsWritten(device: string): number {
  const f = readFileSync(`/sys/block/${basename(device)}/stat`, 'utf8')
    .trim()
    .split(/\s+/);
  return Number(f[6]);
}

export interface OnVmRun {
  label: string;
  code: number;
  wallSec: number;
  cpuSec: number;
  writtenBytes: number;
  /** Bytes written to the boot disk (the disk-bound mode only; 0 in the page-cache mode). */
  bootWrittenBytes: number;
  /** Seconds per phase, from its `gdib: phase=` line to the next (a phase's stretches summed: pulls alternate). */
  phases: Record<string, number>;
  output: string;
  disk: LoopDisk;
  runDir: string;
}

/** A cpuacct cgroup of our own; `usage()` in CPU seconds. */
function cgroup(name: string): { dir: string; usage(): number; remove(): void } {
  const dir = `/sys/fs/cgroup/cpuacct/${name}`;
  mkdirSync(dir);
  return {
    dir,
    usage: () => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8').trim()) / 1e9,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // a process still in it: left for the kernel; harmless
      }
    },
  };
}

export interface RunOptions {
  diskMiB: number;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** The data disk's (and the boot disk's) mode; default the page cache, as the rig's tests run. */
  mode?: DiskMode;
  /** A data disk to build on instead of a fresh one (a copy of an earlier build's disk, with `dataDisk`). */
  disk?: LoopDisk;
  /** `from-image`: the disk holds an earlier build (the script's gdib-data-disk; docs/architecture.md, VM metadata). */
  dataDisk?: 'from-image';
}

/**
 * Runs the rendered build script for `images` onto a fresh loop disk of `diskMiB` — or onto `disk`, a disk made
 * from a base image, with `dataDisk: 'from-image'`. `env` adds variables to the script's environment (the script's
 * seams of docs/architecture.md, Test seams, are set here, as in test/rig/run-script.ts).
 */
export async function runBuild(rig: Rig, label: string, images: string[], opts: RunOptions): Promise<OnVmRun> {
  const input: MetadataInput = {
    mode: 'build',
    runId: 'bench1',
    containerImages: images,
    imagePullAuth: 'None',
    storeChecksums: true,
    platform: 'linux/amd64',
    ...(opts.dataDisk ? { dataDisk: opts.dataDisk } : {}),
  };
  const attributes = Object.fromEntries(renderMetadata(input).map((i) => [i.key, i.value]));
  const metadata = await startMetadataServer({ attributes });
  try {
    return await runMeasured(rig, label, attributes['startup-script'] ?? '', [], opts, (disk, runDir, work) => ({
      GCE_METADATA_HOST: metadata.host,
      GDIB_DEVICE: disk.device,
      GDIB_MOUNT_DIR: join(runDir, 'mnt'),
      GDIB_WORK_DIR: work,
      GDIB_HOSTS_DIR: rig.hostsDir,
    }));
  } finally {
    await metadata.close();
  }
}

/**
 * Runs `script` (bash, with `args`) as root against a fresh data disk of `diskMiB` in `opts.mode`, measured: its
 * `gdib: phase=` lines timestamped as they arrive, CPU seconds of a cpuacct cgroup holding it and all it starts,
 * bytes written to the data disk and to the boot disk. In the disk-bound mode the work dir (containerd's root: the
 * content store, and for the Go tool's model its snapshots) is on a boot disk of its own held to the same rate, as
 * it is on the VM's boot disk; in the page-cache mode it is a directory, as in the rig's tests.
 */
export async function runMeasured(
  rig: Rig,
  label: string,
  script: string,
  args: string[],
  opts: RunOptions,
  envOf: (disk: LoopDisk, runDir: string, workDir: string) => Record<string, string>,
): Promise<OnVmRun> {
  const runDir = rig.runDir(`bench-${label}`);
  mkdirSync(runDir, { recursive: true });
  const file = join(runDir, 'script.sh');
  writeFileSync(file, script, { mode: 0o755 });
  const mode = opts.mode ?? { kind: 'page-cache' };
  const created = opts.disk ? undefined : await LoopDisk.create(join(runDir, 'disk.img'), opts.diskMiB);
  const disk = opts.disk ?? created!;
  // Undone in reverse order at the end; the data disk too when the run does not come back with it.
  const undo: (() => unknown)[] = [];
  let returned = false;
  try {
    undo.push(await applyDiskMode(disk, mode));
    // Short: containerd's socket paths under the work dir must stay within 108 bytes.
    const bootDir = join(runDir, 'b');
    let work = join(runDir, 'work');
    let boot: LoopDisk | undefined;
    if (mode.kind !== 'page-cache') {
      // Formatted and mounted before the clock starts; noinit_itable: no background zeroing of its inode tables.
      const b = (boot = await LoopDisk.create(join(runDir, 'boot.img'), Math.min(opts.diskMiB, 8192) + 512));
      undo.push(() => b.detach());
      await run('mkfs.ext4', ['-q', '-F', b.device]);
      mkdirSync(bootDir);
      await mount(b.device, bootDir, { options: 'noinit_itable' });
      undo.push(() => unmount(bootDir));
      undo.push(await applyDiskMode(b, mode));
      work = join(bootDir, 'w');
    }
    const cg = cgroup(`gdib-bench-${process.pid}-${label}`);
    undo.push(() => cg.remove());
    const env: NodeJS.ProcessEnv = { PATH: STANDARD_PATH, ...envOf(disk, runDir, work), ...opts.env };
    const w0 = sectorsWritten(disk.device);
    const b0 = boot ? sectorsWritten(boot.device) : 0;
    const phases: Record<string, number> = {};
    let phase = '(before the first phase)';
    let phaseAt = 0;
    const enter = (next: string, at: number) => {
      phases[phase] = (phases[phase] ?? 0) + (at - phaseAt) / 1000;
      [phase, phaseAt] = [next, at];
    };
    let output = '';
    const t0 = performance.now();
    // A tiny shell joins the cgroup before it execs bash, so every process of the run is counted from the start.
    const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && shift && exec /bin/bash "$@"', cg.dir, 'x', file, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const at = performance.now() - t0;
      output += d;
      const lines = (pending + d).split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^gdib: phase=(\S+)$/.exec(l);
        if (m) enter(m[1]!, at);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 240_000);
    const code = await new Promise<number>((res, rej) => {
      child.once('error', rej);
      child.once('close', (c) => res(c ?? 128));
    });
    clearTimeout(timer);
    const wallMs = performance.now() - t0;
    enter('end', wallMs);
    returned = true;
    return {
      label,
      code,
      wallSec: wallMs / 1000,
      cpuSec: cg.usage(),
      writtenBytes: (sectorsWritten(disk.device) - w0) * 512,
      bootWrittenBytes: boot ? (sectorsWritten(boot.device) - b0) * 512 : 0,
      phases,
      output,
      disk,
      runDir,
    };
  } finally {
    for (const u of undo.reverse()) await u();
    if (!returned) await created?.detach();
  }
}
