import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS } from '../../src/commands/build/flags.js';
import { runCli } from '../helpers/cli.js';

const valid = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--image-name=img',
  '--gcs-path=gs://bucket/logs',
  '--container-image=nginx:1',
];

describe('usage', () => {
  it('--help lists every flag and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const name of Object.keys(BUILD_FLAGS)) expect(r.stdout).toContain(`--${name}`);
    expect(r.stdout).toContain('Exit codes');
  });

  it('--version prints the version of package.json on its first line', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(pkg.version);
  });

  it('--help gives the build limit of --image-name', async () => {
    const r = await runCli(['--help']);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/--image-name <NAME> [^-]*at most 39 characters for builds/);
  });

  it.each([['-help'], ['-h'], ['build', '--help'], ['verify', '--help']])('%j also shows help', async (...argv) => {
    const r = await runCli(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--image-name');
  });

  it.each<[string[], string]>([
    [['--bogus=1', ...valid], 'error: --bogus: unknown flag'],
    [['--zone'], 'error: --zone: needs a value'],
    [['--zonee=us-central1-a', ...valid], 'error: --zonee: unknown flag (did you mean --zone?); see --help'],
    [['-image-nam=x'], 'error: --image-nam: unknown flag (did you mean --image-name?); see --help'],
    [['cleanup', '--older-thn=1h'], 'error: --older-thn: unknown flag (did you mean --older-than?); see --help'],
    [['cleanup', '--zone'], 'error: --zone: needs a value'],
    [[...valid, 'extra'], 'error: unexpected argument "extra"'],
    [
      [...valid.filter((a) => !a.startsWith('--image-name')), `--image-name=${'i'.repeat(40)}`],
      'error: --image-name: at most 39 characters for builds (got 40): GKE labels the nodes',
    ],
    [[...valid.filter((a) => !a.startsWith('--image-name')), '--image-name=Bad'], 'error: --image-name:'],
    [[...valid, '--timeout=forever'], 'error: --timeout: "forever" is not a duration'],
    [[...valid, '--verify-only=maybe'], 'error: --verify-only: expected true or false'],
    [[...valid, '--pull-stall-timeout=0'], 'error: --pull-stall-timeout: must be at least 1 second'],
    [
      ['verify', ...valid.filter((a) => !a.startsWith('--container-image')), '--pull-stall-timeout=60'],
      'error: --pull-stall-timeout does not apply to verify',
    ],
  ])('%j exits 2 with one line naming the flag', async (argv, expected) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toContain(expected);
    expect(r.stderr).not.toMatch(/\s+at .*\(.*:\d+:\d+\)/); // no stack trace
  });

  it.each<[string[], string]>([
    [
      ['frobnicate'],
      'error: unexpected argument "frobnicate"; the commands are build, verify, cleanup, prune and doctor, and flags start with -- (see --help)',
    ],
    [
      [...valid, 'frobnicate'],
      'error: unexpected argument "frobnicate"; the commands are build, verify, cleanup, prune and doctor, and flags start with -- (see --help)',
    ],
    [['build', 'frobnicate', ...valid], 'error: unexpected argument "frobnicate"; flags start with -- (see --help)'],
    [['verify', 'a', 'b', ...valid], 'error: unexpected argument "b" (verify takes one argument: FILE); flags start with -- (see --help)'],
    [['cleanup', 'x', 'y'], 'error: unexpected arguments "x", "y"; flags start with -- (see --help)'],
    // A flag's value is not a stray argument, however it was written.
    [['--zone', 'us-central1-a', 'verfy', '--image-name', 'img'], 'error: unexpected argument "verfy"; the commands are'],
    [['build', '--', '--zone'], 'error: unexpected argument "--zone"; flags start with --'],
  ])('%j names the stray argument in one line and exits 2', async (argv, expected) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(expected)]);
  });

  it('accepts Go-style single-dash flags (and reports problems of the values, not of the syntax)', async () => {
    const r = await runCli([
      '-project-name=test-project',
      '-zone',
      'us-central1-a',
      '-image-name=img',
      '-gcs-path=gs://b',
      '-container-image=nginx:1',
      '-store-snapshot-checksum=false',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(
      /^error: --gcs-path: expected gs:\/\/BUCKET or gs:\/\/BUCKET\/PREFIX: a bucket name is 3-63/,
    );
  });

  it('takes project and zone from the gcloud environment', async () => {
    const r = await runCli(['--image-name=img', '--gcs-path=gs://bucket', '--container-image=BAD'], {
      env: { CLOUDSDK_CORE_PROJECT: 'test-project', CLOUDSDK_COMPUTE_ZONE: 'us-central1-a' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('--project-name');
    expect(r.stderr).not.toContain('--zone');
    expect(r.stderr).toContain('--container-image');
  });
});
