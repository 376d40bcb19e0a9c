// The scripts' pure functions, run by bash on any machine (no root, no rig): the checksum against the
// Go tool's own pipeline and the TypeScript computation, reference normalisation, the Google-registry rule.
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goToolChecksum } from '../rig/checksum.js';
import { pseudoRandom } from '../rig/images.js';
import { chainIds } from '../rig/registry-client.js';
import { startMetadataServer } from '../rig/metadata-server.js';
import { run } from '../rig/proc.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const scripts = fileURLToPath(new URL('../../src/startup-script/', import.meta.url));

/** Runs `snippet` in bash after loading common.sh and the named functions of build.sh. */
async function bash(
  snippet: string,
  args: string[],
  workDir: string,
  functions: string[] = [],
  env: Record<string, string> = {},
): Promise<string> {
  const extract = functions.map((f) => `source <(sed -n '/^${f}() {/,/^}/p' "$SCRIPTS/build.sh")`).join('\n');
  const program = `set -euo pipefail\nsource "$SCRIPTS/common.sh"\n${extract}\n${snippet}`;
  const { stdout } = await run('bash', ['-c', program, 'test', ...args], {
    env: { PATH: process.env.PATH, SCRIPTS: scripts, GDIB_WORK_DIR: workDir, ...env },
  });
  return stdout;
}

describe('snapshot_checksum', () => {
  let dir: string;
  let tree: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-checksum-'));
    tree = join(dir, 'fs');
    mkdirSync(join(tree, 'a dir\\with backslash'), { recursive: true });
    mkdirSync(join(tree, 'deep/er/still'), { recursive: true });
    const files: Record<string, Buffer | string> = {
      'plain.txt': 'plain\n',
      empty: '',
      'with space': 'space\n',
      'back\\slash': 'backslash\n',
      'new\nline': 'newline\n',
      'a dir\\with backslash/inside': 'inside a dir with a backslash\n',
      'deep/er/still/big.bin': pseudoRandom(2_000_000, 3),
      ünïcødé: 'utf-8\n',
      'same-1': 'same content\n',
      'same-2': 'same content\n',
    };
    for (let i = 0; i < 300; i++) files[`deep/er/f${i}`] = `file ${i % 7}\n`;
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tree, name), content);
    linkSync(join(tree, 'plain.txt'), join(tree, 'hard-link'));
    symlinkSync('plain.txt', join(tree, 'symlink')); // not a regular file: not counted
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('equals the Go tool pipeline, run as the Go tool ran it', async () => {
    const goTool = await run('bash', [
      '-c',
      `find "$1" -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1`,
      'go-tool',
      tree,
    ]);
    const ours = await bash('snapshot_checksum "$1"', [tree], dir);
    expect(ours).toBe(goTool.stdout);
    expect(ours.trim()).toBe(goToolChecksum(tree));
  });

  it('prefixes names with a backslash or newline, but not a carriage return (coreutils 8.32 rule)', async () => {
    const cr = join(dir, 'cr');
    mkdirSync(cr);
    writeFileSync(join(cr, 'carriage\rreturn'), 'x\n');
    writeFileSync(join(cr, 'back\\slash'), 'y\n');
    const ours = (await bash('snapshot_checksum "$1"', [cr], dir)).trim();
    expect(ours).toBe(goToolChecksum(cr));
    // By hand: md5("<x>\n" sorted with "\<y>\n"), x unprefixed.
    const lines = [md5('x\n'), `\\${md5('y\n')}`].sort();
    expect(ours).toBe(md5(lines.map((l) => `${l}\n`).join('')));
  });

  it('of an empty directory is the md5 of nothing', async () => {
    const empty = join(dir, 'empty-dir');
    mkdirSync(empty);
    expect((await bash('snapshot_checksum "$1"', [empty], dir)).trim()).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('fails rather than guess when a file cannot be read', async () => {
    const res = await run('bash', ['-c', 'source "$SCRIPTS/common.sh"; snapshot_checksum /nonexistent-dir || echo failed'], {
      env: { PATH: process.env.PATH, SCRIPTS: scripts, GDIB_WORK_DIR: dir },
    });
    expect(res.stdout.trim()).toBe('failed');
  });
});

describe('build.sh helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-fn-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx:1', 'docker.io/library/nginx:1'],
    ['docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['localhost/app:1', 'localhost/app:1'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['gcr.io/p/app@sha256:' + 'a'.repeat(64), 'gcr.io/p/app@sha256:' + 'a'.repeat(64)],
    ['us-docker.pkg.dev/p/r/app:v1', 'us-docker.pkg.dev/p/r/app:v1'],
    ['127.0.0.1:5000/rig/img:app', '127.0.0.1:5000/rig/img:app'],
  ])('normalize_ref %s → %s', async (ref, want) => {
    expect(await bash('normalize_ref "$1"', [ref], dir, ['normalize_ref'])).toBe(want);
  });

  it.each([
    ['docker.io/library/nginx:latest', 'docker.io/library/nginx'],
    ['localhost:5000/app:1', 'localhost:5000/app'],
    ['127.0.0.1:5000/rig/img@sha256:' + 'b'.repeat(64), '127.0.0.1:5000/rig/img'],
    ['gcr.io/p/app:v1@sha256:' + 'c'.repeat(64), 'gcr.io/p/app'],
  ])('repository_of %s → %s', async (ref, want) => {
    expect(await bash('repository_of "$1"', [ref], dir, ['repository_of'])).toBe(want);
  });

  it('pull_output logs each line without the credentials and announces unpacking once', async () => {
    const log = join(dir, 'pull.log');
    const out = await bash(
      'PULL_TOKEN=tok-123; PULL_SECRET_FORMS=(pw-456); printf "%s\\n" "$@" | pull_output "$LOG"',
      ['resolving tok-123', 'unpacking linux/amd64 sha256:ab...', 'unpacking again', 'ctr: denied pw-456'],
      dir,
      ['pull_output', 'scrub_credentials'],
      { LOG: log },
    );
    expect(out).toBe('unpacking\n');
    expect(readFileSync(log, 'utf8')).toBe(
      'resolving [redacted]\nunpacking linux/amd64 sha256:ab...\nunpacking again\nctr: denied [redacted]\n',
    );
  });

  it('next_chain gives the OCI chain IDs', async () => {
    const diffs = ['sha256:' + '1'.repeat(64), 'sha256:' + '2'.repeat(64), 'sha256:' + '3'.repeat(64)];
    const out = await bash('c=""; for d in "$@"; do c=$(next_chain "$c" "$d"); echo "$c"; done', diffs, dir, ['next_chain']);
    expect(out.trim().split('\n')).toEqual(chainIds(diffs));
  });

  it.each([
    ['gcr.io', true],
    ['eu.gcr.io', true],
    ['us-docker.pkg.dev', true],
    ['europe-west1-docker.pkg.dev', true],
    ['us-python.pkg.dev', true],
    ['docker.io', false],
    ['gcr.io.example.com', false],
    ['notgcr.io', false],
    ['127.0.0.1:5000', false],
  ])('is_google_registry %s → %s', async (host, want) => {
    const out = await bash('if is_google_registry "$1"; then echo yes; else echo no; fi', [host], dir, ['is_google_registry']);
    expect(out.trim()).toBe(want ? 'yes' : 'no');
  });
});

describe('put_guest_attribute', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-ga-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes over bash's own connection, with no curl to fall back on", async () => {
    const md = await startMetadataServer({ attributes: { 'enable-guest-attributes': 'TRUE' } });
    try {
      const value = 'image 1/2 r/app:1: pulling — "quoted", 100 %, ünïcødé';
      const out = await bash('PATH=/nonexistent; put_guest_attribute phase pulling; put_guest_attribute progress "$1"', [value], dir, [], {
        GCE_METADATA_HOST: md.host,
      });
      expect(out).toBe('');
      expect(md.attributeLog).toEqual([
        { key: 'gdib/phase', value: 'pulling' },
        { key: 'gdib/progress', value },
      ]);
    } finally {
      await md.close();
    }
  });

  it('says once that it cannot write them, with the status the server answered', async () => {
    const md = await startMetadataServer({ attributes: {} });
    try {
      const out = await bash('put_guest_attribute phase a; put_guest_attribute phase b', [], dir, [], { GCE_METADATA_HOST: md.host });
      expect(out).toBe('gdib: cannot write guest attributes (HTTP 403); the serial console carries the status\n');
      expect(md.attributeLog).toEqual([]);
    } finally {
      await md.close();
    }
  });
});
