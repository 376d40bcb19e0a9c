// Where each flag applies, judged from its declaration: every flag, in every run mode it does not apply to, is one
// problem naming the flag and the mode; where it applies, none. The declarations are the table.
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS } from '../../src/commands/build/flags.js';
import { CLEANUP_FLAGS } from '../../src/commands/cleanup/flags.js';
import { flagsFor, runModeOf } from '../../src/config/applies.js';
import { goAccepted, RUN_MODES, type FlagSpec, type RunMode } from '../../src/config/flag.js';

/** A value the flag's own check accepts (applicability is judged before values, and apart from them). */
function sample(f: FlagSpec): string | string[] {
  return f.kind === 'list' ? ['x'] : f.kind === 'bool' ? 'true' : f.kind === 'int' ? String(f.min) : 'x';
}

const notApplying = (problems: string[]) => problems.filter((p) => p.includes(' does not apply to '));

describe('a flag given where it does not apply', () => {
  const cases = Object.entries(BUILD_FLAGS as Record<string, FlagSpec>).flatMap(([name, f]) =>
    RUN_MODES.map((mode) => [name, mode, f] as const),
  );

  it.each(cases)('--%s in %s', (name, mode, f) => {
    const { problems } = flagsFor(BUILD_FLAGS, mode, { flags: { [name]: sample(f) } }, {});
    if (f.appliesTo.includes(mode)) expect(notApplying(problems)).toEqual([]);
    else expect(notApplying(problems)).toEqual([expect.stringMatching(new RegExp(`^--${name} does not apply to ${mode} \\(only to `))]);
  });

  it('names the flag and the mode in the words of the issue cases', () => {
    const cases: Array<[RunMode, string, string]> = [
      ['verify', 'force', '--force does not apply to verify (only to build and build --local)'],
      ['verify', 'image-labels', '--image-labels does not apply to verify (only to build and build --local)'],
      ['verify', 'k8s-manifests-filepath', '--k8s-manifests-filepath does not apply to verify (only to build and build --local)'],
      ['build --local', 'machine-type', '--machine-type does not apply to build --local (only to build and verify)'],
      ['build --local', 'keep-on-failure', '--keep-on-failure does not apply to build --local (only to build and verify)'],
    ];
    for (const [mode, name, line] of cases) expect(flagsFor(BUILD_FLAGS, mode, { flags: { [name]: 'x' } }, {}).problems).toContain(line);
  });
});

describe('Go-tool compatibility: build --verify-only', () => {
  it("accepts (and ignores) each of the Go tool's build flags, as the Go tool did; not this tool's own", () => {
    for (const [name, f] of Object.entries(BUILD_FLAGS as Record<string, FlagSpec>)) {
      if (f.appliesTo.includes('verify')) continue;
      const { problems } = flagsFor(BUILD_FLAGS, 'verify', { flags: { [name]: sample(f) } }, {}, { verifyOnly: true });
      expect(notApplying(problems).length, name).toBe(f.isNew ? 1 : 0);
      expect(goAccepted(f, 'verify', true)).toBe(!f.isNew);
    }
  });

  it('is the mode verify, and the verify command is never lenient', () => {
    expect(runModeOf('build', { flags: { 'verify-only': 'true' } })).toEqual({ mode: 'verify', verifyOnly: true });
    expect(runModeOf('verify', { flags: {} })).toEqual({ mode: 'verify', verifyOnly: false });
    expect(runModeOf('build', { flags: {}, file: { local: 'true' } })).toEqual({ mode: 'build --local', verifyOnly: false });
    expect(runModeOf('verify', { flags: { local: 'true' } })).toEqual({ mode: 'verify --local', verifyOnly: false });
  });
});

describe('a --config file serves several commands', () => {
  it("leaves out the keys that do not apply (a build's file verifies the same image); the command line's are errors", () => {
    const file = { 'image-name': 'img', 'container-image': ['a:1'], force: 'true', 'machine-type': 'n2-standard-4' };
    const r = flagsFor(BUILD_FLAGS, 'verify', { flags: {}, file }, {});
    expect(r.raw).toEqual({ 'image-name': 'img', 'machine-type': 'n2-standard-4' });
    expect(notApplying(r.problems)).toEqual([]);
  });
});

describe('derived from the declarations', () => {
  it('required flags, with the environment default only where the flag applies', () => {
    const env = { CLOUDSDK_CORE_PROJECT: 'p', CLOUDSDK_COMPUTE_ZONE: 'us-central1-a' };
    const build = flagsFor(BUILD_FLAGS, 'build', { flags: {} }, env);
    expect(build.raw).toEqual({ 'project-name': 'p', zone: 'us-central1-a' });
    expect(build.problems).toEqual([
      '--image-name: required (the name of the image)',
      '--gcs-path: required (gs://BUCKET[/PREFIX] for the logs)',
      '--container-image: required (at least one image reference with a tag or digest, or --data-source for a data disk)',
    ]);
    // No VM, no zone: CLOUDSDK_COMPUTE_ZONE is not an error for a local build, and not used.
    expect(flagsFor(BUILD_FLAGS, 'build --local', { flags: {} }, env).raw).toEqual({ 'project-name': 'p' });
    // --output alone: only the archive, so nothing in a project is required.
    expect(flagsFor(BUILD_FLAGS, 'build --local', { flags: { output: 'd.tar.gz', 'container-image': ['a:1'] } }, {}).problems).toEqual([]);
    expect(flagsFor(BUILD_FLAGS, 'verify --local', { flags: {} }, env)).toEqual({ raw: {}, problems: [] });
    expect(flagsFor(CLEANUP_FLAGS, 'cleanup', { flags: {} }, env).raw).toEqual({ 'project-name': 'p' });
  });

  it('conflicts and needs, each said once', () => {
    const both = flagsFor(BUILD_FLAGS, 'build', { flags: { incremental: 'true', 'base-image': 'x' } }, {}).problems;
    expect(both.filter((p) => p.startsWith('--incremental and --base-image: cannot be used together'))).toHaveLength(1);
    // --if-changed needs --image-name; where --image-name is required, that is the one problem said.
    const archive = { output: 'd.tar.gz', 'container-image': ['a:1'], 'if-changed': 'true' };
    expect(flagsFor(BUILD_FLAGS, 'build --local', { flags: archive }, {}).problems).toEqual([
      '--if-changed: needs --image-name (it compares with the images of --image-family-name)',
    ]);
    expect(
      flagsFor(BUILD_FLAGS, 'build', { flags: { 'if-changed': 'true' } }, {}).problems.filter((p) => p.includes('image-name')),
    ).toEqual(['--image-name: required (the name of the image)']);
    // A false boolean is not given.
    expect(flagsFor(BUILD_FLAGS, 'build', { flags: { incremental: 'false', 'base-image': 'x' } }, {}).problems).not.toContainEqual(
      expect.stringContaining('cannot be used together'),
    );
  });

  it('every conflict and need names a declared flag, and each declaration applies somewhere', () => {
    for (const [name, f] of Object.entries(BUILD_FLAGS as Record<string, FlagSpec>)) {
      expect(f.appliesTo.length, name).toBeGreaterThan(0);
      for (const other of [...Object.keys(f.conflicts ?? {}), ...Object.keys(f.needs ?? {}), f.required?.unless ?? name])
        expect(BUILD_FLAGS, `${name} → ${other}`).toHaveProperty([other]);
    }
  });
});
