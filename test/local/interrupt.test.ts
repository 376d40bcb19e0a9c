// `build --local` and `verify --local` stopped in the middle — SIGTERM, SIGINT, a step's --timeout — leave no mount,
// no loop device, no scratch directory and no process behind: the CLI waits for the script's own cleanup before it
// removes anything (docs/architecture.md, Workflow). The real bin/ runs as root against the rig's registry and
// real loop devices; each run is held in one phase:
// - formatting: an `mkfs.ext4` first on PATH that takes its time (a slow disk), then runs the real one;
// - pulling: the registry is reached through a proxy that never answers a blob request (a stalled registry);
// - writing out: an `md5sum` first on PATH that takes its time while the snapshots on the mounted disk are
//   checksummed (the last phase that writes the disk).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnCli, type SpawnedRun } from '../helpers/spawn-cli.js';
import { leftUnder, NOTHING_LEFT as NOTHING, removeUnlessLeft } from '../rig/inspect.js';
import { waitFor } from '../rig/proc.js';
import { describeRig, hostsToml, REPO, startRig, type Rig } from '../rig/rig.js';

/** A registry in front of the rig's that holds every blob request unanswered while `stalled`. */
interface StallingProxy {
  host: string;
  held: number;
  stalled: boolean;
  close(): Promise<void>;
}

async function startStallingProxy(upstream: string): Promise<StallingProxy> {
  const [upHost, upPort] = upstream.split(':');
  const held: ServerResponse[] = [];
  const proxy: StallingProxy = { host: '', held: 0, stalled: true, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    if (proxy.stalled && req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
      held.push(res);
      proxy.held = held.length;
      return;
    }
    const up = request(
      { host: upHost, port: Number(upPort), path: req.url, method: req.method, headers: { ...req.headers, host: upstream } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return proxy;
}

/** A command first on PATH that touches `marker`, takes `seconds`, then runs the real one. */
function slowTool(binDir: string, name: string, real: string, marker: string, seconds: number): void {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, name), `#!/bin/sh\n: >'${marker}'\nsleep ${seconds}\nexec ${real} "$@"\n`);
  chmodSync(join(binDir, name), 0o755);
}

describeRig('--local stopped in any phase cleans up everything', () => {
  let rig: Rig;
  let proxy: StallingProxy;
  let hostsDir: string;
  let base: string;
  beforeAll(async () => {
    rig = await startRig('interrupt');
    proxy = await startStallingProxy(rig.open.host);
    // Short: containerd's socket paths under the scratch dir must stay under 80 characters.
    base = mkdtempSync(join(tmpdir(), 'gi-'));
    hostsDir = join(base, 'hosts');
    hostsToml(hostsDir, rig.open.host, rig.open.host);
    hostsToml(hostsDir, proxy.host, proxy.host);
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    if (base) await removeUnlessLeft(base);
    await rig?.close();
  });

  /** `build --local` into a fresh case dir (the scratch dir is made beside --output). */
  function build(name: string, opts: { image?: string; bin?: string; extra?: string[] } = {}) {
    const dir = join(base, name);
    mkdirSync(dir);
    const args = [
      'build',
      '--local',
      `--output=${join(dir, 'disk.tar.gz')}`,
      '--disk-size-gb=10',
      `--container-image=${opts.image ?? rig.ref('app')}`,
    ];
    const env = { GDIB_HOSTS_DIR: hostsDir, PATH: `${opts.bin ? `${opts.bin}:` : ''}${process.env.PATH ?? ''}` };
    return { dir, cli: spawnCli([...args, ...(opts.extra ?? [])], env) };
  }

  async function expectCleanedUp(r: SpawnedRun, dir: string, code: number): Promise<void> {
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).not.toContain('by hand');
    expect(await leftUnder(dir)).toEqual(NOTHING);
  }

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} while the disk is formatted`, { timeout: 240_000 }, async () => {
      const marker = join(base, `mkfs-${sig}`);
      const bin = join(base, `bin-mkfs-${sig}`);
      slowTool(bin, 'mkfs.ext4', '/usr/sbin/mkfs.ext4', marker, 6);
      const { dir, cli } = build(`f-${sig}`, { bin });
      await waitFor(() => existsSync(marker) || cli.child.exitCode !== null, 120_000, 'mkfs to start');
      cli.child.kill(sig);
      await expectCleanedUp(await cli.done, dir, 130);
    });
  }

  it('SIGTERM while an image is pulled (the registry sends nothing)', { timeout: 240_000 }, async () => {
    proxy.stalled = true;
    const heldBefore = proxy.held;
    const { dir, cli } = build('p', { image: `${proxy.host}/${REPO}:app` });
    await waitFor(() => proxy.held > heldBefore || cli.child.exitCode !== null, 120_000, 'a blob request');
    cli.child.kill('SIGTERM');
    const r = await cli.done;
    expect(r.stderr).toContain('phase=pulling');
    await expectCleanedUp(r, dir, 130);
  });

  it('SIGINT while the snapshots on the mounted disk are written out and checksummed', { timeout: 240_000 }, async () => {
    const marker = join(base, 'md5-sigint');
    const bin = join(base, 'bin-md5');
    slowTool(bin, 'md5sum', '/usr/bin/md5sum', marker, 8);
    const { dir, cli } = build('w', { bin });
    await waitFor(() => existsSync(marker) || cli.child.exitCode !== null, 150_000, 'md5sum to start');
    cli.child.kill('SIGINT');
    await expectCleanedUp(await cli.done, dir, 130);
  });

  it('the step times out during a pull', { timeout: 240_000 }, async () => {
    proxy.stalled = true;
    const { dir, cli } = build('t', { image: `${proxy.host}/${REPO}:app`, extra: ['--timeout=40s'] });
    const r = await cli.done;
    expect(r.stderr).toMatch(/step "local-bake" did not finish within --timeout \(40s\)/);
    await expectCleanedUp(r, dir, 1);
  });

  it('verify --local: SIGTERM while the snapshots are checksummed', { timeout: 300_000 }, async () => {
    const { dir: builtIn, cli: builder } = build('vs');
    const built = await builder.done;
    expect(built.code, built.stderr).toBe(0);
    const archive = join(builtIn, 'disk.tar.gz');
    const marker = join(base, 'md5-verify');
    const bin = join(base, 'bin-md5-verify');
    slowTool(bin, 'md5sum', '/usr/bin/md5sum', marker, 8);
    // The archive is unpacked into a scratch dir in TMPDIR: one under the case dir, to look for what is left.
    const dir = join(base, 'v');
    mkdirSync(dir);
    const cli = spawnCli(['verify', '--local', archive], { TMPDIR: dir, PATH: `${bin}:${process.env.PATH ?? ''}` });
    await waitFor(() => existsSync(marker) || cli.child.exitCode !== null, 150_000, 'md5sum to start');
    cli.child.kill('SIGTERM');
    await expectCleanedUp(await cli.done, dir, 130);
  });
});
