// --deprecate-after, --obsolete-after, --delete-after: the new image gets its deprecation times right after it is
// created (images.deprecate, state ACTIVE), so it stays the family's image; a failure to set them keeps the image.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASE_ARGS, expectNothingLeft, useEmulator, VERIFY_ARGS } from './harness.js';

const build = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];
const DAY = 86_400_000;

describe('image lifetime at build time', () => {
  const h = useEmulator();

  it('records the three times after creation, counted from then; the image stays ACTIVE and in its family', async () => {
    const before = Date.now();
    const r = await h.cli(
      build('img-life', '--image-family-name=cache', '--deprecate-after=30d', '--obsolete-after=1d12h', '--delete-after=90d'),
    );
    // 1d12h is shorter than 30d: refused before anything.
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --obsolete-after: must not be shorter than --deprecate-after (30d > 1d12h)');
    expect(h.emu.requests).toEqual([]);

    const ok = await h.cli(
      build('img-life', '--image-family-name=cache', '--deprecate-after=30d', '--obsolete-after=60d', '--delete-after=2160h', '--json'),
    );
    const after = Date.now();
    expect(ok.code).toBe(0);
    const calls = h.emu.requests.map((q) => q.call);
    expect(calls.indexOf('images.deprecate')).toBeGreaterThan(calls.indexOf('images.insert'));
    const image = h.emu.state.images.get('test-project/img-life')!;
    expect(image.deprecated?.state).toBe('ACTIVE');
    for (const [field, days] of [
      ['deprecated', 30],
      ['obsolete', 60],
      ['deleted', 90],
    ] as const) {
      const t = Date.parse(image.deprecated![field]!);
      expect(t).toBeGreaterThanOrEqual(before + days * DAY);
      expect(t).toBeLessThanOrEqual(after + days * DAY);
    }
    const result = JSON.parse(ok.stdout.trim().split('\n').at(-1)!).result;
    expect(result).toMatchObject({ state: 'succeeded', lifetime: { state: 'ACTIVE', deprecated: image.deprecated!.deprecated } });
    // Still the family's image: ACTIVE, whatever times it carries.
    const family = h.emu.requests.length;
    const res = await fetch(`${h.emu.computeEndpoint}projects/test-project/global/images/family/cache`, {
      headers: { authorization: `Bearer ${h.env.CLOUDSDK_AUTH_ACCESS_TOKEN}` },
    });
    expect(((await res.json()) as { name: string }).name).toBe('img-life');
    expect(h.emu.requests.length).toBe(family + 1);
    expectNothingLeft(h.emu);
  });

  it('without the flags no images.deprecate is sent; one flag sends only its time', async () => {
    const plain = await h.cli(build('img-plain'));
    expect(plain.code).toBe(0);
    expect(h.emu.requests.some((q) => q.call === 'images.deprecate')).toBe(false);
    // The next steps name the prune command for the image's family.
    expect(plain.stderr).toContain(
      'gke-disk-image-builder prune --project-name=test-project --image-family-name=secondary-disk-image --dry-run',
    );
    expect((await h.cli(build('img-one', '--delete-after=45d'))).code).toBe(0);
    const body = h.emu.requests.find((q) => q.call === 'images.deprecate')!.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['deleted', 'state']);
    expect(body.state).toBe('ACTIVE');
  });

  it('from a config file too; verify refuses the flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-life-'));
    writeFileSync(join(dir, 'b.yaml'), 'deprecate-after: 7d\n');
    expect((await h.cli(build('img-conf', '--config', join(dir, 'b.yaml')))).code).toBe(0);
    expect(h.emu.state.images.get('test-project/img-conf')?.deprecated?.deprecated).toBeDefined();
    const v = await h.cli(['verify', ...VERIFY_ARGS, '--image-name=img-conf', '--delete-after=1d']);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('error: --delete-after does not apply to verify (only to build and build --local)');
  });

  it('bad values name the flag and what is expected, exit 2, no cloud call', async () => {
    for (const [flag, value] of [
      ['--deprecate-after', '0'],
      ['--obsolete-after', '-3d'],
      ['--delete-after', 'soon'],
      ['--delete-after', '1d-2h'],
    ]) {
      const r = await h.cli(build('img-bad', `${flag}=${value}`));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`error: ${flag}: expected a positive duration such as 30d`);
    }
    expect(h.emu.requests).toEqual([]);
  });

  it('a failure to record them keeps the image, says how to do it by hand, exits 1', async () => {
    h.emu.faults.add({ match: { call: 'images.deprecate' }, times: 10, action: { status: 403, reason: 'forbidden', message: 'no' } });
    const r = await h.cli(build('img-fail', '--deprecate-after=30d'));
    expect(r.code).toBe(1);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-fail']);
    expect(h.emu.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(r.stderr).toContain('could not record the deprecation times on image img-fail');
    expect(r.stderr).toMatch(/gcloud compute images deprecate img-fail --project test-project --state=ACTIVE --deprecate-on=\S+Z/);
    expect(r.stderr).toContain('The image was created and is kept (it was not deleted): projects/test-project/global/images/img-fail');
    expectNothingLeft(h.emu);
  });

  it('--dry-run shows the images.deprecate body and sends nothing', async () => {
    const r = await h.cli(build('img-dry', '--dry-run', '--deprecate-after=30d'));
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Array<{ kind: string; call?: string; body: Record<string, unknown> }>;
    const dep = plan.find((p) => p.call === 'images.deprecate');
    expect(dep).toMatchObject({ kind: 'image', name: 'img-dry', body: { state: 'ACTIVE', deprecated: expect.any(String) } });
    expect(h.emu.requests.some((q) => q.method !== 'GET')).toBe(false);
  });
});
