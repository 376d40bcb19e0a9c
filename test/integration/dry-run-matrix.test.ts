// Every combination of {build, verify} × {VM, --local} × {--dry-run or not} × {--output, --force, --image-name}:
// which steps run, and that a dry run only reads — GET requests (preflight's lookups and permission tests), no
// created resource, no upload, and no disk file, archive, loop device or mount on this machine. Invalid
// combinations exit 2 with nothing requested.
// The local rows that would really bake (root, loop devices, a registry) are asserted through stepsFor only; the
// real local bake is tested in test/local and test/e2e.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepsFor } from '../../src/builder/index.js';
import { parseRecord } from '../../src/builder/image-record.js';
import { parseConfig } from '../helpers/plan.js';
import { localPreconditions } from '../../src/local/preconditions.js';
import { BASE_ARGS, LOCAL_ARGS, useEmulator, VERIFY_ARGS } from './harness.js';

interface Row {
  command: 'build' | 'verify';
  local: boolean;
  dryRun: boolean;
  output: boolean;
  force: boolean;
  imageName: boolean;
}

const rows: Row[] = [];
for (const command of ['build', 'verify'] as const)
  for (const local of [false, true])
    for (const dryRun of [false, true])
      for (const output of [false, true])
        for (const force of [false, true])
          for (const imageName of [true, false]) rows.push({ command, local, dryRun, output, force, imageName });

const label = (r: Row) =>
  [
    r.command,
    r.local ? '--local' : 'VM',
    r.dryRun ? '--dry-run' : '',
    r.output ? '--output' : '',
    r.force ? '--force' : '',
    r.imageName ? '--image-name' : 'no --image-name',
  ]
    .filter(Boolean)
    .join(' ');

/** The image a verify checks exists (seeded); the one a build makes does not. */
const EXISTING = 'img-existing';
const imageOf = (r: Row) => (r.command === 'verify' ? EXISTING : 'img-new');

/** Why the input is refused (exit 2), or undefined when it is valid. */
function invalid(r: Row): RegExp | undefined {
  const mode = `${r.command}${r.local ? ' --local' : ''}`;
  if (r.output && mode !== 'build --local') return new RegExp(`^error: --output does not apply to ${mode} \\(`, 'm');
  if (r.force && r.command === 'verify') return new RegExp(`^error: --force does not apply to ${mode} \\(`, 'm');
  if (r.imageName && mode === 'verify --local') return /^error: --image-name does not apply to verify --local \(/m;
  if (!r.local && !r.imageName) return /^error: --image-name: required/m;
  if (r.local && r.command === 'build' && !r.imageName && !r.output) return /^error: --image-name: required/m;
  return undefined;
}

/** The steps a valid row runs, written out by hand (not derived from the code under test). */
function expectedSteps(r: Row): string[] {
  const localOnly = r.local && r.command === 'build' && r.output && !r.imageName;
  if (r.dryRun) {
    if (r.local && (r.command === 'verify' || localOnly)) return ['plan'];
    return ['preflight', 'plan'];
  }
  const replace = r.force ? ['replace-image'] : [];
  if (r.local) {
    if (r.command === 'verify') return ['local-verify'];
    if (localOnly) return ['local-bake', 'pack-archive'];
    return ['preflight', 'local-bake', 'pack-archive', 'upload-archive', ...replace, 'create-image'];
  }
  if (r.command === 'verify') return ['preflight', 'create-disk', 'create-vm', 'wait-vm', 'delete-vm'];
  return ['preflight', 'create-disk', 'create-vm', 'wait-vm', 'detach-disk', 'delete-vm', ...replace, 'create-image'];
}

/** Fresh directories per row: the working directory (where --output points), the temp dir, the file to verify. */
function dirsFor(): { cwd: string; tmp: string; file: string } {
  const root = mkdtempSync(join(tmpdir(), 'gdib-matrix-'));
  const cwd = join(root, 'cwd');
  const tmp = join(root, 'tmp');
  const inputs = join(root, 'in');
  for (const d of [cwd, tmp, inputs]) mkdirSync(d);
  return { cwd, tmp, file: join(inputs, 'disk.raw') };
}

function argsFor(r: Row, file: string): string[] {
  return [
    r.command,
    // Each mode's own: verify resolves no image (no --skip-image-check), --local has no VM (no --zone), and
    // verify --local makes no cloud call at all.
    ...(r.command === 'verify' ? (r.local ? [] : VERIFY_ARGS) : r.local ? LOCAL_ARGS : BASE_ARGS),
    ...(r.local ? ['--local'] : []),
    ...(r.dryRun ? ['--dry-run'] : []),
    ...(r.output ? ['--output=disk.tar.gz'] : []),
    ...(r.force ? ['--force'] : []),
    ...(r.imageName ? [`--image-name=${imageOf(r)}`] : []),
    ...(r.command === 'build' ? ['--container-image=nginx:1'] : []),
    ...(r.local && r.command === 'verify' ? [file] : []),
    '--json',
  ];
}

/** Loop devices serving a file under one of `dirs`, and mounts under them. */
function attachedUnder(dirs: string[]): string[] {
  const under = (p: string) => dirs.some((d) => p === d || p.startsWith(`${d}/`));
  const found: string[] = [];
  let loops: string[] = [];
  try {
    loops = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    // no /sys: no loop devices to look at
  }
  for (const n of loops) {
    try {
      const backing = readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8')
        .trim()
        .replace(/ \(deleted\)$/, '');
      if (under(backing)) found.push(`/dev/${n} → ${backing}`);
    } catch {
      // not attached
    }
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint && under(mountPoint)) found.push(`mount ${mountPoint}`);
  }
  return found;
}

/** Runs the CLI with the temp dir (where local steps make their scratch directory) pointed at `tmp`. */
async function withTmpdir<T>(tmp: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

const localProblems = await localPreconditions();

describe('which steps run, and a dry run only reads', () => {
  const h = useEmulator({ images: [{ project: 'test-project', name: EXISTING, diskSizeGb: 10 }] });

  describe.each(rows.map((r) => [label(r), r] as const))('%s', (_name, r) => {
    const bad = invalid(r);

    if (bad) {
      it('is refused: exit 2, nothing requested', async () => {
        const { cwd, file } = dirsFor();
        const res = await h.cli(argsFor(r, file), { cwd });
        expect(res.code, res.stderr).toBe(2);
        expect(res.stderr).toMatch(bad);
        expect(h.emu.requests).toEqual([]);
        expect(readdirSync(cwd)).toEqual([]);
      });
      return;
    }

    it('steps', () => {
      const { cwd, file } = dirsFor();
      writeFileSync(file, Buffer.alloc(4096));
      const flags: Record<string, string | string[]> = {
        ...(!(r.local && r.command === 'verify') ? { 'project-name': 'test-project', 'gcs-path': 'gs://test-bucket/logs' } : {}),
        ...(!r.local ? { zone: 'us-central1-a' } : {}),
        ...(r.local ? { local: 'true' } : {}),
        ...(r.dryRun ? { 'dry-run': 'true' } : {}),
        ...(r.output ? { output: 'disk.tar.gz' } : {}),
        ...(r.force ? { force: 'true' } : {}),
        ...(r.imageName ? { 'image-name': imageOf(r) } : {}),
        ...(r.command === 'build' ? { 'container-image': ['nginx:1'] } : {}),
      };
      const config = parseConfig(flags, {}, { mode: r.command, cwd, positionals: r.local && r.command === 'verify' ? [file] : [] });
      expect(stepsFor(config.plan).map((s) => s.name)).toEqual(expectedSteps(r));
    });

    // A real local bake or verification needs root, loop devices and a registry: test/local and test/e2e run it.
    if (r.local && !r.dryRun) return;

    it(r.dryRun ? 'runs only reads and creates nothing' : 'runs those steps against the emulator', async () => {
      const { cwd, tmp, file } = dirsFor();
      writeFileSync(file, Buffer.alloc(4096));
      const res = await withTmpdir(tmp, () => h.cli(argsFor(r, file), { cwd }));
      if (r.local && localProblems.length > 0) {
        // This machine can't bake locally: the dry run says so at validation, before any request.
        expect(res.code, res.stderr).toBe(2);
        expect(res.stderr).toContain('error: --local: ');
        expect(h.emu.requests).toEqual([]);
        return;
      }
      expect(res.code, res.stderr).toBe(0);
      const events = res.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; result?: Record<string, any> });
      const result = events.at(-1)!.result!;
      expect(Object.keys(result.steps).filter((s) => s !== 'cleanup')).toEqual(expectedSteps(r));
      if (!r.dryRun) return;

      expect(result.state).toBe('planned');
      expect(result.plan.length).toBeGreaterThan(0);
      expect(events.filter((e) => e.type === 'resource-created')).toEqual([]);
      const mutating = h.emu.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path} (${q.call})`);
      expect(mutating).toEqual([]);
      expect(h.emu.leftovers()).toEqual({ disks: [], instances: [], images: [] });
      expect([...h.emu.state.objects.keys()]).toEqual([]);
      // Without a cloud target (archive only, or a file to verify), nothing is asked of the cloud at all.
      if (r.local && (r.command === 'verify' || !r.imageName)) expect(h.emu.requests).toEqual([]);
      else expect(h.emu.requests.some((q) => q.call === 'projects.get')).toBe(true); // preflight ran
      expect(readdirSync(cwd)).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
      expect(attachedUnder([cwd, tmp, file])).toEqual([]);
    });
  });
});

describe('what a local dry run prints', () => {
  const h = useEmulator();
  // A local dry run still checks the machine (root, loop devices, commands): where it can't bake, these fail
  // (as the rig suites do).
  const runs =
    localProblems.length === 0
      ? it
      : (name: string, _fn: () => Promise<void>) =>
          it(name, () => expect.fail(`this machine cannot run --local: ${localProblems.join('; ')}`));

  runs(
    'build --local --dry-run: the disk it would bake, the archive, the upload object and the image body, with the manifests',
    async () => {
      const { cwd, tmp } = dirsFor();
      mkdirSync(join(cwd, 'k8s'));
      const args = [
        'build',
        ...LOCAL_ARGS,
        '--local',
        '--dry-run',
        '--image-name=img-plan',
        '--container-image=nginx:1',
        '--disk-size-gb=20',
        '--image-labels=team=ml',
        '--k8s-manifests-filepath=k8s/snap.yaml',
      ];
      const res = await withTmpdir(tmp, () => h.cli(args, { cwd }));
      expect(res.code, res.stderr).toBe(0);
      const plan = JSON.parse(res.stdout) as Array<{ kind: string; name: string; body: Record<string, any> }>;
      expect(plan.map((p) => p.kind)).toEqual(['file', 'file', 'object', 'image', 'file']);
      const [disk, archive, object, image, manifests] = plan as [
        (typeof plan)[0],
        (typeof plan)[0],
        (typeof plan)[0],
        (typeof plan)[0],
        (typeof plan)[0],
      ];
      expect(disk.name).toBe(join(tmp, 'gdib-XXXXXX/disk.raw'));
      expect(disk.body).toMatchObject({ sizeGb: 20, sparse: true, metadata: { 'gdib-mode': 'build', 'gdib-container-images': 'nginx:1' } });
      expect(archive.name).toBe(join(tmp, 'gdib-XXXXXX/disk.tar.gz'));
      const runId = disk.body.metadata['gdib-run-id'] as string;
      expect(object.name).toBe(`gs://test-bucket/logs/secondary-disk-image-${runId}/disk.tar.gz`);
      expect(image.body).toEqual({
        name: 'img-plan',
        rawDisk: { source: `https://storage.googleapis.com/test-bucket/logs/secondary-disk-image-${runId}/disk.tar.gz` },
        family: 'secondary-disk-image',
        // What the image holds (docs/architecture.md, Image record); no digest here: BASE_ARGS skip the image check.
        description: expect.stringContaining('\ngdib:{"v":1,"tool":"gke-disk-image-builder"'),
        labels: { team: 'ml' },
      });
      expect(parseRecord(image.body.description as string)).toMatchObject({ count: 1, unresolved: 1, images: { 'nginx:1': null } });
      expect(manifests).toMatchObject({
        name: join(cwd, 'k8s/snap.yaml'),
        body: { contents: expect.stringContaining('snapshotHandle: projects/test-project/global/images/img-plan') },
      });
      expect(readdirSync(join(cwd, 'k8s'))).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
    },
  );

  runs('verify --local --dry-run ARCHIVE: where it would be extracted; the archive is only read', async () => {
    const { cwd, tmp, file } = dirsFor();
    const archive = `${file}.tar.gz`;
    writeFileSync(archive, Buffer.from([0x1f, 0x8b, 0, 0]));
    const res = await withTmpdir(tmp, () => h.cli(['verify', '--local', '--dry-run', archive], { cwd }));
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout) as Array<{ kind: string; name: string; body: Record<string, any> }>;
    expect(plan.map((p) => p.name)).toEqual([join(tmp, 'gdib-XXXXXX'), join(tmp, 'gdib-XXXXXX/gdib-verify-XXXXXX/disk.raw')]);
    expect(plan[1]!.body).toMatchObject({ source: archive, attachedAs: 'read-only loop device', metadata: { 'gdib-mode': 'verify' } });
    expect(readFileSync(archive)).toEqual(Buffer.from([0x1f, 0x8b, 0, 0]));
    expect(h.emu.requests).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    expect(attachedUnder([cwd, tmp, archive])).toEqual([]);
  });
});

describe('incremental builds: which steps run', () => {
  const VM = ['create-disk', 'create-vm', 'wait-vm', 'detach-disk', 'delete-vm'];
  it.each<[string, Record<string, string>, string[]]>([
    ['--incremental', { incremental: 'true' }, ['preflight', 'choose-base', ...VM, 'create-image']],
    [
      '--incremental --if-changed: the family is compared first',
      { incremental: 'true', 'if-changed': 'true' },
      ['preflight', 'compare-with-family', 'choose-base', ...VM, 'create-image'],
    ],
    [
      '--incremental --if-changed --force: nothing compared',
      { incremental: 'true', 'if-changed': 'true', force: 'true' },
      ['preflight', 'choose-base', ...VM, 'replace-image', 'create-image'],
    ],
    ['--incremental --dry-run', { incremental: 'true', 'dry-run': 'true' }, ['preflight', 'choose-base', 'plan']],
    [
      '--base-image: checked in preflight, taken once there is something to build',
      { 'base-image': 'projects/base-proj/global/images/b', 'if-changed': 'true' },
      ['preflight', 'compare-with-family', 'choose-base', ...VM, 'create-image'],
    ],
  ])('%s', (_name, extra, steps) => {
    const config = parseConfig(
      {
        'project-name': 'test-project',
        zone: 'us-central1-a',
        'gcs-path': 'gs://test-bucket/logs',
        'image-name': 'img',
        'container-image': ['nginx:1'],
        ...extra,
      },
      {},
    );
    expect(stepsFor(config.plan).map((s) => s.name)).toEqual(steps);
  });
});
