// --if-changed against the emulator and a real local registry: every image records what it holds in its
// description; a second build of the same digests creates nothing and says the family is up to date; a changed
// digest builds and names the reference.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseRecord } from '../../src/builder/image-record.js';
import { OciLayout, type Layer } from '../rig/oci.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig } from '../rig/rig.js';
import { expectNothingLeft, objectText, useEmulator } from './harness.js';

const ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--disk-size-gb=10'];
const MUTATING = /^(disks|instances|images)\.(insert|delete|detachDisk)$/;
const file = (path: string, text: string): Layer => ({ entries: [{ type: 'file', path, mode: 0o644, content: Buffer.from(text) }] });

describeRig('--if-changed', () => {
  let dir: string;
  let registry: Registry;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-ifchanged-'));
    registry = await startRegistry(join(dir, 'registry'));
    for (const [name, text] of [
      ['one', 'one'],
      ['two', 'two'],
    ] as const) {
      const layout = new OciLayout(join(dir, name));
      layout.addImage('v1', { layers: [file('a.txt', text)] });
      layout.close();
    }
    for (const repo of ['ic/app', 'ic/other', 'ic/moving', 'ic/incr']) await registry.push(join(dir, 'one'), 'v1', repo);
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const h = useEmulator();
  const ref = (repo: string) => `${registry.host}/${repo}:v1`;
  const images = (...repos: string[]) => repos.map((r) => `--container-image=${ref(r)}`);
  const mutations = (from = 0) => h.emu.requests.slice(from).filter((q) => MUTATING.test(q.call));

  it('records what the image holds in its description; a second build of the same digests creates nothing', async () => {
    const first = await h.cli([...ARGS, '--image-name=first', '--image-labels=team=ml', ...images('ic/app', 'ic/other')]);
    expect(first.code, first.stderr).toBe(0);
    const image = h.emu.state.image('test-project', 'first')!;
    expect(image.labels).toEqual({ team: 'ml' });
    const record = parseRecord(image.description)!;
    expect(record).toMatchObject({ platform: 'linux/amd64', checksums: true, count: 2 });
    expect(Object.keys(record.images!).sort()).toEqual([ref('ic/app'), ref('ic/other')].sort());
    expect(Object.values(record.images!).every((d) => /^sha256:[0-9a-f]{64}$/.test(d!))).toBe(true);

    const before = h.emu.requests.length;
    const manifests = join(dir, 'snap.yaml');
    const second = await h.cli([
      ...ARGS,
      '--image-name=second',
      '--if-changed',
      `--k8s-manifests-filepath=${manifests}`,
      ...images('ic/other', 'ic/app'),
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(
      /^up to date: projects\/test-project\/global\/images\/first already holds these images \(built \d{4}-\d\d-\d\dT[^)]+\)\n$/,
    );
    expect(mutations(before)).toEqual([]);
    expect(h.emu.state.image('test-project', 'second')).toBeUndefined();
    // The manifests and the next steps name the image that holds the images.
    expect(readFileSync(manifests, 'utf8')).toContain('projects/test-project/global/images/first');
    expect(second.stderr).toContain('--secondary-boot-disk=disk-image=projects/test-project/global/images/first,');
    // The run's logs still go to GCS.
    const key = [...h.emu.state.objects.keys()].filter((k) => k.endsWith('/result.json')).at(-1)!;
    const result = JSON.parse(objectText(h.emu, key.slice('test-bucket/'.length))!);
    expect(result).toMatchObject({ state: 'unchanged', image: { name: 'first' }, ifChanged: { upToDate: true, comparedWith: 'first' } });
    expectNothingLeft(h.emu);
  });

  it('--json: state unchanged, and the result names the existing image', async () => {
    expect((await h.cli([...ARGS, '--image-name=first', ...images('ic/app')])).code).toBe(0);
    const before = h.emu.requests.length;
    const r = await h.cli([...ARGS, '--image-name=again', '--if-changed', '--json', ...images('ic/app')]);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.result).toMatchObject({
      state: 'unchanged',
      image: { name: 'first', uri: 'projects/test-project/global/images/first', family: 'secondary-disk-image' },
      imageCreatedAt: expect.any(String),
    });
    expect(last.result.image.created).toBeUndefined();
    expect(last.result.next.gcloud).toContain('projects/test-project/global/images/first,');
    expect(mutations(before)).toEqual([]);
  });

  it('the same --image-name again is up to date rather than taken', async () => {
    expect((await h.cli([...ARGS, '--image-name=cache', ...images('ic/app')])).code).toBe(0);
    const r = await h.cli([...ARGS, '--image-name=cache', '--if-changed', ...images('ic/app')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('up to date: projects/test-project/global/images/cache already holds these images');
  });

  it('builds when a digest changed, naming the reference; a taken name is then an error', async () => {
    expect((await h.cli([...ARGS, '--image-name=first', ...images('ic/app', 'ic/moving')])).code).toBe(0);
    await registry.push(join(dir, 'two'), 'v1', 'ic/moving');
    const taken = await h.cli([...ARGS, '--image-name=first', '--if-changed', ...images('ic/app', 'ic/moving')]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('image first already exists in project test-project');

    const before = h.emu.requests.length;
    const r = await h.cli([...ARGS, '--image-name=second', '--if-changed', ...images('ic/app', 'ic/moving')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`changed since image first: ${ref('ic/moving').replace(/[.]/g, '\\.')}: sha256:\\w+ → sha256:\\w+`),
    );
    expect(r.stderr).not.toContain(`${ref('ic/app')}:`);
    expect(r.stdout).toContain('Image has successfully been created at: projects/test-project/global/images/second');
    expect(mutations(before).map((q) => q.call)).toContain('images.insert');
    expectNothingLeft(h.emu);
  });

  it('--force always builds; a different platform or checksum setting is a change', async () => {
    expect((await h.cli([...ARGS, '--image-name=first', ...images('ic/app')])).code).toBe(0);
    const forced = await h.cli([...ARGS, '--image-name=first', '--if-changed', '--force', ...images('ic/app')]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('Image has successfully been created');
    const r = await h.cli([...ARGS, '--image-name=nosum', '--if-changed', '--store-snapshot-checksum=false', ...images('ic/app')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('snapshot checksums stored → not stored (--store-snapshot-checksum)');
  });

  it('--dry-run says the build would be skipped, and creates nothing', async () => {
    expect((await h.cli([...ARGS, '--image-name=first', ...images('ic/app')])).code).toBe(0);
    const before = h.emu.requests.length;
    const r = await h.cli([...ARGS, '--image-name=second', '--if-changed', '--dry-run', '--json', ...images('ic/app')]);
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.result).toMatchObject({ state: 'planned', plan: [], ifChanged: { upToDate: true, comparedWith: 'first' } });
    expect(r.stdout).toContain('a build would be skipped (--if-changed): image first already holds these images');
    expect(mutations(before)).toEqual([]);
  });

  it('--incremental: nothing is created when nothing changed; otherwise the disk starts from the image compared with', async () => {
    expect((await h.cli([...ARGS, '--image-name=first', ...images('ic/app', 'ic/incr')])).code).toBe(0);
    let before = h.emu.requests.length;
    const same = await h.cli([...ARGS, '--image-name=second', '--if-changed', '--incremental', ...images('ic/app', 'ic/incr')]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^up to date: projects\/test-project\/global\/images\/first already holds these images/);
    // An explicit base is checked in preflight, but an unchanged run starts from nothing and names no base.
    const explicit = await h.cli([
      ...ARGS,
      '--image-name=second',
      '--if-changed',
      '--base-image=first',
      '--json',
      ...images('ic/app', 'ic/incr'),
    ]);
    expect(explicit.code, explicit.stderr).toBe(0);
    const result = JSON.parse(explicit.stdout.trim().split('\n').at(-1)!).result;
    expect(result.state).toBe('unchanged');
    expect(result.base).toBeUndefined();
    expect(explicit.stdout).not.toContain('incremental build');
    expect(mutations(before)).toEqual([]);

    await registry.push(join(dir, 'two'), 'v1', 'ic/incr');
    before = h.emu.requests.length;
    const changed = await h.cli([...ARGS, '--image-name=second', '--if-changed', '--incremental', ...images('ic/app', 'ic/incr')]);
    expect(changed.code, changed.stderr).toBe(0);
    // One listing of the family serves both the comparison and the choice of the base.
    expect(h.emu.requests.slice(before).filter((q) => q.call === 'images.list')).toHaveLength(1);
    const disk = h.emu.requests.slice(before).find((q) => q.call === 'disks.insert')!.body as Record<string, unknown>;
    expect(disk.sourceImage).toBe('projects/test-project/global/images/first');
    expect(changed.stdout).toContain('Built incrementally from: projects/test-project/global/images/first');
    expectNothingLeft(h.emu);
  });

  it('with no image of the family built by this tool: builds, and says why', async () => {
    const r = await h.cli([...ARGS, '--image-name=first', '--if-changed', ...images('ic/app')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('building: no image of family secondary-disk-image in project test-project was built by this tool');
  });
});
