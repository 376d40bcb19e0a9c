// --registry-secret from the caller's machine, against the emulator's Secret Manager and a password-protected local
// registry: preflight reads the secret and resolves the image with it, so a wrong password, a missing or unreadable
// secret stops the build before anything is created; --dry-run shows the secret's name in the metadata, never its value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OciLayout, type Layer } from '../rig/oci.js';
import { randomToken } from '../rig/metadata-server.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig } from '../rig/rig.js';
import { expectNothingLeft, useEmulator } from './harness.js';

const ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--disk-size-gb=10'];
const MUTATING = /^(disks|instances|images)\.(insert|delete|detachDisk)$/;
const USER = 'robot';
const PASSWORD = `pw-${randomToken().slice(-20)}`;
const SECRET = 'projects/test-project/secrets/registry';
const file = (path: string, text: string): Layer => ({ entries: [{ type: 'file', path, mode: 0o644, content: Buffer.from(text) }] });

describeRig('--registry-secret', () => {
  let dir: string;
  let registry: Registry;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-regsecret-'));
    registry = await startRegistry(join(dir, 'registry'), { withToken: PASSWORD, user: USER });
    const layout = new OciLayout(join(dir, 'layout'));
    layout.addImage('v1', { layers: [file('a.txt', 'private')] });
    layout.close();
    await registry.push(join(dir, 'layout'), 'v1', 'private/app');
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const h = useEmulator();
  const image = () => `--container-image=${registry.host}/private/app:v1`;
  const secretFlag = (path = SECRET) => `--registry-secret=${registry.host}=${path}`;
  const cli = (args: string[]) => h.cli(args, { env: { CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: h.emu.storageHost } });
  const mutations = () => h.emu.requests.filter((q) => MUTATING.test(q.call));
  const expectNoPassword = (out: string) => {
    for (const f of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) expect(out).not.toContain(f);
  };

  it('--dry-run: reads the secret, resolves the image with it, shows the name in the metadata and the grant the VM needs', async () => {
    h.emu.secrets.add(SECRET, `${USER}:${PASSWORD}\n`);
    const r = await cli([...ARGS, '--image-name=private', '--dry-run', image(), secretFlag()]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.emu.requests.filter((q) => q.call === 'secretmanager.versions.access')).toHaveLength(1);
    // The plan's VM carries the secret's name as metadata; the digest the registry gave is known.
    expect(r.stdout).toContain(`"gdib-registry-secrets"`);
    expect(r.stdout).toContain(`${registry.host}=${SECRET}/versions/latest`);
    expect(r.stderr).toContain(
      `gcloud secrets add-iam-policy-binding registry --project=test-project --member="serviceAccount:$(gcloud projects describe test-project --format='value(projectNumber)')-compute@developer.gserviceaccount.com" --role=roles/secretmanager.secretAccessor`,
    );
    expectNoPassword(r.stdout + r.stderr);
    expect(mutations()).toEqual([]);
  });

  it('a build with the secret gets past preflight and creates the disk and VM', async () => {
    h.emu.secrets.add(SECRET, JSON.stringify({ auths: { [registry.host]: { username: USER, password: PASSWORD } } }));
    const r = await cli([
      ...ARGS,
      '--image-name=private',
      '--service-account=builder@test-project.iam.gserviceaccount.com',
      image(),
      secretFlag(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const insert = h.emu.requests.find((q) => q.call === 'instances.insert')!;
    const items = (insert.body as { metadata: { items: Array<{ key: string; value: string }> } }).metadata.items;
    expect(items.find((i) => i.key === 'gdib-registry-secrets')?.value).toBe(`${registry.host}=${SECRET}/versions/latest`);
    expectNoPassword(JSON.stringify(h.emu.requests.map((q) => q.body)) + r.stdout + r.stderr);
    expect(r.stderr).toContain('--member=serviceAccount:builder@test-project.iam.gserviceaccount.com');
    expectNothingLeft(h.emu);
  });

  it('a wrong password stops the build before anything is created', async () => {
    h.emu.secrets.add(SECRET, `${USER}:not-${PASSWORD}`);
    const r = await cli([...ARGS, '--image-name=private', image(), secretFlag()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${registry.host}/private/app:v1: ${registry.host} refused the user name and password of secret ${SECRET}/versions/latest (HTTP 401); check the user name and password in the secret (--registry-secret)`,
    );
    expect(r.stdout + r.stderr).not.toContain(`not-${PASSWORD}`);
    expect(mutations()).toEqual([]);
  });

  it('a missing secret, a missing version and a secret the caller may not read are each one clear problem', async () => {
    h.emu.secrets.add(SECRET, `${USER}:${PASSWORD}`);
    const denied = 'projects/test-project/secrets/denied';
    h.emu.secrets.add(denied, `${USER}:${PASSWORD}`);
    h.emu.secrets.deny(denied);
    const other = (host: string, path: string) => `--registry-secret=${host}=${path}`;
    const r = await cli([
      ...ARGS,
      '--image-name=private',
      image(),
      '--container-image=ghcr.io/a/b:1',
      '--container-image=quay.io/a/b:1',
      other(registry.host, 'projects/test-project/secrets/nope'),
      other('ghcr.io', `${SECRET}/versions/7`),
      other('quay.io', denied),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `secret projects/test-project/secrets/nope does not exist, or you may not see it (--registry-secret ${registry.host})`,
    );
    expect(r.stderr).toContain(`secret ${SECRET} has no version 7 (--registry-secret ghcr.io)`);
    expect(r.stderr).toContain(
      `you may not read secret ${denied}/versions/latest, or it does not exist (--registry-secret quay.io): reading it needs roles/secretmanager.secretAccessor on the secret`,
    );
    // The images behind those secrets are not resolved (their problem is the secret's).
    expect(r.stderr).not.toMatch(/ghcr\.io\/a\/b:1|quay\.io\/a\/b:1/);
    expect(mutations()).toEqual([]);
  });

  it('a secret in neither format is one problem that does not quote it', async () => {
    h.emu.secrets.add(SECRET, `token-only-${PASSWORD}`);
    const r = await cli([...ARGS, '--image-name=private', image(), secretFlag()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `secret ${SECRET}/versions/latest holds no credentials for ${registry.host} (--registry-secret ${registry.host}): expected USERNAME:PASSWORD`,
    );
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(mutations()).toEqual([]);
  });

  it('the config file takes registry-secret as a list', async () => {
    h.emu.secrets.add(SECRET, `${USER}:${PASSWORD}`);
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `registry-secret:\n  - ${registry.host}=${SECRET}\n`);
    const r = await cli([...ARGS, '--image-name=private', '--dry-run', image(), `--config=${config}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${registry.host}=${SECRET}/versions/latest`);
  });
});
