// --registry-secret: what the flag accepts, what it becomes in the plan, and the one-line problems (exit 2) otherwise.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../helpers/plan.js';
import { runCli } from '../helpers/cli.js';
import { UsageError } from '../../src/errors.js';
import type { RawFlags } from '../../src/config/flag.js';
import { registrySecret } from '../../src/config/rules.js';

const base: RawFlags = {
  'project-name': 'my-project',
  zone: 'us-central1-a',
  'image-name': 'my-image',
  'gcs-path': 'gs://my-bucket/logs',
  'container-image': ['ghcr.io/org/app:1'],
};

function problems(flags: RawFlags): string[] {
  try {
    parseConfig(flags, {});
    return [];
  } catch (err) {
    if (err instanceof UsageError) return [...err.problems];
    throw err;
  }
}

describe('registrySecret', () => {
  it.each([
    ['ghcr.io=projects/p/secrets/ghcr', 'ghcr.io', 'projects/p/secrets/ghcr/versions/latest'],
    ['docker.io=projects/my-project/secrets/hub/versions/3', 'docker.io', 'projects/my-project/secrets/hub/versions/3'],
    [
      'registry.example.com:5000=projects/123456/secrets/a_B-9/versions/latest',
      'registry.example.com:5000',
      'projects/123456/secrets/a_B-9/versions/latest',
    ],
    ['localhost:5000=projects/p/secrets/s', 'localhost:5000', 'projects/p/secrets/s/versions/latest'],
    ['10.0.0.7:443=projects/p/secrets/s', '10.0.0.7:443', 'projects/p/secrets/s/versions/latest'],
  ])('%s', (text, host, secretVersion) => {
    expect(registrySecret(text)).toEqual({ host, secretVersion });
  });

  it.each([
    ['ghcr.io', 'is not HOST=projects/PROJECT/secrets/NAME'],
    ['=projects/p/secrets/s', 'is not a registry host'],
    ['https://ghcr.io=projects/p/secrets/s', 'is not a registry host'],
    ['ghcr.io/org=projects/p/secrets/s', 'is not a registry host'],
    ['GHCR.io=projects/p/secrets/s', 'is not a registry host'],
    ['ghcr.io=ghcr-secret', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/s/versions/', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/s/versions/0', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/s/versions/newest', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/s.t', 'is not a secret'],
    ['ghcr.io=projects/p/secrets/s:access', 'is not a secret'],
  ])('%s is refused', (text, problem) => {
    expect(registrySecret(text)).toContain(problem);
  });
});

describe('--registry-secret in the plan', () => {
  it('is none by default', () => {
    expect(parseConfig(base, {}).registrySecrets).toEqual([]);
  });

  it('is repeatable, one secret per host, the version latest unless given', () => {
    const c = parseConfig(
      {
        ...base,
        'registry-secret': [
          'ghcr.io=projects/p/secrets/a',
          'quay.io=projects/p/secrets/b/versions/2',
          'ghcr.io=projects/p/secrets/a/versions/latest',
        ],
      },
      {},
    );
    expect(c.registrySecrets).toEqual([
      { host: 'ghcr.io', secretVersion: 'projects/p/secrets/a/versions/latest' },
      { host: 'quay.io', secretVersion: 'projects/p/secrets/b/versions/2' },
    ]);
  });

  it('is also taken by --local builds', () => {
    const c = parseConfig({ ...base, local: 'true', zone: undefined, 'registry-secret': ['ghcr.io=projects/p/secrets/a'] }, {});
    expect(c.kind).toBe('local-build');
    expect(c.registrySecrets).toEqual([{ host: 'ghcr.io', secretVersion: 'projects/p/secrets/a/versions/latest' }]);
  });

  it('refuses two secrets for one host', () => {
    expect(problems({ ...base, 'registry-secret': ['ghcr.io=projects/p/secrets/a', 'ghcr.io=projects/p/secrets/b'] })).toEqual([
      '--registry-secret: host ghcr.io is given twice (projects/p/secrets/a/versions/latest and projects/p/secrets/b/versions/latest); give one secret per host',
    ]);
  });

  it('names the flag for a malformed value', () => {
    expect(problems({ ...base, 'registry-secret': ['ghcr.io'] })).toEqual([
      '--registry-secret: "ghcr.io" is not HOST=projects/PROJECT/secrets/NAME[/versions/VERSION]',
    ]);
  });

  it('is refused by verify, which pulls nothing', () => {
    expect(problems({ ...base, 'verify-only': 'true', 'registry-secret': ['ghcr.io=projects/p/secrets/a'] })).toEqual([
      '--registry-secret does not apply to verify (only to build and build --local)',
    ]);
  });
});

describe('the CLI', () => {
  it('exits 2 with one line naming the flag, before any credentials are looked for', async () => {
    const r = await runCli(
      [
        '--project-name=my-project',
        '--zone=us-central1-a',
        '--image-name=x',
        '--gcs-path=gs://b/l',
        '--container-image=ghcr.io/a/b:1',
        '--registry-secret=ghcr.io=oops',
      ],
      { env: {} },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--registry-secret: "oops" is not a secret');
  });
});
