// The release workflow (.github/workflows/release.yml): on a version tag, the whole test suite — the README's test
// command, .ci/run — then npm publish of the very directory that was tested, with provenance, through trusted
// publishing: the publish job alone may ask for an OIDC token, and no npm token is used anywhere.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  permissions?: Record<string, string>;
  container?: { image: string };
  steps: Step[];
}
const text = readFileSync('.github/workflows/release.yml', 'utf8');
const wf = parse(text) as {
  on: { push: { tags: string[]; branches?: unknown } };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};

describe('release workflow', () => {
  it('runs on version tags only', () => {
    expect(Object.keys(wf.on)).toEqual(['push']);
    expect(wf.on.push.branches).toBeUndefined();
    expect(wf.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+*']);
  });

  it('runs the whole test suite as CI does, on the supported Node, and keeps what it built', () => {
    const test = wf.jobs.test!;
    expect(test.container?.image).toBe('node:24-bookworm');
    expect(test.steps.map((s) => s.run)).toContain('.ci/run');
    expect(readFileSync('.ci/run', 'utf8')).toContain('bash test/rig/install.sh && npm ci && npm test && bash .ci/unit-on-lts.sh');
    expect(test.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))?.with).toMatchObject({ path: 'pkg/' });
    expect(test.permissions).toBeUndefined(); // the default of the workflow: contents: read
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('publishes the tested directory with provenance, after the tests, with an OIDC token and no npm token', () => {
    const publish = wf.jobs.publish!;
    expect(publish.needs).toBe('test');
    expect(publish.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(publish.steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))?.with).toMatchObject({ path: 'pkg' });
    expect(publish.steps.filter((s) => s.run?.includes('npm publish')).map((s) => s.run)).toEqual([
      'npm publish ./pkg --provenance --access public',
    ]);
    // Nothing of the dependencies runs where the token can be asked for.
    expect(publish.steps.filter((s) => /npm (ci|install)|npm run|npm test/.test(s.run ?? ''))).toEqual([]);
    expect(text).not.toMatch(/NPM_TOKEN|NODE_AUTH_TOKEN|secrets\./);
  });
});
