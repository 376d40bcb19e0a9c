// Preflight's registry secrets on the fake cloud: the note of what the VM's service account needs, a secret no image
// uses, and a secret's problem standing alone for its images (they are not resolved without their credentials).
import { describe, expect, it } from 'vitest';
import type { BuildEvent } from '../../src/builder/events.js';
import { buildFlags, parseConfig } from '../helpers/plan.js';
import { FakeCloud, runOnFakeCloud } from '../helpers/fake-cloud.js';
import type { RawFlags } from '../../src/config/flag.js';

const SECRET = 'projects/test-project/secrets/ghcr';

async function dryRun(cloud: FakeCloud, extra: RawFlags) {
  const events: BuildEvent[] = [];
  const config = parseConfig(buildFlags({ 'dry-run': 'true', 'container-image': ['ghcr.io/org/app:1'], ...extra }), {});
  const { error } = await runOnFakeCloud(cloud, config.plan, (e) => void events.push(e));
  const said = (type: string) => events.flatMap((e) => (e.type === type && 'message' in e ? [e.message] : []));
  return { error, notes: said('note'), warnings: said('warning') };
}

describe('preflight of --registry-secret', () => {
  it("notes the grant the VM's service account needs, with the exact command", async () => {
    const cloud = new FakeCloud();
    cloud.secrets.set(`${SECRET}/versions/latest`, 'bot:password-123');
    const r = await dryRun(cloud, {
      'registry-secret': [`ghcr.io=${SECRET}`],
      'service-account': 'builder@test-project.iam.gserviceaccount.com',
    });
    expect(r.error).toBeUndefined();
    expect(r.notes).toContain(
      `the VM reads secret ${SECRET}/versions/latest with its service account (builder@test-project.iam.gserviceaccount.com), which needs roles/secretmanager.secretAccessor on the secret: gcloud secrets add-iam-policy-binding ghcr --project=test-project --member=serviceAccount:builder@test-project.iam.gserviceaccount.com --role=roles/secretmanager.secretAccessor`,
    );
  });

  it('warns about a secret for a host no image is on', async () => {
    const cloud = new FakeCloud();
    cloud.secrets.set(`${SECRET}/versions/latest`, 'bot:password-123');
    const r = await dryRun(cloud, { 'registry-secret': [`quay.io=${SECRET}`] });
    expect(r.error).toBeUndefined();
    expect(r.warnings).toContain('--registry-secret quay.io: no --container-image is on quay.io, so the secret is not used');
  });

  it("reports a secret's problem alone: its images are not resolved without their credentials", async () => {
    const cloud = new FakeCloud();
    cloud.secrets.set(`${SECRET}/versions/latest`, 'no-colon-here');
    const resolved: string[] = [];
    const { manifest } = cloud.registry;
    cloud.registry = { ...cloud.registry, manifest: (ref, reference, s) => (resolved.push(ref.registry), manifest(ref, reference, s)) };
    const r = await dryRun(cloud, { 'registry-secret': [`ghcr.io=${SECRET}`], 'container-image': ['ghcr.io/org/app:1', 'nginx:1'] });
    expect(r.error?.message).toBe(
      `secret ${SECRET}/versions/latest holds no credentials for ghcr.io (--registry-secret ghcr.io): expected USERNAME:PASSWORD (no ":" found), or a Docker config.json`,
    );
    expect(resolved).toEqual(['docker.io']);
  });
});
