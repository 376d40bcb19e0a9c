// The VM's side of --registry-secret, for real: the build script reads the secret from the emulator's Secret Manager
// (GDIB_SECRETMANAGER_ENDPOINT) with a token from the fake metadata server, and pulls from a password-protected local
// registry with it. The password must appear nowhere: output, status lines, guest attributes, work files, the disk.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { LoopDisk } from '../rig/disk.js';
import { tags } from '../rig/images.js';
import { filesContaining } from '../rig/inspect.js';
import { randomToken } from '../rig/metadata-server.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig, hostsToml, startRig, type Rig } from '../rig/rig.js';
import { runVmScript, type ScriptRun } from '../rig/run-script.js';
import type { ImagePullAuth } from '../../src/startup-script/render.js';

const USER = 'robot';
const PASSWORD = `pw-${randomToken().slice(-20)}`;
const SECRET = 'projects/test-project/secrets/registry';
const REPO = 'secret/app';

describeRig('registry secrets on the VM', () => {
  let rig: Rig;
  let registry: Registry;
  let emu: Emulator;
  const disks: LoopDisk[] = [];

  beforeAll(async () => {
    rig = await startRig('secret');
    registry = await startRegistry(join(rig.dir, 'registry-password'), { withToken: PASSWORD, user: USER });
    await registry.push(rig.layoutDir, tags.app, REPO);
    hostsToml(rig.hostsDir, registry.host, registry.host);
    emu = await startEmulator();
  });

  afterAll(async () => {
    for (const d of disks) await d.detach();
    await registry?.stop();
    await emu?.close();
    await rig?.close();
  });

  async function build(name: string, secretVersion: string, auth: ImagePullAuth = 'None'): Promise<{ res: ScriptRun; disk: LoopDisk }> {
    const disk = await LoopDisk.create(join(rig.dir, `${name}.img`), 64);
    disks.push(disk);
    const res = await runVmScript({
      input: {
        mode: 'build',
        runId: 'secret01',
        containerImages: [`${registry.host}/${REPO}:${tags.app}`],
        imagePullAuth: auth,
        storeChecksums: false,
        platform: 'linux/amd64',
        registrySecrets: [{ host: registry.host, secretVersion }],
      },
      device: disk.device,
      dir: rig.runDir(name),
      hostsDir: rig.hostsDir,
      env: { GDIB_SECRETMANAGER_ENDPOINT: emu.storageHost },
      // The VM's service account: each token it hands out is one the emulator accepts.
      metadata: {
        issueToken: () => {
          const token = randomToken();
          emu.acceptToken(token);
          return token;
        },
      },
    });
    return { res, disk };
  }

  /** The password, and the base64 of USER:PASSWORD a Basic header would carry, are nowhere. */
  function expectNoPassword(res: ScriptRun, disk: LoopDisk): void {
    const forms = [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(PASSWORD).toString('base64')];
    for (const f of forms) {
      expect(res.stdout).not.toContain(f);
      expect(res.stderr).not.toContain(f);
      for (const a of res.metadata.attributeLog) expect(a.value).not.toContain(f);
    }
    expect(filesContaining(res.workDir, forms)).toEqual([]);
    const raw = readFileSync(disk.file);
    for (const f of forms) expect(raw.includes(f)).toBe(false);
  }

  const accessCalls = () => emu.requests.filter((r) => r.call === 'secretmanager.versions.access');

  describe('USERNAME:PASSWORD, with ServiceAccountToken for the other hosts', () => {
    let res: ScriptRun;
    let disk: LoopDisk;
    beforeAll(async () => {
      emu.secrets.add(SECRET, `${USER}:${PASSWORD}\n`);
      ({ res, disk } = await build('user-password', `${SECRET}/versions/latest`, 'ServiceAccountToken'));
    });

    it('reads the secret with the VM token and pulls with its credentials, whatever --image-pull-auth says', () => {
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.metadata.guestAttributes.get('gdib/state')).toBe('succeeded');
      expect(res.stdout).toContain(`with the credentials of secret ${SECRET}/versions/latest`);
      const calls = accessCalls();
      expect(calls.length).toBeGreaterThan(0);
      // Read with the token the metadata server handed out.
      expect(res.metadata.tokens.map((t) => `Bearer ${t}`)).toContain(calls.at(-1)!.authorization);
    });

    it('never writes the password anywhere', async () => {
      expectNoPassword(res, disk);
      await disk.detach();
    });
  });

  it('reads a Docker config.json secret, at a given version', async () => {
    const version = emu.secrets.add(
      SECRET,
      JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }),
    );
    const { res, disk } = await build('config-json', `${SECRET}/versions/${version}`);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expectNoPassword(res, disk);
  });

  it("a wrong password fails the pull, names the secret, and scrubs it from containerd's output", async () => {
    const version = emu.secrets.add(SECRET, `${USER}:wrong-${PASSWORD}`);
    const { res, disk } = await build('wrong', `${SECRET}/versions/${version}`);
    expect(res.code).not.toBe(0);
    expect(res.metadata.guestAttributes.get('gdib/state')).toBe('failed');
    expect(res.metadata.guestAttributes.get('gdib/error')).toMatch(
      new RegExp(`registry refused .* with the credentials of secret ${SECRET}/versions/${version}`),
    );
    expectNoPassword(res, disk);
    for (const f of [`wrong-${PASSWORD}`, Buffer.from(`${USER}:wrong-${PASSWORD}`).toString('base64')]) {
      expect(res.stdout + res.stderr).not.toContain(f);
      expect(filesContaining(res.workDir, [f])).toEqual([]);
    }
  });

  it('a secret the VM may not read fails with the role it needs', async () => {
    const denied = 'projects/test-project/secrets/denied';
    emu.secrets.add(denied, `${USER}:${PASSWORD}`);
    emu.secrets.deny(denied);
    const { res } = await build('denied', `${denied}/versions/latest`);
    expect(res.code).not.toBe(0);
    expect(res.metadata.guestAttributes.get('gdib/error')).toBe(
      `the VM's service account may not read secret ${denied}/versions/latest (HTTP 403): grant it roles/secretmanager.secretAccessor on the secret`,
    );
  });

  it('a secret in neither format fails without quoting it', async () => {
    const bad = 'projects/test-project/secrets/bad';
    emu.secrets.add(bad, `just-a-token-${PASSWORD}`);
    const { res } = await build('bad-format', `${bad}/versions/latest`);
    expect(res.code).not.toBe(0);
    const error = res.metadata.guestAttributes.get('gdib/error')!;
    expect(error).toContain(`secret ${bad}/versions/latest holds no credentials for ${registry.host}: expected USERNAME:PASSWORD`);
    expect(res.stdout + res.stderr).not.toContain(PASSWORD);
  });
});
