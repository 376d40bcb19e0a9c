// build.sh's registry secret functions, run by bash on any machine (no root, no rig): the parser against the fixtures
// the CLI's parser is held to, and the scrubbing of a password and its base64 forms from what is shown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../rig/proc.js';
import { SECRET_CASES } from '../fixtures/registry-secrets.js';

const scripts = fileURLToPath(new URL('../../src/startup-script/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gdib-secret-fn-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FUNCTIONS = ['scrub_credentials', 'redact', 'redact_stream', 'check_credentials', 'parse_registry_secret'];

/** Runs `snippet` after loading common.sh and build.sh's secret functions; the secret arrives on stdin, never argv. */
async function bash(snippet: string, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const extract = FUNCTIONS.map((f) => `source <(sed -n '/^${f}() {/,/^}/p' "$SCRIPTS/build.sh")`).join('\n');
  // The jq program is a readonly variable, not a function: take its assignment.
  const jq = `source <(sed -n "/^readonly DOCKER_CONFIG_JQ='/,/^    end'\\$/p" "$SCRIPTS/build.sh")`;
  const program = `set -euo pipefail\nsource "$SCRIPTS/common.sh"\n${jq}\n${extract}\nPULL_TOKEN=""\nPULL_SECRET_FORMS=()\n${snippet}`;
  return run('bash', ['-c', program, 'test', ...args], {
    env: { PATH: process.env.PATH, SCRIPTS: scripts, GDIB_WORK_DIR: work },
    input,
    allowFailure: true,
  });
}

describe('parse_registry_secret', () => {
  it.each(SECRET_CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const res = await bash(
      `secret=$(cat; printf x); secret=\${secret%x}
       if parse_registry_secret "$1" "$secret"; then printf 'ok\\n%s\\n%s' "$(printf '%s' "$PULL_USER" | base64 -w0)" "$(printf '%s' "$PULL_PASSWORD" | base64 -w0)"
       else printf 'error\\n%s' "$PARSE_SECRET_ERROR"; fi`,
      [c.host],
      c.secret,
    );
    expect(res.code, res.stderr).toBe(0);
    const [status, a = '', b = ''] = res.stdout.split('\n');
    if (c.expect) {
      expect(status).toBe('ok');
      expect({ username: Buffer.from(a, 'base64').toString(), password: Buffer.from(b, 'base64').toString() }).toEqual(c.expect);
    } else {
      expect(status).toBe('error');
      expect(res.stdout).toContain(c.error);
    }
  });
});

describe('scrubbing the credentials', () => {
  const user = 'robot';
  const password = 'Pa55-w0rd:with"quotes';
  const forms = [password, Buffer.from(`${user}:${password}`).toString('base64'), Buffer.from(password).toString('base64')];
  const text = `failed: ${forms[0]} / Basic ${forms[1]} / ${forms[2]} end`;

  const setup = `IFS= read -r line; PULL_USER=robot; PULL_PASSWORD=$line
    PULL_SECRET_FORMS=("$PULL_PASSWORD" "$(printf '%s' "$PULL_USER:$PULL_PASSWORD" | base64 -w0)" "$(printf '%s' "$PULL_PASSWORD" | base64 -w0)")`;

  it('redact removes the password and its base64 forms from a line', async () => {
    const res = await bash(`${setup}\nredact "$1"`, [text], `${password}\n`);
    expect(res.code, res.stderr).toBe(0);
    for (const f of forms) expect(res.stdout).not.toContain(f);
    expect(res.stdout).toBe('failed: [redacted] / Basic [redacted] / [redacted] end');
  });

  it('redact_stream removes them from every line of a stream', async () => {
    const res = await bash(`${setup}\nprintf '%s\\n%s\\n' "$1" "plain line" | redact_stream`, [text], `${password}\n`);
    expect(res.code, res.stderr).toBe(0);
    for (const f of forms) expect(res.stdout).not.toContain(f);
    expect(res.stdout).toBe('failed: [redacted] / Basic [redacted] / [redacted] end\nplain line\n');
  });
});
