// Hostile input, answered in a second: paths that name a FIFO, a device, a directory, a huge file, a link, or a
// file holding `null` or a broken key; image references, ports and digests outside their grammar; runaway lists
// and flag names. Each is the real bin/ spawned with nothing of this machine's environment: exit 2, one line that
// names the flag, no stack trace, and no more than a second later than an ordinary typo run beside it (so the
// machine's load is the same for both; docs/architecture.md, Hostile input). No cloud endpoint is given: a run
// that got past validation would fail differently.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/spawn-cli.js';

const ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--image-name=img', '--gcs-path=gs://test-bucket/logs'];
const IMAGE = '--container-image=nginx:1';
const root = process.geteuid?.() === 0;

let dir: string;

async function run(args: string[]) {
  const started = Date.now();
  const r = await spawnCli(args, {}).done;
  return { ...r, ms: r.exitedAt - started };
}

/** An ordinary typo, run beside each hostile input: the time a user waits for any validation error. */
const TYPO = [...ARGS.filter((a) => !a.startsWith('--zone')), '--zone=nowhere', '--container-image=nginx:1'];

/** One line naming `flag`, exit 2, in under a second more than an ordinary typo. */
async function expectRefused(args: string[], flag: string, detail?: RegExp) {
  const [r, typo] = await Promise.all([run(args), run(TYPO)]);
  expect(typo.code).toBe(2);
  expect(r.code, r.stderr).toBe(2);
  const first = r.stderr.split('\n')[0]!;
  expect(first).toMatch(new RegExp(`^error: ${flag.replace(/[-/]/g, '\\$&')}[: ]`));
  if (detail) expect(first).toMatch(detail);
  expect(r.stderr).not.toMatch(/\n\s+at |DECODER|routines::/);
  expect(first.length).toBeLessThan(400);
  // Twice the typo's time plus a second: a loaded 2-core machine schedules two equal runs a second apart, while
  // what this catches — an open that blocks, a read of gigabytes — takes forever or tens of seconds.
  expect(r.ms, `took ${r.ms} ms (a typo took ${typo.ms} ms)`).toBeLessThan(2 * typo.ms + 1_000);
  return r;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gdib-hostile-'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'a-dir'));
  writeFileSync(join(dir, 'null.json'), 'null');
  writeFileSync(join(dir, 'array.json'), '[1,2]');
  writeFileSync(join(dir, 'huge.json'), '');
  truncateSync(join(dir, 'huge.json'), 8 * 1024 ** 3); // sparse: claims 8 GiB, costs nothing
  writeFileSync(
    join(dir, 'bad-pem.json'),
    JSON.stringify({
      type: 'service_account',
      client_email: 'a@p.iam.gserviceaccount.com',
      private_key: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n',
    }),
  );
  writeFileSync(join(dir, 'target'), 'precious');
  symlinkSync(join(dir, 'target'), join(dir, 'link'));
  symlinkSync(join(dir, 'null.json'), join(dir, 'key-link.json'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--gcp-oauth names a file that is not a key file', () => {
  it.each([
    ['a FIFO', 'fifo', /FIFO/],
    ['a directory', 'a-dir', /is a directory/],
    ['a device', '/dev/zero', /character device/],
    ['a huge file', 'huge.json', /too large/],
    ['null', 'null.json', /does not hold a JSON object/],
    ['an array', 'array.json', /does not hold a JSON object/],
    ['an invalid PEM key', 'bad-pem.json', /bad-pem\.json: its private_key is not a valid PEM private key/],
    ['a missing file', 'missing.json', /does not exist/],
  ])('%s', async (_, file, detail) => {
    const path = file.startsWith('/') ? file : join(dir, file);
    await expectRefused([...ARGS, IMAGE, `--gcp-oauth=${path}`], '--gcp-oauth', detail);
  });

  it.runIf(root)('a symbolic link, when running as root', async () => {
    await expectRefused([...ARGS, IMAGE, `--gcp-oauth=${join(dir, 'key-link.json')}`], '--gcp-oauth', /symbolic link/);
  });

  it('the cleanup command reads it the same way', async () => {
    await expectRefused(['cleanup', '--project-name=test-project', `--gcp-oauth=${join(dir, 'fifo')}`], '--gcp-oauth', /FIFO/);
  });
});

describe('--config names a file that is not a config file', () => {
  it.each([
    ['a FIFO', 'fifo', /FIFO/],
    ['a directory', 'a-dir', /is a directory/],
    ['a device', '/dev/zero', /character device/],
    ['a huge file', 'huge.json', /too large/],
    ['an array', 'array.json', /must hold a mapping/],
  ])('%s', async (_, file, detail) => {
    const path = file.startsWith('/') ? file : join(dir, file);
    await expectRefused([...ARGS, IMAGE, `--config=${path}`], '--config', detail);
  });
});

describe('outputs: a new file in an existing directory, or a regular file to replace', () => {
  it.each([
    ['a FIFO', 'fifo', /FIFO/],
    ['a directory', 'a-dir', /is a directory/],
    ['a device', '/dev/null', /character device/],
    ['a symbolic link', 'link', /symbolic link/],
    ['a missing directory', 'no-dir/m.yaml', /does not exist/],
  ])('--k8s-manifests-filepath naming %s fails in validation, before anything is created', async (_, file, detail) => {
    const path = file.startsWith('/') ? file : join(dir, file);
    const before = readdirSync(dir).sort();
    await expectRefused([...ARGS, IMAGE, `--k8s-manifests-filepath=${path}`], '--k8s-manifests-filepath', detail);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it.each([
    ['a FIFO', 'fifo.tar.gz', /FIFO/],
    ['a symbolic link', 'link.tar.gz', /symbolic link/],
  ])('--output naming %s', async (_, file, detail) => {
    if (!existsSync(join(dir, file))) {
      if (file.startsWith('fifo')) execFileSync('mkfifo', [join(dir, file)]);
      else symlinkSync(join(dir, 'target'), join(dir, file));
    }
    await expectRefused(['--local', IMAGE, `--output=${join(dir, file)}`], '--output', detail);
  });

  it.each([
    ['a FIFO', 'fifo', /FIFO/],
    ['a directory', 'a-dir', /is a directory/],
  ])('verify --local naming %s', async (_, file, detail) => {
    await expectRefused(['verify', '--local', join(dir, file)], '--local', detail);
  });
});

describe('image references by their real grammar', () => {
  it.each([
    ['sha512 with 32 hex', `app@sha512:${'a'.repeat(32)}`, /sha512 digest \(expected 128/],
    ['sha256 in uppercase', `app@sha256:${'A'.repeat(64)}`, /sha256 digest \(expected 64 lowercase/],
    ['md5', `app@md5:${'a'.repeat(32)}`, /algorithm "md5"/],
    ['port 999999', 'localhost:999999/app:1', /port 999999/],
    ['port 0', 'localhost:0/app:1', /port 0/],
    ['a bad IPv6 address', '[::1::2]:5000/app:1', /IPv6/],
    ['a 300-character name', `${'a'.repeat(300)}:1`, /longer than 255/],
  ])('%s', async (_, ref, detail) => {
    await expectRefused([...ARGS, `--container-image=${ref}`], '--container-image', detail);
  });

  it('accepts sha512 with 128 hex characters and a port of 65535', async () => {
    // Valid references pass validation; with no credentials the run then stops at that (exit 2, another line).
    const r = await run([...ARGS, `--container-image=localhost:65535/app@sha512:${'a'.repeat(128)}`, '--skip-image-check']);
    expect(r.stderr).not.toMatch(/--container-image/);
  });

  it('a runaway list of --container-image is refused at once', async () => {
    const refs = Array.from({ length: 1000 }, (_, i) => `--container-image=registry.example.com/app:${i}`);
    await expectRefused([...ARGS, ...refs], '--container-image', /at most 256/);
  });
});

describe('echoed values are clipped', () => {
  it('an unknown flag of 100 KB is one short line', async () => {
    const [r, typo] = await Promise.all([run([...ARGS, IMAGE, `--${'x'.repeat(100_000)}=1`]), run(TYPO)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.length).toBeLessThan(200);
    expect(r.ms).toBeLessThan(2 * typo.ms + 1_000);
  });
});

describe('--gcs-path by Cloud Storage naming rules', () => {
  it.each([
    ['an escape sequence', 'gs://test-bucket/logs\u001b]0;TITLE\u0007', /control characters/],
    ['a newline', 'gs://test-bucket/logs\nx', /control characters/],
    ['a 120 KB prefix', `gs://test-bucket/${'p'.repeat(120 * 1024)}`, /at most 949/],
    ['"google" in the bucket', 'gs://google-logs/x', /google/],
    ['an IP address as bucket', 'gs://192.168.1.1/x', /IP address/],
    ['a 2-character bucket', 'gs://ab', /3-63/],
  ])('%s', async (_, path, detail) => {
    const r = await expectRefused([...ARGS.filter((a) => !a.startsWith('--gcs-path')), IMAGE, `--gcs-path=${path}`], '--gcs-path', detail);
    // eslint-disable-next-line no-control-regex -- no control character of the value reaches the terminal
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
