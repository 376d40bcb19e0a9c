// The agent behind Google's script runner (docs/vm-script.md, Status protocol), out of process: the rendered bootstrap
// runs the bundled agent as root with its stdout read by a stand-in for `google_metadata_script_runner`, which reads
// lines as Go's bufio.Scanner does by default and gives up — closes the pipe — on a line of 64 KiB or more. A registry
// answers each blob with an error whose JSON message is 200 KiB (containerd copies it into its error, unbounded).
// - A runner that stays: every line the agent writes is at most 4 KiB and its marker, so the runner never gives up
//   and sees `state=failed`.
// - A runner that goes away mid-pull: the agent still reports `failed` through the guest attributes, cleans up and
//   exits with a status of its own — no death by SIGPIPE, no hang.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLoopDisk, type LoopDisk } from '../../src/local/disk.js';
import { renderMetadata } from '../../src/startup-script/render.js';
import { MAX_LINE_BYTES, TRUNCATED_MARKER } from '../../src/vm/contract.js';
import { leftUnder, removeUnlessLeft } from '../rig/inspect.js';
import { startMetadataServer, type MetadataServer } from '../rig/metadata-server.js';
import { describeRig, hostsToml } from '../rig/rig.js';

/** bufio.MaxScanTokenSize: the longest line a default bufio.Scanner reads. */
const SCANNER_MAX = 64 * 1024;
const HUGE = 200 * 1024;

const sha = (b: string | Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A registry whose manifest is fine and whose every blob is an error with a 200 KiB message. */
async function startHugeErrorRegistry(): Promise<{ host: string; close(): Promise<void> }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha('l')] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha('layer'), size: 1234 }],
    }),
  );
  const message = `the blob is gone ${'x'.repeat(HUGE)} end of message`;
  const server: Server = createServer((req, res) => {
    if (/\/manifests\//.test(req.url ?? '')) {
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': manifest.length,
        'docker-content-digest': sha(manifest),
      });
      res.end(req.method === 'HEAD' ? undefined : manifest);
    } else if (/\/blobs\//.test(req.url ?? '')) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message }] }));
    } else res.writeHead(200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

interface RunnerView {
  lines: string[];
  /** Why the runner stopped reading: a line too long for it, or the test sent it away. */
  gaveUp?: 'line too long' | 'went away';
}

/** Reads `out` as the runner does: line by line; on a line of SCANNER_MAX bytes or more it stops and closes the pipe. */
function runner(out: Readable, goAway?: (line: string) => boolean): RunnerView {
  const view: RunnerView = { lines: [] };
  let partial = Buffer.alloc(0);
  out.on('data', (chunk: Buffer) => {
    if (view.gaveUp) return;
    partial = Buffer.concat([partial, chunk]);
    for (let nl = partial.indexOf(0x0a); nl >= 0; nl = partial.indexOf(0x0a)) {
      const line = partial.subarray(0, nl).toString('utf8');
      partial = partial.subarray(nl + 1);
      if (nl >= SCANNER_MAX) view.gaveUp = 'line too long';
      else view.lines.push(line);
      if (!view.gaveUp && goAway?.(line)) view.gaveUp = 'went away';
      if (view.gaveUp) break;
    }
    if (!view.gaveUp && partial.length >= SCANNER_MAX) view.gaveUp = 'line too long';
    if (view.gaveUp) out.destroy(); // the read end is closed: the agent's next write gets EPIPE
  });
  return view;
}

describeRig('the agent behind a runner that gives up on 64 KiB lines', () => {
  let registry: Awaited<ReturnType<typeof startHugeErrorRegistry>>;
  let base: string;
  let hostsDir: string;
  const disks: LoopDisk[] = [];

  beforeAll(async () => {
    registry = await startHugeErrorRegistry();
    base = mkdtempSync(join(tmpdir(), 'gp-'));
    hostsDir = join(base, 'hosts');
    hostsToml(hostsDir, registry.host, registry.host);
  });
  afterAll(async () => {
    for (const d of disks) await d.detach();
    await registry?.close();
    if (base) await removeUnlessLeft(base);
  });

  async function runAgent(name: string, goAway?: (line: string) => boolean) {
    const dir = join(base, name);
    mkdirSync(dir);
    const disk = await createLoopDisk(join(dir, 'disk.raw'), 1);
    disks.push(disk);
    const items = renderMetadata({
      mode: 'build',
      runId: `pipe-${name}`,
      containerImages: [`${registry.host}/huge/app:1`],
      imagePullAuth: 'None',
      storeChecksums: false,
      platform: 'linux/amd64',
    });
    const attributes = Object.fromEntries(items.map((i) => [i.key, i.value]));
    const metadata: MetadataServer = await startMetadataServer({ attributes });
    const script = join(dir, 'startup-script');
    writeFileSync(script, attributes['startup-script'] ?? '', { mode: 0o755 });
    try {
      const child = spawn('/bin/bash', [script], {
        env: {
          PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          GCE_METADATA_HOST: metadata.host,
          GDIB_DEVICE: disk.device,
          GDIB_MOUNT_DIR: join(dir, 'mnt'),
          GDIB_WORK_DIR: join(dir, 'work'),
          GDIB_HOSTS_DIR: hostsDir,
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const view = runner(child.stdout, goAway);
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      return { view, exit, guest: new Map(metadata.guestAttributes), dir };
    } finally {
      await metadata.close();
    }
  }

  it('writes no line the runner gives up on: every line capped at 4 KiB with the marker', { timeout: 180_000 }, async () => {
    const { view, exit, guest, dir } = await runAgent('stays');
    expect(view.gaveUp).toBeUndefined();
    expect(exit).toEqual({ code: 1, signal: null });
    const long = view.lines.filter((l) => l.endsWith(TRUNCATED_MARKER));
    expect(long.length).toBeGreaterThan(0); // the registry's message was relayed, and cut
    for (const l of view.lines) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(MAX_LINE_BYTES + TRUNCATED_MARKER.length);
    expect(view.lines).toContain('gdib: state=failed');
    expect(view.lines.find((l) => l.startsWith('gdib: error='))).toMatch(/huge\/app:1/);
    expect(guest.get('gdib/state')).toBe('failed');
    expect(await leftUnder(dir)).toMatchObject({ mounts: [], processes: [] });
  });

  it('reports failed through the guest attributes and exits when the runner goes away', { timeout: 180_000 }, async () => {
    const { view, exit, guest, dir } = await runAgent('goes-away', (line) => line.startsWith('gdib: phase=pulling'));
    expect(view.gaveUp).toBe('went away');
    expect(view.lines).not.toContain('gdib: state=failed');
    // An exit status of its own (not 141, not a signal): it noticed, cleaned up and reported.
    expect(exit.signal).toBeNull();
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBe(141);
    expect(guest.get('gdib/state')).toBe('failed');
    expect(guest.get('gdib/error')).toBeTruthy();
    expect(await leftUnder(dir)).toMatchObject({ mounts: [], processes: [] });
  });
});
