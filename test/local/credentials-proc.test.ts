// Credentials never in argv or environ (docs/vm-script.md, Credentials): a `--local` build — the agent run by this
// process's Node, as build --local runs it — pulls one image with the caller's token (ServiceAccountToken) and one
// with a registry secret, while user `nobody` reads every /proc/*/cmdline and /proc/*/environ it can, over and over.
// It must see the pulls (ctr's command lines) and never a token, the password, or their Basic form.
// The second secret is for a registry with Docker's token authentication (as Docker Hub): the agent's credential
// proxy exchanges it for short-lived bearer tokens, and the pull outlasts them (test/rig/token-server.ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLoopDisk, type LoopDisk } from '../../src/local/disk.js';
import { startLocalMetadataServer } from '../../src/local/metadata-server.js';
import { runStartupScript } from '../../src/local/run-script.js';
import { renderMetadata } from '../../src/startup-script/render.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { tags } from '../rig/images.js';
import { randomToken } from '../rig/metadata-server.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig, hostsToml, startRig, type Rig } from '../rig/rig.js';
import { expiringRelay, startTokenServer, type Relay, type TokenServer } from '../rig/token-server.js';

const USER = 'robot';
const PASSWORD = `pw-${randomToken().slice(-20)}`;
const SECRET = 'projects/test-project/secrets/proc-registry';
const HUB_USER = 'hubrobot';
const HUB_PASSWORD = `hub-${randomToken().slice(-20)}`;
const HUB_SECRET = 'projects/test-project/secrets/proc-token-registry';

/** As `nobody`: every distinct /proc/<pid>/{cmdline,environ} it can read, until its stdin closes. */
const WATCHER = `
const fs = require('fs');
const seen = new Set();
let stop = false;
process.stdin.on('data', () => undefined).on('end', () => (stop = true));
(function loop() {
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\\d+$/.test(p) || Number(p) === process.pid) continue;
    for (const f of ['cmdline', 'environ']) {
      try {
        const t = fs.readFileSync('/proc/' + p + '/' + f, 'latin1');
        if (t !== '' && !seen.has(t)) { seen.add(t); process.stdout.write(f + ' ' + t.replace(/\\0/g, ' ') + '\\n'); }
      } catch {}
    }
  }
  if (stop) process.exit(0); else setImmediate(loop);
})();`;

describeRig('credentials and other local users', () => {
  let rig: Rig;
  let registry: Registry;
  let tokenService: TokenServer;
  let hub: Registry;
  let relay: Relay;
  let emu: Emulator;
  let disk: LoopDisk;
  const tokens: string[] = [];
  let seen = '';
  let exitCode: number | null = null;
  const lines: string[] = [];

  beforeAll(async () => {
    rig = await startRig('proc');
    registry = await startRegistry(join(rig.dir, 'registry-password'), { withToken: PASSWORD, user: USER });
    await registry.push(rig.layoutDir, tags.app, 'secret/app');
    hostsToml(rig.hostsDir, registry.host, registry.host);
    tokenService = await startTokenServer(rig.dir, { users: { [HUB_USER]: HUB_PASSWORD }, lifetimeS: 3 });
    hub = await startRegistry(join(rig.dir, 'registry-token-auth'), { tokenAuth: tokenService, user: HUB_USER, withToken: HUB_PASSWORD });
    await hub.push(rig.layoutDir, tags.app2, 'hub/app2');
    relay = await expiringRelay(hub.host, tokenService);
    hostsToml(rig.hostsDir, relay.host, relay.host);
    emu = await startEmulator();
    emu.secrets.add(SECRET, `${USER}:${PASSWORD}\n`);
    emu.secrets.add(
      HUB_SECRET,
      JSON.stringify({ auths: { [relay.host]: { auth: Buffer.from(`${HUB_USER}:${HUB_PASSWORD}`).toString('base64') } } }),
    );
    disk = await createLoopDisk(join(rig.dir, 'disk.raw'), 1);
    const attributes = Object.fromEntries(
      renderMetadata({
        mode: 'build',
        runId: 'proc01',
        // The token-auth registry's image first: pulled alone, each of its blobs comes from that registry. Then the
        // secret's pull (reading the secret takes a token) before the token's: the rig's token registry accepts
        // only the latest token.
        containerImages: [`${relay.host}/hub/app2:${tags.app2}`, `${registry.host}/secret/app:${tags.app}`, rig.privateRef('app')],
        imagePullAuth: 'ServiceAccountToken',
        storeChecksums: false,
        platform: 'linux/amd64',
        registrySecrets: [
          { host: registry.host, secretVersion: `${SECRET}/versions/latest` },
          { host: relay.host, secretVersion: `${HUB_SECRET}/versions/latest` },
        ],
      }).map((i) => [i.key, i.value]),
    );
    const server = await startLocalMetadataServer({
      attributes,
      token: async () => {
        const token = randomToken();
        await rig.token.setToken(token);
        emu.acceptToken(token);
        tokens.push(token);
        return token;
      },
    });
    const watcher = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', WATCHER], {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: '/',
    });
    const out: Buffer[] = [];
    watcher.stdout.on('data', (d: Buffer) => out.push(d));
    const watched = new Promise<void>((resolve) => watcher.on('close', () => resolve()));
    try {
      const dir = rig.runDir('local');
      const exit = await runStartupScript({
        script: attributes['gdib-agent'] ?? '',
        runner: 'node',
        env: {
          GCE_METADATA_HOST: server.host,
          GDIB_DEVICE: disk.device,
          GDIB_MOUNT_DIR: join(dir, 'mnt'),
          GDIB_WORK_DIR: join(dir, 'work'),
          GDIB_HOSTS_DIR: rig.hostsDir,
          GDIB_SECRETMANAGER_ENDPOINT: emu.storageHost,
        },
        onLine: (l) => lines.push(l),
        signal: new AbortController().signal,
      });
      exitCode = exit.exitCode;
    } finally {
      watcher.stdin.end();
      await watched;
      await server.close();
    }
    seen = Buffer.concat(out).toString('latin1');
  }, 180_000);

  afterAll(async () => {
    await disk?.detach();
    await registry?.stop();
    await relay?.close();
    await hub?.stop();
    await tokenService?.close();
    await emu?.close();
    await rig?.close();
  });

  it('builds, pulling with a token and with a registry secret', () => {
    expect(exitCode, lines.join('\n')).toBe(0);
    expect(tokens.length).toBeGreaterThanOrEqual(3); // reading the two secrets, and a pull
    expect(lines.join('\n')).toContain(`with the credentials of secret ${SECRET}`);
    expect(lines.join('\n')).toContain(`with the credentials of secret ${HUB_SECRET}`);
  });

  it('pulls from a token-auth registry, renewing its bearer token when the pull outlasts it', () => {
    expect(tokenService.refused).toBe(0);
    // Blob requests reached the registry only once their token had run out: each was refused, and the proxy
    // exchanged the credentials again.
    expect(relay.heldBack).toBeGreaterThanOrEqual(2);
    const pulls = tokenService.issued.filter((t) => t.scopes.includes('repository:hub/app2:pull'));
    expect(pulls.length).toBeGreaterThanOrEqual(2);
  });

  it("lets another user see the pulls' command lines, and no secret in any command line or environment", () => {
    expect(seen).toMatch(/cmdline \S*ctr .*images pull/);
    const forms = [
      PASSWORD,
      Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
      ...tokens,
      ...tokens.map((t) => Buffer.from(`oauth2accesstoken:${t}`).toString('base64')),
      HUB_PASSWORD,
      Buffer.from(`${HUB_USER}:${HUB_PASSWORD}`).toString('base64'),
      ...tokenService.issued.map((t) => t.token),
    ];
    for (const f of forms) expect(seen.includes(f), `another user saw ${f.slice(0, 6)}…`).toBe(false);
  });
});
