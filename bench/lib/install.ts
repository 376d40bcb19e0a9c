// The `installing` phase of a new VM, measured: the real bootstrap (src/startup-script/bootstrap.sh, rendered for
// `build`) runs in a chroot of a fresh Debian 12 (bookworm) and of a fresh Debian 13 (trixie), made by debootstrap
// from this machine's Debian mirror, against the rig's fake metadata server, up to `exec node` of a stand-in agent
// that prints Node's version. Also timed: the same bootstrap without nodejs (Node's share), and on bookworm the Go
// tool's apt lines, verbatim (GoogleCloudPlatform/ai-on-gke, tools/gke-disk-image-builder/script/startup.sh:
// `sudo apt update`, `sudo apt-get update`, `sudo apt install --yes containerd`, `sudo apt-get --yes install jq`).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDARD_PATH } from '../../src/local/command.js';
import { startupScript } from '../../src/startup-script/render.js';
import { unmountUnder } from '../../test/rig/disk.js';
import { startMetadataServer } from '../../test/rig/metadata-server.js';
import { run } from '../../test/rig/proc.js';

export const RELEASES = ['bookworm', 'trixie'] as const;
export type Release = (typeof RELEASES)[number];

export interface InstallRun {
  release: Release;
  variant: 'bootstrap' | 'bootstrap-without-node' | 'go';
  /** Seconds from the start to the end of the package install (`gdib: installed` line; Go: its last apt line). */
  installSec: number;
  /** Seconds from the start to the agent's first line (bootstrap only: install, node check, agent fetched, exec). */
  agentSec?: number;
  packages: string;
  newlyInstalled: number;
  fetchedMB: number;
  node?: string;
}

// A GCE debian-12/13 image is a full install, not minbase: priority required + important (debootstrap's default
// variant) plus what its guest environment needs; man-db's trigger runs on every install that ships man pages.
const INCLUDE = ['curl', 'ca-certificates', 'sudo', 'man-db'];
/**
 * The Debian archive the chroots are made from: GDIB_BENCH_DEBIAN_MIRROR, else the first `URIs:` (or `deb` line) of
 * this machine's own apt sources ending in `/debian`; its security archive is the same URI with `-security`.
 */
const MIRROR = process.env['GDIB_BENCH_DEBIAN_MIRROR'] ?? machineMirror();
function machineMirror(): string {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].filter((x) => existsSync(x))) {
    const m = /^(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S+\/debian)\/?(?:\s|$)/m.exec(readFileSync(f, 'utf8'));
    if (m) return m[1]!;
  }
  return '';
}
const CACHE = join(tmpdir(), 'gdib-bench-install');
const tarball = (r: Release) => join(CACHE, `${r}-${INCLUDE.join('-')}.tar`);
const sources = (r: Release) =>
  `Types: deb\nURIs: ${MIRROR}\nSuites: ${r} ${r}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n` +
  `Types: deb\nURIs: ${MIRROR}-security\nSuites: ${r}-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`;
const GO_COMMANDS = ['sudo apt update', 'sudo apt-get update', 'sudo apt install --yes containerd', 'sudo apt-get --yes install jq'];

/** Why the benchmark cannot run here, or undefined. */
export async function installUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot, mounts)';
  const r = await run('sh', ['-c', 'command -v debootstrap'], { allowFailure: true });
  if (r.code !== 0) return 'debootstrap is missing (apt-get install debootstrap)';
  if (!MIRROR) return "no Debian archive in this machine's apt sources (set GDIB_BENCH_DEBIAN_MIRROR)";
  try {
    const res = await fetch(`${MIRROR}/dists/trixie/Release`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return `${MIRROR} answered ${res.status}`;
  } catch (e) {
    return `${MIRROR} unreachable: ${String(e)}`;
  }
  return undefined;
}

/** debootstrap of `release` once, kept as a tarball, with empty apt lists and cache (as a fresh image has). */
async function base(release: Release, log: (s: string) => void): Promise<void> {
  if (existsSync(tarball(release))) return;
  mkdirSync(CACHE, { recursive: true });
  const root = mkdtempSync(join(CACHE, 'build-'));
  try {
    log(`debootstrap ${release} (default variant, --include=${INCLUDE.join(',')})`);
    await run('debootstrap', [`--include=${INCLUDE.join(',')}`, release, root, MIRROR], { timeoutMs: 30 * 60_000 });
    await run('find', [join(root, 'var/lib/apt/lists'), join(root, 'var/cache/apt'), '-type', 'f', '-delete']);
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', root, '-cf', `${tarball(release)}.part`, '.']);
    await run('mv', [`${tarball(release)}.part`, tarball(release)]);
  } finally {
    await unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
}

/** A fresh root of `release`, /proc /sys /dev mounted; `script` run in it by bash; each stdout line timestamped. */
async function inChroot(release: Release, script: string, env: string[]): Promise<{ lines: [number, string][]; all: string }> {
  const root = mkdtempSync(join(CACHE, 'run-'));
  try {
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', root, '-xf', tarball(release)]);
    for (const f of ['resolv.conf', 'hosts']) {
      rmSync(join(root, 'etc', f), { force: true });
      copyFileSync(join('/etc', f), join(root, 'etc', f));
    }
    rmSync(join(root, 'etc/apt/sources.list'), { force: true });
    writeFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), sources(release));
    writeFileSync(join(root, 'script.sh'), script);
    await run('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
    await run('mount', ['-t', 'sysfs', 'sysfs', join(root, 'sys')]);
    await run('mount', ['--bind', '/dev', join(root, 'dev')]);
    await run('mount', ['--bind', '/dev/pts', join(root, 'dev/pts')]);
    const t0 = performance.now();
    const lines: [number, string][] = [];
    let all = '';
    const child = spawn(
      'chroot',
      [root, '/usr/bin/env', '-i', `PATH=${STANDARD_PATH}`, 'HOME=/root', 'TERM=dumb', ...env, 'bash', '/script.sh'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      all += d;
      const parts = (pending + d).split('\n');
      pending = parts.pop() ?? '';
      for (const l of parts) lines.push([(performance.now() - t0) / 1000, l]);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (all += d));
    await new Promise((res) => child.once('close', res));
    const apt = join(root, 'var/lib/gdib/logs/apt.log');
    if (existsSync(apt)) all += readFileSync(apt, 'utf8');
    return { lines, all };
  } finally {
    const left = await unmountUnder(root);
    // Never rm -rf through a mount that is still there (it would be /dev or /sys of this machine).
    if (left.length === 0) rmSync(root, { recursive: true, force: true });
  }
}

const fetchedMB = (out: string) => {
  const unit: Record<string, number> = { B: 1e-6, kB: 1e-3, MB: 1, GB: 1e3 };
  return [...out.matchAll(/^Fetched ([\d.,]+) (B|kB|MB|GB) in/gm)].reduce((s, m) => s + Number(m[1]!.replace(/,/g, '')) * unit[m[2]!]!, 0);
};
const newly = (out: string) => [...out.matchAll(/(\d+) newly installed/g)].reduce((s, m) => s + Number(m[1]), 0);

async function once(release: Release, variant: InstallRun['variant']): Promise<InstallRun> {
  if (variant === 'go') {
    const r = await inChroot(release, ['set -e', ...GO_COMMANDS, 'echo go-done'].join('\n'), ['LC_ALL=C']);
    const done = r.lines.find(([, l]) => l === 'go-done');
    if (!done) throw new Error(`the Go tool's apt lines failed on ${release}: ${r.all.slice(-1500)}`);
    return {
      release,
      variant,
      installSec: done[0],
      packages: 'containerd jq (and Recommends)',
      newlyInstalled: newly(r.all),
      fetchedMB: fetchedMB(r.all),
    };
  }
  let script = startupScript('build');
  if (variant === 'bootstrap-without-node') {
    if (!script.includes(' node=nodejs')) throw new Error('the bootstrap has no node=nodejs pair');
    script = script.replace(' node=nodejs', '');
  }
  // The stand-in agent: prints Node's version, as the first thing the real one would do is run.
  const md = await startMetadataServer({ attributes: { 'gdib-agent': "console.log('agent: node ' + process.version)\n" } });
  try {
    const r = await inChroot(release, script, [`GCE_METADATA_HOST=${md.host}`]);
    const installed = r.lines.find(([, l]) => l.startsWith('gdib: installed '));
    if (!installed) throw new Error(`the bootstrap did not install on ${release}: ${r.all.slice(-1500)}`);
    const agent = r.lines.find(([, l]) => l.startsWith('agent: node '));
    if (variant === 'bootstrap' && !agent) throw new Error(`the agent did not start on ${release}: ${r.all.slice(-1500)}`);
    return {
      release,
      variant,
      installSec: installed[0],
      ...(agent ? { agentSec: agent[0], node: agent[1].slice('agent: node '.length) } : {}),
      packages: /^gdib: installing (.*)$/m.exec(r.all)?.[1] ?? '',
      newlyInstalled: newly(r.all),
      fetchedMB: fetchedMB(r.all),
    };
  } finally {
    await md.close();
  }
}

/** `runs` rounds; in each, every (release, variant) once, in turn. */
export async function measureInstall(runs: number, log: (s: string) => void): Promise<InstallRun[]> {
  for (const r of RELEASES) await base(r, log);
  const plan: [Release, InstallRun['variant']][] = [
    ['bookworm', 'bootstrap'],
    ['trixie', 'bootstrap'],
    ['bookworm', 'bootstrap-without-node'],
    ['trixie', 'bootstrap-without-node'],
    ['bookworm', 'go'],
  ];
  const out: InstallRun[] = [];
  for (let i = 0; i < runs; i++) {
    for (const [release, variant] of plan) {
      const r = await once(release, variant);
      out.push(r);
      log(
        `${release} ${variant}: install ${r.installSec.toFixed(1)} s${r.agentSec ? `, agent up at ${r.agentSec.toFixed(1)} s (${r.node})` : ''}; ${r.newlyInstalled} packages, ${r.fetchedMB.toFixed(1)} MB (${r.packages})`,
      );
    }
  }
  return out;
}

/** The boot image's release (src/builder/specs.ts: the debian-12 family). */
export const BOOT_RELEASE: Release = 'bookworm';
