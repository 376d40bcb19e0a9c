// §5 (install phase): how long the temporary VM's package installation takes on a fresh Debian 12 system, for
// this tool's startup script and for the Go tool's, measured on this machine in a debootstrap chroot against the
// Debian mirror this machine's apt uses.
//
// Ours: the real install_missing() (plus log()) cut out of src/startup-script/common.sh, called with the command
// list of build.sh's own install_missing line — one `apt-get update`, one `apt-get install --no-install-recommends`,
// with a policy-rc.d so no service starts.
//
// Go: GoogleCloudPlatform/ai-on-gke, tools/gke-disk-image-builder/script/startup.sh (commit 366237d7 as indexed),
// whose apt lines are, verbatim and in order (other commands — mkdir, tee, systemctl, mkfs.ext4 — run between the
// third and the fourth and are not timed here):
//   sudo apt update / sudo apt-get update / sudo apt install --yes containerd / sudo apt-get --yes install jq
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDARD_PATH } from '../../src/local/command.js';
import { executableOn } from '../../src/local/preconditions.js';
import { unmountUnder } from '../../test/rig/disk.js';
import { run } from '../../test/rig/proc.js';
import { commonFunction, commonPackageTable, scriptSource } from './script-source.js';

export interface InstallRun {
  label: string;
  commands: string[];
  wallSec: number[];
  downloadedMB?: number;
  packages: number;
}
export interface InstallBench {
  base: string;
  ours: InstallRun;
  go: InstallRun;
  notes: string[];
}

const GO_COMMANDS = ['sudo apt update', 'sudo apt-get update', 'sudo apt install --yes containerd', 'sudo apt-get --yes install jq'];
// The base system. A GCE debian-12 image is a full Debian install, not a minbase one: it has everything of
// priority required + important (systemd, apt-utils, e2fsprogs, util-linux, mount, findutils, coreutils,
// perl-base …: debootstrap's default variant) plus curl, ca-certificates and sudo (the guest environment needs
// them) and, we believe, man-db (its trigger runs on each install that ships man pages). Minbase would lack
// systemd, whose hooks run in containerd's postinst, so the default variant is the closer of the two.
const INCLUDE = ['curl', 'ca-certificates', 'sudo', 'man-db'];
const BASE = `debootstrap bookworm (default variant: priority required+important) --include=${INCLUDE.join(',')}`;
const CACHE = join(tmpdir(), 'gdib-bench-install');
const TARBALL = join(CACHE, `debian12-${INCLUDE.join('-')}.tar`);
const onPath = (cmd: string) => executableOn(cmd, STANDARD_PATH);
const ENV = [`PATH=${STANDARD_PATH}`, 'HOME=/root', 'LC_ALL=C', 'TERM=dumb'];

/** The active deb822 stanzas of this machine's apt sources for bookworm (the chroot gets the same ones). */
function bookwormSources(): { text: string; mirror: string } | undefined {
  const dir = '/etc/apt/sources.list.d';
  if (!existsSync(dir)) return undefined;
  const stanzas = readdirSync(dir)
    .filter((f) => f.endsWith('.sources'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/))
    .filter((s) => /^Suites:.*\bbookworm\b/m.test(s) && !/^Enabled:\s*no/im.test(s));
  const main = stanzas.find((s) => /^Suites:(.*\s)?bookworm(\s|$)/m.test(s));
  const mirror = main && /^URIs:\s*(\S+)/m.exec(main)?.[1];
  return mirror ? { text: stanzas.map((s) => s.trim()).join('\n\n') + '\n', mirror } : undefined;
}

/** Why the benchmark cannot run here, or undefined. */
export function installUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (debootstrap, chroot, mounts)';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot, mounts)';
  if (!onPath('debootstrap') && !onPath('apt-get')) return 'debootstrap is missing and there is no apt-get to install it';
  const src = bookwormSources();
  if (!src) return 'no bookworm deb822 stanza in /etc/apt/sources.list.d/*.sources to take the mirror from';
  // Reachability, synchronously: a child node does a HEAD of the suite's Release file.
  const probe =
    `fetch(${JSON.stringify(`${src.mirror}/dists/bookworm/Release`)},{method:'HEAD',signal:AbortSignal.timeout(10000)})` +
    '.then(r=>process.exit(r.ok?0:1),()=>process.exit(2))';
  if (spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status !== 0) return `mirror ${src.mirror} unreachable`;
  return undefined;
}

/** The harness for ours: the product's log(), package table and install_missing(), a stub fail(), build.sh's own call. */
function oursScript(): string {
  const call = /^\s*(install_missing [^\n]+)$/m.exec(scriptSource('build.sh'))?.[1];
  if (!call) throw new Error('no install_missing call in src/startup-script/build.sh');
  return [
    'set -euo pipefail',
    'GDIB_WORK=/var/lib/gdib',
    'mkdir -p "$GDIB_WORK/logs"',
    `fail() { printf 'gdib: error=%s\\n' "$*" >&2; exit 1; }`,
    commonFunction('log'),
    commonPackageTable(),
    commonFunction('install_missing'),
    call,
    '',
  ].join('\n');
}

/** Builds the base root once and keeps it as a tarball under os.tmpdir(). */
async function baseTarball(log: (s: string) => void, mirror: string): Promise<void> {
  if (existsSync(TARBALL)) return log(`base: reusing ${TARBALL}`);
  if (!onPath('debootstrap')) {
    log('installing debootstrap with apt-get');
    await run('apt-get', ['install', '-y', '-q', 'debootstrap'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  mkdirSync(CACHE, { recursive: true });
  const root = mkdtempSync(join(CACHE, 'build-'));
  try {
    log(`base: ${BASE} from ${mirror} (a few minutes)`);
    await run('debootstrap', [`--include=${INCLUDE.join(',')}`, 'bookworm', root, mirror], { timeoutMs: 30 * 60_000 });
    // What a fresh GCE image has too: no package lists, no downloaded archives.
    // (Files only: the partial/ directories stay, owned by _apt, so apt downloads sandboxed as on a VM.)
    await run('find', [join(root, 'var/lib/apt/lists'), join(root, 'var/cache/apt'), '-type', 'f', '-delete']);
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', root, '-cf', `${TARBALL}.part`, '.']);
    await run('mv', [`${TARBALL}.part`, TARBALL]);
  } finally {
    await unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
}

interface Pass {
  wallSec: number;
  output: string;
  stdout: string;
}

/** Unpacks a fresh root, mounts /proc, /sys, /dev(/pts), times `script` under chroot, cleans up always. */
async function inChroot(script: string, sources: string, after?: (root: string) => string): Promise<Pass> {
  const root = mkdtempSync(join(CACHE, 'run-'));
  try {
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', root, '-xf', TARBALL]);
    for (const f of ['resolv.conf', 'hosts']) {
      rmSync(join(root, 'etc', f), { force: true });
      copyFileSync(join('/etc', f), join(root, 'etc', f));
    }
    rmSync(join(root, 'etc/apt/sources.list'), { force: true });
    writeFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), sources);
    await run('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
    await run('mount', ['-t', 'sysfs', 'sysfs', join(root, 'sys')]);
    await run('mount', ['--bind', '/dev', join(root, 'dev')]);
    await run('mount', ['--bind', '/dev/pts', join(root, 'dev/pts')]);
    const t = performance.now();
    const r = await run('chroot', [root, '/usr/bin/env', '-i', ...ENV, 'bash', '-c', script], {
      allowFailure: true,
      timeoutMs: 30 * 60_000,
    });
    const wallSec = (performance.now() - t) / 1000;
    const output = r.stdout + r.stderr + (after ? after(root) : '');
    if (r.code !== 0) throw new Error(`chroot run exited ${r.code}: ${output.slice(-2000)}`);
    return { wallSec, output, stdout: r.stdout };
  } finally {
    const left = await unmountUnder(root);
    // Never rm -rf through a mount that is still there (it would be /dev or /sys of this machine).
    if (left.length === 0) rmSync(root, { recursive: true, force: true });
  }
}

/** apt's "Fetched N kB" lines (indexes and archives), summed, in MB (apt's units are SI). */
function fetchedMB(out: string): number {
  const unit: Record<string, number> = { B: 1e-6, kB: 1e-3, MB: 1, GB: 1e3 };
  return [...out.matchAll(/^Fetched ([\d.,]+) (B|kB|MB|GB) in/gm)].reduce((s, m) => s + Number(m[1]!.replace(/,/g, '')) * unit[m[2]!]!, 0);
}
const needToGet = (out: string) => [...out.matchAll(/^Need to get ([\d.,]+ [kMG]?B)/gm)].map((m) => m[1]).join(' + ');
const newlyInstalled = (out: string) => [...out.matchAll(/(\d+) newly installed/g)].reduce((s, m) => s + Number(m[1]), 0);
const setUp = (out: string) => [...out.matchAll(/^Setting up ([^\s:]+)/gm)].map((m) => m[1]).join(' ');

/** Times both sequences twice, alternating (ours, Go, ours, Go): the first pair also warms any proxy cache. */
export async function measureInstall(log: (s: string) => void): Promise<InstallBench> {
  const src = bookwormSources();
  if (!src) throw new Error('no bookworm mirror in /etc/apt/sources.list.d');
  await baseTarball(log, src.mirror);
  const ours: InstallRun = { label: 'this tool (install_missing from common.sh)', commands: [], wallSec: [], packages: 0 };
  const go: InstallRun = { label: 'Go tool (script/startup.sh apt lines)', commands: GO_COMMANDS, wallSec: [], packages: 0 };
  const notes: string[] = [];
  const oursSh = oursScript();
  // Go's commands run one after the other like its script (which has no `set -e`), but a failure voids the figure.
  const goSh = ['set -e', ...GO_COMMANDS].join('\n');
  for (let pass = 1; pass <= 2; pass++) {
    const o = await inChroot(oursSh, src.text, (root) => {
      const f = join(root, 'var/lib/gdib/logs/apt.log');
      return existsSync(f) ? readFileSync(f, 'utf8') : '';
    });
    const pkgs = /^gdib: installing (.*)$/m.exec(o.stdout)?.[1] ?? '';
    ours.commands = [
      'apt-get -q -o DPkg::Lock::Timeout=600 update',
      `apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends ${pkgs}`,
    ];
    ours.wallSec.push(o.wallSec);
    ours.downloadedMB = fetchedMB(o.output);
    ours.packages = newlyInstalled(o.output);
    log(`install pass ${pass}: ours ${o.wallSec.toFixed(1)} s, ${ours.downloadedMB.toFixed(1)} MB, ${ours.packages} packages (${pkgs})`);
    const g = await inChroot(goSh, src.text);
    go.wallSec.push(g.wallSec);
    go.downloadedMB = fetchedMB(g.output);
    go.packages = newlyInstalled(g.output);
    log(`install pass ${pass}: Go ${g.wallSec.toFixed(1)} s, ${go.downloadedMB.toFixed(1)} MB, ${go.packages} packages`);
    if (pass === 2) {
      notes.push(
        `archives ("Need to get"): ours ${needToGet(o.output)}, Go ${needToGet(g.output)}`,
        `ours installs: ${setUp(o.output)}`,
        `Go installs (apt's default Recommends: runc -> criu -> python3): ${setUp(g.output)}`,
      );
    }
  }
  notes.push(
    'wallSec: [first, second] run, alternating ours/Go; the first pair also warms any proxy cache between here and the mirror',
    'downloadedMB: apt "Fetched" totals (package indexes + archives) of the last run; each run had an empty /var/lib/apt/lists and /var/cache/apt',
    "mirror: this machine's own bookworm apt sources; a GCE image also lists bookworm-backports and Google's repositories, so its apt update fetches more",
    "in a chroot no service starts (no systemd running); on a VM the Go tool's containerd install also starts containerd, ours does not (policy-rc.d)",
  );
  return { base: `${BASE}; this machine's Debian mirror`, ours, go, notes };
}
