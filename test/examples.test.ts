// The Cloud Build and GitLab CI examples (examples/): valid YAML, each running the tool from npm — the version of
// this package, pinned — in the official Node image with the build the README describes, and the README shows each
// file exactly as it is kept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const readme = readFileSync('README.md', 'utf8');
const SUPPORTED_NODE = /^node:(22|24)$/;

/** The YAML block that follows `<!-- example: FILE -->` in the README. */
function shownInReadme(file: string): string | undefined {
  const at = readme.indexOf(`<!-- example: ${file} -->\n\`\`\`yaml\n`);
  if (at < 0) return undefined;
  const start = readme.indexOf('\n', readme.indexOf('```yaml', at)) + 1;
  return readme.slice(start, readme.indexOf('\n```', start) + 1);
}

describe('CI examples', () => {
  it.each(['examples/cloudbuild.yaml', 'examples/gitlab-ci.yml'])('the README shows %s as it is', (file) => {
    expect(shownInReadme(file)).toBe(readFileSync(file, 'utf8'));
  });

  it('Cloud Build: one step, npx of this version in the official Node image, a build from build.yaml as a service account', () => {
    const cb = parse(readFileSync('examples/cloudbuild.yaml', 'utf8')) as {
      steps: Array<{ name: string; entrypoint: string; args: string[] }>;
      substitutions: Record<string, string>;
      serviceAccount: string;
    };
    expect(cb.steps).toHaveLength(1);
    const [step] = cb.steps;
    expect(step!.name).toMatch(SUPPORTED_NODE);
    expect(step!.entrypoint).toBe('npx');
    expect(step!.args.slice(0, 4)).toEqual(['--yes', 'gke-disk-image-builder@${_GDIB_VERSION}', 'build', '--config=build.yaml']);
    expect(step!.args).toContain('--json');
    expect(cb.substitutions._GDIB_VERSION).toBe(version);
    // Cloud Build's user-defined substitutions start with an underscore; the built-in ones used are PROJECT_ID, SHORT_SHA.
    for (const v of JSON.stringify(cb).matchAll(/\$\{(\w+)\}/g)) expect(v[1]).toMatch(/^(_[A-Z0-9_]+|PROJECT_ID|SHORT_SHA)$/);
    expect(cb.serviceAccount).toMatch(/^projects\/\$\{PROJECT_ID\}\/serviceAccounts\/[a-z0-9-]+@/);
  });

  it('GitLab CI: a tag job, npx of this version in the official Node image, credentials from Workload Identity Federation', () => {
    const gl = parse(readFileSync('examples/gitlab-ci.yml', 'utf8')) as Record<
      string,
      {
        image: string;
        rules: Array<{ if: string }>;
        id_tokens: Record<string, { aud: string }>;
        variables: Record<string, string>;
        script: string[];
      }
    >;
    const job = gl['bake-image-cache']!;
    expect(job.image).toMatch(SUPPORTED_NODE);
    expect(job.rules).toEqual([{ if: '$CI_COMMIT_TAG' }]);
    expect(job.variables.GDIB_VERSION).toBe(version);
    const aud = job.id_tokens.GOOGLE_OIDC_TOKEN!.aud;
    expect(aud).toBe(`https://iam.googleapis.com/${job.variables.WIF_PROVIDER}`);
    const run = job.script.find((l) => l.startsWith('npx '));
    expect(run).toBe(
      'npx --yes "gke-disk-image-builder@$GDIB_VERSION" build --config=build.yaml --image-name="ml-cache-$CI_COMMIT_REF_SLUG" --json > result.jsonl',
    );
    expect(job.script).toContain('export GOOGLE_APPLICATION_CREDENTIALS="$CI_PROJECT_DIR/.gcp-credentials.json"');
    expect(job.script.join('\n')).toContain('"external_account"');
    expect(JSON.stringify(job)).not.toMatch(/private_key|GOOGLE_CREDENTIALS_JSON/);
  });
});
