// §5: the on-VM stage on the startup-script rig. The rendered build script (exactly the `startup-script` value
// the CLI puts in metadata) runs under bash against a loop-device data disk and the rig's local registries, like
// test/rig/run-script.ts — but here the script's stdout is read as it comes (each `gdib: phase=` line gets a
// timestamp), the script runs in a cpuacct cgroup of its own (CPU seconds of bash, containerd, ctr, md5sum …) and
// the loop device's sectors-written counter is read at every phase change.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { STANDARD_PATH } from '../../src/local/command.js';
import { renderMetadata, type MetadataInput } from '../../src/startup-script/render.js';
import { LoopDisk, mount, unmount } from '../../test/rig/disk.js';
import { startMetadataServer } from '../../test/rig/metadata-server.js';
import { OciLayout, type Layer } from '../../test/rig/oci.js';
import { run } from '../../test/rig/proc.js';
import { onPath, REPO, rigUnavailable, type Rig } from '../../test/rig/rig.js';
import type { TarEntry } from '../../test/rig/tar.js';
import { applyDiskMode, type DiskMode } from './honest-disk.js';
import { commonFunction } from './script-source.js';

const MB = 1e6;
export const PHASES = ['installing', 'formatting', 'pulling', 'unpacking', 'checksumming', 'done'] as const;

/** Why §5 cannot run here, or undefined. */
export function onVmUnavailable(): string | undefined {
  const r = rigUnavailable();
  if (r) return r;
  if (!onPath('unpigz')) return 'unpigz (pigz) is missing';
  if (!existsSync('/sys/fs/cgroup/cpuacct/cgroup.procs')) return 'no cgroup v1 cpuacct hierarchy at /sys/fs/cgroup/cpuacct (CPU seconds)';
  return undefined;
}

export interface BenchImage {
  tag: string;
  what: string;
  layers: number;
  files: number;
  /** Bytes of file content (unpacked, before filesystem overhead). */
  bytes: number;
  /** Bytes the registry serves (compressed layers). */
  compressed: number;
}

const file = (path: string, content: Buffer): TarEntry => ({ path, type: 'file', mode: 0o644, content });
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

/**
 * The images of §5, written into one OCI layout and pushed to the rig's open registry:
 * `bench-big`: `layers` layers of `filesPerLayer` files of random (incompressible) bytes, `layerMB` MB a layer;
 * `bench-real`: `layers` layers of about `layerMB` MB of this machine's own files (compressible like real layers);
 * `bench-small`: `smallFiles` random files of 1–8 KiB in 50 directories, two layers.
 */
export async function pushBenchImages(
  rig: Rig,
  opts: { layers: number; layerMB: number; filesPerLayer: number; smallFiles: number },
): Promise<BenchImage[]> {
  const layoutDir = join(rig.dir, 'bench-layout');
  const layout = new OciLayout(layoutDir);
  const out: BenchImage[] = [];
  const add = (tag: string, what: string, layers: Layer[]) => {
    let files = 0;
    let bytes = 0;
    for (const l of layers) {
      for (const e of l.entries) {
        if (e.type !== 'file') continue;
        files++;
        bytes += e.content?.length ?? 0;
      }
    }
    layout.addImage(tag, { layers });
    out.push({ tag, what, layers: layers.length, files, bytes, compressed: 0 });
  };
  const per = Math.floor((opts.layerMB * MB) / opts.filesPerLayer);
  add(
    'bench-big',
    `${opts.layers} layers × ${opts.filesPerLayer} files of random bytes`,
    Array.from({ length: opts.layers }, (_, i) => ({
      entries: [dirE(`l${i}`), ...Array.from({ length: opts.filesPerLayer }, (_, j) => file(`l${i}/blob-${j}.bin`, randomBytes(per)))],
    })),
  );
  const real = realLayers(opts.layers, opts.layerMB);
  add('bench-real', `${real.length} layers of this machine's own files (/usr/lib, /usr/bin, /usr/share: libraries, binaries, data)`, real);
  const half = Math.floor(opts.smallFiles / 2);
  const smallLayer = (i: number, n: number): Layer => ({
    entries: [
      ...Array.from({ length: 25 }, (_, d) => dirE(`s${i}-d${d}`)),
      ...Array.from({ length: n }, (_, j) => file(`s${i}-d${j % 25}/f-${j}.dat`, randomBytes(1024 + ((j * 7919) % 7168)))),
    ],
  });
  add('bench-small', `${opts.smallFiles} random files of 1–8 KiB in 50 directories, 2 layers`, [
    smallLayer(0, half),
    smallLayer(1, opts.smallFiles - half),
  ]);
  layout.close();
  // The compressed sizes: the layer blobs' sizes in each image's manifest.
  const blob = (digest: string) =>
    JSON.parse(readFileSync(join(layoutDir, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { layers: { size: number }[] };
  const index = JSON.parse(readFileSync(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations: Record<string, string> }[];
  };
  for (const img of out) {
    const d = index.manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === img.tag)!;
    img.compressed = blob(d.digest).layers.reduce((a, l) => a + l.size, 0);
  }
  for (const img of out) await rig.open.push(layoutDir, img.tag, REPO);
  return out;
}

/**
 * A directory to put first on the script's PATH holding a `ctr` that adds `args` to every `ctr images pull`
 * (e.g. `--max-concurrent-downloads 1`) and runs the real one: toggles containerd's behaviour without changing
 * the script.
 */
export function ctrShim(dir: string, args: string[]): string {
  mkdirSync(dir, { recursive: true });
  const real = ['/usr/bin/ctr', '/usr/local/bin/ctr', '/usr/sbin/ctr'].find((p) => existsSync(p)) ?? 'ctr';
  if (!args.every((a) => /^[\w=.-]+$/.test(a))) throw new Error(`ctrShim: plain words only: ${args.join(' ')}`);
  writeFileSync(
    join(dir, 'ctr'),
    `#!/bin/bash\n# bench shim: adds arguments to ctr images pull\nout=() prev=\nfor a in "$@"; do\n  out+=("$a")\n  if [[ $a == pull && $prev == images ]]; then out+=(${args.join(' ')}); fi\n  prev=$a\ndone\nexec ${real} "\${out[@]}"\n`,
  );
  chmodSync(join(dir, 'ctr'), 0o755);
  return dir;
}

/** Sectors (512 B) written to a block device so far. */
export function sectorsWritten(device: string): number {
  const f = readFileSync(`/sys/block/${basename(device)}/stat`, 'utf8')
    .trim()
    .split(/\s+/);
  return Number(f[6]);
}

export interface PhaseMark {
  phase: string;
  atMs: number;
  cpuSec: number;
  writtenBytes: number;
}

export interface OnVmRun {
  label: string;
  code: number;
  wallSec: number;
  cpuSec: number;
  writtenBytes: number;
  /** Bytes written to the boot disk (the disk-bound mode only; 0 in the page-cache mode). */
  bootWrittenBytes: number;
  marks: PhaseMark[];
  /** Seconds, CPU seconds and bytes written per phase (until the next phase, or the end). */
  phases: { phase: string; sec: number; cpuSec: number; writtenBytes: number }[];
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
  const disk = opts.disk ?? (await LoopDisk.create(join(runDir, 'disk.img'), opts.diskMiB));
  const undo: (() => void)[] = [await applyDiskMode(disk, mode)];
  let boot: LoopDisk | undefined;
  // Short: containerd's socket paths under the work dir must stay within 108 bytes.
  const bootDir = join(runDir, 'b');
  let work = join(runDir, 'work');
  if (mode.kind !== 'page-cache') {
    // Formatted and mounted before the clock starts; noinit_itable: no background zeroing of its inode tables.
    boot = await LoopDisk.create(join(runDir, 'boot.img'), Math.min(opts.diskMiB, 8192) + 512);
    await run('mkfs.ext4', ['-q', '-F', boot.device]);
    mkdirSync(bootDir);
    await mount(boot.device, bootDir, { options: 'noinit_itable' });
    undo.push(await applyDiskMode(boot, mode));
    work = join(bootDir, 'w');
  }
  const cg = cgroup(`gdib-bench-${process.pid}-${label}`);
  const env: NodeJS.ProcessEnv = { PATH: STANDARD_PATH, ...envOf(disk, runDir, work), ...opts.env };
  const written = () => (sectorsWritten(disk.device) - w0) * 512;
  const bootWritten = () => (boot ? (sectorsWritten(boot.device) - b0) * 512 : 0);
  const w0 = sectorsWritten(disk.device);
  const b0 = boot ? sectorsWritten(boot.device) : 0;
  const marks: PhaseMark[] = [];
  let output = '';
  const t0 = performance.now();
  try {
    // A tiny shell joins the cgroup before it execs bash, so every process of the run is counted from the start.
    const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && shift && exec /bin/bash "$@"', cg.dir, 'x', file, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const at = performance.now() - t0;
      output += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^gdib: phase=(\S+)$/.exec(l);
        if (m) marks.push({ phase: m[1]!, atMs: at, cpuSec: cg.usage(), writtenBytes: written() });
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
    const cpuSec = cg.usage();
    const writtenBytes = written();
    const end: PhaseMark = { phase: 'end', atMs: wallMs, cpuSec, writtenBytes };
    const all = [{ phase: 'start', atMs: 0, cpuSec: 0, writtenBytes: 0 }, ...marks, end];
    const phases = all.slice(0, -1).map((m, i) => ({
      phase: m.phase === 'start' ? '(before the first phase)' : m.phase,
      sec: (all[i + 1]!.atMs - m.atMs) / 1000,
      cpuSec: all[i + 1]!.cpuSec - m.cpuSec,
      writtenBytes: all[i + 1]!.writtenBytes - m.writtenBytes,
    }));
    return {
      label,
      code,
      wallSec: wallMs / 1000,
      cpuSec,
      writtenBytes,
      bootWrittenBytes: bootWritten(),
      marks,
      phases,
      output,
      disk,
      runDir,
    };
  } finally {
    cg.remove();
    for (const u of undo) u();
    if (boot) {
      await unmount(bootDir);
      await boot.detach();
    }
  }
}

/** The sum of a phase over its (possibly several, pulling/unpacking alternate per image) stretches. */
export function phaseTotals(r: OnVmRun): Map<string, { sec: number; cpuSec: number; writtenBytes: number }> {
  const out = new Map<string, { sec: number; cpuSec: number; writtenBytes: number }>();
  for (const p of r.phases) {
    const t = out.get(p.phase) ?? { sec: 0, cpuSec: 0, writtenBytes: 0 };
    out.set(p.phase, { sec: t.sec + p.sec, cpuSec: t.cpuSec + p.cpuSec, writtenBytes: t.writtenBytes + p.writtenBytes });
  }
  return out;
}

const GO_CHECKSUM = `find "$1" -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1`;

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ sec: number; stdout: string }> {
  const t = performance.now();
  const r = await run(cmd, args, { env });
  return { sec: (performance.now() - t) / 1000, stdout: r.stdout };
}

export interface Toggles {
  snapshots: number;
  /** Bytes in the snapshot directories (du --apparent-size). */
  bytes: number;
  checksum: { serialSec: number; parallelSec: number; agree: boolean; jobs: number };
  copy: { sec: number; writtenBytes: number };
}

/**
 * On the disk a build left (unmounted), mounted again: the Go tool's serial checksum pipeline vs the script's
 * parallel one on the same snapshot directories (page cache warmed by a first pass, so both read from memory),
 * and the Go tool's extra `cp -r -p` of every snapshot to another directory of the disk, synced.
 */
export async function toggles(r: OnVmRun): Promise<Toggles> {
  const mnt = join(r.runDir, 'remount');
  mkdirSync(mnt, { recursive: true });
  await mount(r.disk.device, mnt);
  try {
    const dirs = readFileSync(join(mnt, 'snapshots.metadata'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => join(mnt, l.split(' ')[1]!));
    const bytes = Number(
      (await run('du', ['-s', '-b', '--apparent-size', '-c', ...dirs])).stdout.trim().split('\n').at(-1)!.split('\t')[0],
    );
    const work = join(r.runDir, 'cks-work');
    mkdirSync(work, { recursive: true });
    const env = { ...process.env, LC_ALL: 'C', GDIB_WORK: work };
    const par = `${commonFunction('snapshot_checksum')}\nfor d in "$@"; do snapshot_checksum "$d"; done`;
    await timed('bash', ['-c', par, 'x', ...dirs], env); // warm the page cache
    // Best of three each, alternating, so a burst of other work on the machine does not decide the comparison.
    const goRuns: { sec: number; stdout: string }[] = [];
    const ourRuns: { sec: number; stdout: string }[] = [];
    for (let i = 0; i < 3; i++) {
      goRuns.push(await timed('bash', ['-c', `for d in "$@"; do (set -- "$d"; ${GO_CHECKSUM}); done`, 'x', ...dirs], env));
      ourRuns.push(await timed('bash', ['-c', par, 'x', ...dirs], env));
    }
    const best = (xs: { sec: number; stdout: string }[]) => xs.reduce((a, b) => (b.sec < a.sec ? b : a));
    const s = best(goRuns);
    const p = best(ourRuns);
    const copyDir = join(mnt, 'go-copy');
    mkdirSync(copyDir);
    await run('sync', []);
    const w0 = sectorsWritten(r.disk.device);
    const t = performance.now();
    for (const [i, d] of dirs.entries()) await run('cp', ['-r', '-p', d, join(copyDir, String(i))]);
    await run('sync', []);
    const copySec = (performance.now() - t) / 1000;
    const copyWritten = (sectorsWritten(r.disk.device) - w0) * 512;
    const jobs = Number((await run('nproc', [])).stdout.trim());
    return {
      snapshots: dirs.length,
      bytes,
      checksum: { serialSec: s.sec, parallelSec: p.sec, agree: s.stdout === p.stdout, jobs },
      copy: { sec: copySec, writtenBytes: copyWritten },
    };
  } finally {
    await unmount(mnt);
  }
}
