// Least privilege: the VM's service account gets the fewest scopes its script needs (none, and no service account,
// when it sends no token); --dry-run says which and why; ServiceAccountToken with a registry that is not Google's
// warns, naming the hosts that will receive the token, in --json too.
import { describe, expect, it } from 'vitest';
import { BASE_ARGS, bodyOf, useEmulator } from './harness.js';

const GAR = `us-docker.pkg.dev/p/r/app@sha256:${'a'.repeat(64)}`;

describe('the VM gets only the scopes it needs', () => {
  const h = useEmulator();

  it.each([
    ['None: no token, no service account', ['--container-image=nginx:1'], undefined, /no service account: the VM sends no token/],
    [
      'Auto with only non-Google registries: no token',
      ['--container-image=nginx:1', '--image-pull-auth=Auto'],
      undefined,
      /no service account/,
    ],
    [
      'Auto with a Google registry: read-only storage',
      ['--container-image=nginx:1', `--container-image=${GAR}`, '--image-pull-auth=Auto'],
      [{ email: 'default', scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] }],
      /devstorage\.read_only: the VM pulls with its token from us-docker\.pkg\.dev/,
    ],
    [
      'ServiceAccountToken: read-only storage',
      [`--container-image=${GAR}`, '--image-pull-auth=ServiceAccountToken'],
      [{ email: 'default', scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] }],
      /devstorage\.read_only/,
    ],
  ])('%s', async (_, args, serviceAccounts, why) => {
    const dry = await h.cli([...BASE_ARGS, '--image-name=img-lp', ...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(why);
    const planned = JSON.parse(dry.stdout) as Array<{ kind: string; body: { serviceAccounts?: unknown } }>;
    expect(planned.find((r) => r.kind === 'vm')!.body.serviceAccounts).toEqual(serviceAccounts);
    const r = await h.cli([...BASE_ARGS, '--image-name=img-lp', ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(bodyOf(h.emu, 'POST', /\/instances$/).serviceAccounts).toEqual(serviceAccounts);
  });
});

describe('ServiceAccountToken with a registry that is not Google’s', () => {
  const h = useEmulator();

  it('warns, naming the hosts that receive the token, on stderr and in --json', async () => {
    const args = [
      ...BASE_ARGS,
      '--image-name=img-lp',
      '--container-image=ghcr.io/o/app:1',
      '--container-image=registry.example.com:5000/x:2',
      `--container-image=${GAR}`,
      '--image-pull-auth=ServiceAccountToken',
      '--dry-run',
    ];
    const r = await h.cli(args);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: --image-pull-auth=ServiceAccountToken sends a Google access token to ghcr\.io, registry\.example\.com:5000, which are not Google registries/,
    );
    expect(r.stderr).not.toMatch(/token to [^\n]*us-docker\.pkg\.dev/);
    const json = await h.cli([...args, '--json']);
    const warnings = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; message?: string })
      .filter((e) => e.type === 'warning');
    expect(warnings.some((w) => /ghcr\.io, registry\.example\.com:5000/.test(w.message ?? ''))).toBe(true);
  });

  it('Auto sends it to Google registries only: no warning', async () => {
    const r = await h.cli([
      ...BASE_ARGS,
      '--image-name=img-lp',
      '--container-image=ghcr.io/o/app:1',
      '--image-pull-auth=Auto',
      '--dry-run',
    ]);
    expect(r.stderr).not.toMatch(/sends a Google access token/);
  });
});
