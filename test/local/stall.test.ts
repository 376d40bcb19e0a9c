// A stalled registry ends the build, not --timeout (docs/vm-script.md, Stalls): the real bin/ runs `build --local` as
// root against a registry stand-in that answers manifests and then sends no byte of a blob. With
// --pull-stall-timeout=3 the build fails (exit 1) naming the image and the registry, with --timeout far away, and
// leaves no mount, loop device or scratch dir. Beside it, a pull that keeps receiving bytes (a blob trickled forever)
// must not hide the stall: the stall watch counts each pull's own blobs, not the shared content store.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnCli } from '../helpers/spawn-cli.js';
import { leftUnder, NOTHING_LEFT, removeUnlessLeft } from '../rig/inspect.js';
import { describeRig, hostsToml, startRig, type Rig } from '../rig/rig.js';

const sha = (b: string | Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Repositories `stall/app` (every blob request answered with headers and then nothing) and `trickle/app` (its config
 * whole; its 1 GiB layer 64 KiB every 100 ms: containerd stores a download 1 MiB at a time, so that is a piece every
 * 1.6 s, well within the stall timeout), each with a manifest of its own blobs.
 */
async function startStandIn(): Promise<{ host: string; blobRequests: Record<string, number>; close(): Promise<void> }> {
  const blobs = new Map<string, { body?: Buffer; size: number; mode: 'whole' | 'stall' | 'trickle' }>();
  const manifests = new Map<string, Buffer>();
  for (const repo of ['stall/app', 'trickle/app']) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(repo)] } }));
    const layer = { digest: sha(`layer of ${repo}`), size: 1 << 30 };
    const mode = repo === 'stall/app' ? 'stall' : 'trickle';
    blobs.set(
      `${repo}@${sha(config)}`,
      mode === 'stall' ? { size: config.length, mode } : { body: config, size: config.length, mode: 'whole' },
    );
    blobs.set(`${repo}@${layer.digest}`, { size: layer.size, mode });
    manifests.set(
      repo,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        }),
      ),
    );
  }
  const blobRequests: Record<string, number> = {};
  const open = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(m === null && req.url === '/v2/' ? 200 : 404).end();
      return;
    }
    const [, repo = '', kind, ref = ''] = m;
    if (kind === 'manifests') {
      const body = manifests.get(repo);
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': body.length,
        'docker-content-digest': sha(body),
      });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const blob = blobs.get(`${repo}@${ref}`);
    if (!blob) return void res.writeHead(404).end();
    blobRequests[repo] = (blobRequests[repo] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.size });
    if (blob.mode === 'whole') return void res.end(blob.body);
    open.add(res);
    res.on('close', () => open.delete(res));
    if (blob.mode === 'trickle') {
      const t = setInterval(() => res.write(Buffer.alloc(64 * 1024, 0x1f)), 100);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    blobRequests,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describeRig('a stalled registry', () => {
  let rig: Rig;
  let standIn: Awaited<ReturnType<typeof startStandIn>>;
  let base: string;
  let hostsDir: string;
  beforeAll(async () => {
    rig = await startRig('stall');
    standIn = await startStandIn();
    // Short: containerd's socket paths under the scratch dir must stay under 80 characters.
    base = mkdtempSync(join(tmpdir(), 'gs-'));
    hostsDir = join(base, 'hosts');
    hostsToml(hostsDir, rig.open.host, rig.open.host);
    hostsToml(hostsDir, standIn.host, standIn.host);
  }, 120_000);
  afterAll(async () => {
    await standIn?.close();
    if (base) await removeUnlessLeft(base);
    await rig?.close();
  });

  async function build(name: string, images: string[]) {
    const dir = join(base, name);
    mkdirSync(dir);
    const args = [
      'build',
      '--local',
      `--output=${join(dir, 'disk.tar.gz')}`,
      '--disk-size-gb=10',
      '--pull-stall-timeout=3',
      '--timeout=10m',
      ...images.map((i) => `--container-image=${i}`),
    ];
    const r = await spawnCli(args, { GDIB_HOSTS_DIR: hostsDir }).done;
    return { r, dir };
  }

  const stalled = () => `${standIn.host}/stall/app:1`;
  const reason = () => `pulling ${stalled()} stalled: no bytes received from registry ${standIn.host} for 3 s (--pull-stall-timeout)`;

  it('fails the build naming the image and the registry, and leaves nothing behind', { timeout: 240_000 }, async () => {
    const { r, dir } = await build('alone', [stalled()]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(reason());
    expect(r.stderr).not.toContain('--timeout');
    expect(standIn.blobRequests['stall/app']).toBeGreaterThan(0);
    expect(await leftUnder(dir)).toEqual(NOTHING_LEFT);
  });

  it('is caught while another pull keeps receiving bytes', { timeout: 240_000 }, async () => {
    // The first image is pulled alone; the stalled and the trickling ones then pull at once.
    const { r, dir } = await build('beside', [rig.ref('app'), stalled(), `${standIn.host}/trickle/app:1`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(reason());
    expect(r.stderr).not.toContain('--timeout');
    expect(standIn.blobRequests['trickle/app']).toBeGreaterThan(0);
    expect(await leftUnder(dir)).toEqual(NOTHING_LEFT);
  });
});
