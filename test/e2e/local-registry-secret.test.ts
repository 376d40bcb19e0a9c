// build --local with --registry-secret through the CLI: the very startup script reads the secret from the emulator's
// Secret Manager with the caller's own token (served by the local metadata server) and pulls from a password-protected
// registry; the password passes through no argument, environment or output of the CLI. Then the same against a
// registry with Docker's token authentication (as Docker Hub), whose 3-second tokens the pull outlasts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { runCli } from '../helpers/cli.js';
import { tags } from '../rig/images.js';
import { randomToken } from '../rig/metadata-server.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig, hostsToml, startRig, type Rig } from '../rig/rig.js';
import { expiringRelay, startTokenServer, type Relay, type TokenServer } from '../rig/token-server.js';

const TOKEN = 'ya29.local-secret-token-0123456789';
const USER = 'robot';
const PASSWORD = `pw-${randomToken().slice(-20)}`;
const SECRET = 'projects/test-project/secrets/registry';
const HUB_USER = 'hubrobot';
const HUB_PASSWORD = `hub-${randomToken().slice(-20)}`;
const HUB_SECRET = 'projects/test-project/secrets/token-registry';

describeRig('build --local --registry-secret', () => {
  let rig: Rig;
  let registry: Registry;
  let emu: Emulator;
  let dir: string;
  let tokenService: TokenServer;
  let hub: Registry;
  let relay: Relay;
  beforeAll(async () => {
    rig = await startRig('local-secret');
    registry = await startRegistry(join(rig.dir, 'registry-password'), { withToken: PASSWORD, user: USER });
    await registry.push(rig.layoutDir, tags.app, 'secret/app');
    hostsToml(rig.hostsDir, registry.host, registry.host);
    emu = await startEmulator({ acceptTokens: [TOKEN] });
    emu.secrets.add(SECRET, `${USER}:${PASSWORD}\n`);
    tokenService = await startTokenServer(rig.dir, { users: { [HUB_USER]: HUB_PASSWORD }, lifetimeS: 3 });
    hub = await startRegistry(join(rig.dir, 'registry-token-auth'), { tokenAuth: tokenService, user: HUB_USER, withToken: HUB_PASSWORD });
    await hub.push(rig.layoutDir, tags.app, 'hub/app');
    relay = await expiringRelay(hub.host, tokenService);
    hostsToml(rig.hostsDir, relay.host, relay.host);
    emu.secrets.add(HUB_SECRET, `${HUB_USER}:${HUB_PASSWORD}\n`);
    dir = mkdtempSync(join(tmpdir(), 'gdib-locsec-'));
  });
  afterAll(async () => {
    await emu?.close();
    await registry?.stop();
    await relay?.close();
    await hub?.stop();
    await tokenService?.close();
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({
    CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: emu.storageHost,
    CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
    GDIB_HOSTS_DIR: rig.hostsDir,
  });
  const args = (out: string) => [
    '--local',
    `--output=${out}`,
    '--disk-size-gb=10',
    `--container-image=${registry.host}/secret/app:${tags.app}`,
    `--registry-secret=${registry.host}=${SECRET}`,
  ];

  it('--dry-run shows the secret name in the script metadata and reads nothing', async () => {
    const r = await runCli([...args(join(dir, 'dry.tar.gz')), '--dry-run'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${registry.host}=${SECRET}/versions/latest`);
    expect(emu.requests).toEqual([]);
  });

  it('the script reads the secret with the caller token and pulls with it', { timeout: 180_000 }, async () => {
    const r = await runCli(args(join(dir, 'disk.tar.gz')), { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`with the credentials of secret ${SECRET}/versions/latest`);
    const reads = emu.requests.filter((q) => q.call === 'secretmanager.versions.access');
    expect(reads.map((q) => q.authorization)).toEqual([`Bearer ${TOKEN}`]);
    for (const f of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) expect(r.stdout + r.stderr).not.toContain(f);
  });

  it('pulls from a token-auth registry, exchanging the secret for bearer tokens the pull outlasts', { timeout: 180_000 }, async () => {
    const out = join(dir, 'hub.tar.gz');
    const r = await runCli(
      [
        '--local',
        `--output=${out}`,
        '--disk-size-gb=10',
        `--container-image=${relay.host}/hub/app:${tags.app}`,
        `--registry-secret=${relay.host}=${HUB_SECRET}`,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`with the credentials of secret ${HUB_SECRET}/versions/latest`);
    // Each blob reached the registry only once its token had run out: refused, and fetched with a fresh one.
    expect(relay.heldBack).toBeGreaterThanOrEqual(1);
    expect(tokenService.issued.filter((t) => t.scopes.includes('repository:hub/app:pull')).length).toBeGreaterThanOrEqual(2);
    expect(tokenService.refused).toBe(0);
    const forms = [HUB_PASSWORD, Buffer.from(`${HUB_USER}:${HUB_PASSWORD}`).toString('base64'), ...tokenService.issued.map((t) => t.token)];
    for (const f of forms) expect(r.stdout + r.stderr).not.toContain(f);
  });
});
