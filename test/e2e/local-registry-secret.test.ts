// build --local with --registry-secret through the CLI: the very startup script reads the secret from the emulator's
// Secret Manager with the caller's own token (served by the local metadata server) and pulls from a password-protected
// registry; the password passes through no argument, environment or output of the CLI.
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

const TOKEN = 'ya29.local-secret-token-0123456789';
const USER = 'robot';
const PASSWORD = `pw-${randomToken().slice(-20)}`;
const SECRET = 'projects/test-project/secrets/registry';

describeRig('build --local --registry-secret', () => {
  let rig: Rig;
  let registry: Registry;
  let emu: Emulator;
  let dir: string;
  beforeAll(async () => {
    rig = await startRig('local-secret');
    registry = await startRegistry(join(rig.dir, 'registry-password'), { withToken: PASSWORD, user: USER });
    await registry.push(rig.layoutDir, tags.app, 'secret/app');
    hostsToml(rig.hostsDir, registry.host, registry.host);
    emu = await startEmulator({ acceptTokens: [TOKEN] });
    emu.secrets.add(SECRET, `${USER}:${PASSWORD}\n`);
    dir = mkdtempSync(join(tmpdir(), 'gdib-locsec-'));
  });
  afterAll(async () => {
    await emu?.close();
    await registry?.stop();
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
});
