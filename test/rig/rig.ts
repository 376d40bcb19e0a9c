// The startup-script rig: test images pushed to two local registries (one open, one that wants user
// `oauth2accesstoken` with the current token), a containerd hosts dir that reaches them over plain
// http, and the gate that fails when the machine can't run it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';
import { tags, writeTestImages } from './images.js';
import { randomToken } from './metadata-server.js';
import { startRegistry, type Registry } from './registry.js';

/** Commands the rig (and the scripts under test) need; test/rig/install.sh installs them. */
export const REQUIRED_COMMANDS = [
  'containerd',
  'ctr',
  'docker-registry',
  'skopeo',
  'htpasswd',
  'mkfs.ext4',
  'losetup',
  'mount',
  'findmnt',
  'jq',
  'curl',
  'getfattr',
  'perl',
  'shellcheck',
];

export function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d && existsSync(join(d, cmd)));
}

/** Why the rig cannot run here, or undefined when it can. */
export function rigUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the rig needs Linux';
  if (process.getuid?.() !== 0) return 'the rig needs root (loop devices, mounts, containerd)';
  const missing = REQUIRED_COMMANDS.filter((c) => !onPath(c));
  if (missing.length > 0) return `missing ${missing.join(', ')} (run test/rig/install.sh)`;
  if (!existsSync('/dev/loop-control')) return 'no loop device support (/dev/loop-control)';
  if (!/\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'))) return 'the kernel has no overlayfs';
  return undefined;
}

/**
 * `describe` for rig suites: when the machine can't run them, one failing test says why — never a skip, which would
 * check nothing. A machine without root runs `npm run test:unit`, which holds no rig suite.
 */
export function describeRig(name: string, fn: () => void): void {
  const reason = rigUnavailable();
  if (reason === undefined) {
    describe(name, fn);
  } else {
    describe(name, () => {
      it('has the machine the rig needs', () => {
        throw new Error(`the rig cannot run here: ${reason} (without root, run npm run test:unit)`);
      });
    });
  }
}

export const REPO = 'rig/img';
export const PRIVATE_REPO = 'rig/private';
/** Hostnames the hosts dir sends to the token registry, so `Auto` sees a Google registry. */
export const GOOGLE_HOSTS = ['gcr.io', 'us-docker.pkg.dev'];

export interface Rig {
  dir: string;
  layoutDir: string;
  hostsDir: string;
  open: Registry;
  token: Registry;
  /** `<open registry>/rig/img:<tag>` */
  ref(tag: string): string;
  /** `<token registry>/rig/private:<tag>` */
  privateRef(tag: string): string;
  /** A fresh directory under the rig's for one script run. */
  runDir(name: string): string;
  close(): Promise<void>;
}

/** A containerd hosts-dir entry sending registry `name` to `target` over plain http. */
export function hostsToml(dir: string, name: string, target: string): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(
    join(dir, name, 'hosts.toml'),
    `server = "http://${target}"\n\n[host."http://${target}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
}

/** `accessLog`: the open registry records the requests it serves (`rig.open.requests()`). */
export async function startRig(name: string, opts: { huge?: boolean; accessLog?: boolean } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `gdib-rig-${name}-`));
  const layoutDir = join(dir, 'layout');
  const hostsDir = join(dir, 'hosts');
  writeTestImages(layoutDir, { huge: opts.huge ?? false });
  const open = await startRegistry(join(dir, 'registry-open'), { accessLog: opts.accessLog ?? false });
  let token: Registry | undefined;
  try {
    token = await startRegistry(join(dir, 'registry-token'), { withToken: randomToken() });
    for (const tag of [tags.base, tags.app, tags.app2, tags.multi, ...(opts.huge ? [tags.huge] : [])]) {
      await open.push(layoutDir, tag, REPO);
    }
    for (const tag of [tags.app, tags.app2]) await token.push(layoutDir, tag, PRIVATE_REPO);
  } catch (err) {
    await open.stop();
    await token?.stop();
    throw err;
  }
  hostsToml(hostsDir, open.host, open.host);
  hostsToml(hostsDir, token.host, token.host);
  for (const host of GOOGLE_HOSTS) hostsToml(hostsDir, host, token.host);
  let runs = 0;
  const tokenRegistry = token;
  return {
    dir,
    layoutDir,
    hostsDir,
    open,
    token: tokenRegistry,
    ref: (tag) => `${open.host}/${REPO}:${tag}`,
    privateRef: (tag) => `${tokenRegistry.host}/${PRIVATE_REPO}:${tag}`,
    runDir: (runName) => join(dir, `${++runs}-${runName}`),
    async close() {
      await open.stop();
      await tokenRegistry.stop();
      // Never recurse into a disk a failed test left mounted.
      const mounted = readFileSync('/proc/self/mounts', 'utf8').includes(` ${dir}/`);
      if (!process.env.GDIB_KEEP_RIG && !mounted) rmSync(dir, { recursive: true, force: true });
    },
  };
}
