// A flag given where it does nothing, as a user meets it: the real binary exits 2 with one line naming the flag and
// the mode, before any credentials are looked for or any request is sent (the cloud's endpoints here lead nowhere).
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/spawn-cli.js';

const NOWHERE = {
  CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: 'http://127.0.0.1:9/compute/v1/',
  STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9',
  CLOUDSDK_AUTH_ACCESS_TOKEN: 'test-token',
};
const VERIFY = ['verify', '--project-name=p-12345', '--zone=us-central1-a', '--image-name=img', '--gcs-path=gs://bucket/logs'];
const LOCAL_BUILD = [
  'build',
  '--local',
  '--project-name=p-12345',
  '--image-name=img',
  '--gcs-path=gs://bucket/logs',
  '--container-image=a:1',
];

describe('a flag where it does not apply', () => {
  it.each<[string[], string]>([
    [[...VERIFY, '--force'], '--force does not apply to verify (only to build and build --local)'],
    [[...VERIFY, '--image-labels=a=b'], '--image-labels does not apply to verify (only to build and build --local)'],
    [[...VERIFY, '--k8s-manifests-filepath=x'], '--k8s-manifests-filepath does not apply to verify (only to build and build --local)'],
    [[...LOCAL_BUILD, '--machine-type=n2-standard-4'], '--machine-type does not apply to build --local (only to build and verify)'],
    [[...LOCAL_BUILD, '--keep-on-failure'], '--keep-on-failure does not apply to build --local (only to build and verify)'],
  ])('%j: exit 2, one line', async (args, line) => {
    const r = await spawnCli(args, NOWHERE).done;
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toContain(`error: ${line}`);
    expect(r.stderr.match(/^error: /gm)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it("build --verify-only takes the Go tool's build flags, as the Go tool did, and --help says so", async () => {
    const go = ['--verify-only', ...VERIFY.slice(1), '--image-labels=a=b', '--container-image=a:1', '--dry-run', '--force'];
    const r = await spawnCli(go, NOWHERE).done;
    // --force is this tool's own: refused; the Go tool's --image-labels and --container-image pass.
    expect(r.code).toBe(2);
    expect(r.stderr.match(/^error: .*$/gm)).toEqual(['error: --force does not apply to verify (only to build and build --local)']);
    const help = await spawnCli(['--help'], {}).done;
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(
      /--image-labels <KEY=VALUE> [^-]*\[build and build --local only; --verify-only accepts and ignores it, as the Go tool did\]/,
    );
    // verify --help lists only what verify takes.
    const verifyHelp = await spawnCli(['verify', '--help'], {}).done;
    expect(verifyHelp.stdout).toContain('--machine-type');
    expect(verifyHelp.stdout).not.toContain('--force');
  });
});
