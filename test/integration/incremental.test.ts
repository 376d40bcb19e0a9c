// --incremental and --base-image against the emulator: the data disk is created from the base image (never
// smaller than it), the VM is told so (gdib-data-disk=from-image), the result names the base; a base that cannot
// be reused stops an explicit --base-image in preflight and turns --incremental into a full build; the base image
// is only ever read, a failed build included.
import { describe, expect, it } from 'vitest';
import { describeRecord, recordFor, type ImageRecord } from '../../src/builder/image-record.js';
import { vmScripts } from '../emulator/index.js';
import { BASE_ARGS, expectNothingLeft, LOCAL_ARGS, useEmulator, type Harness } from './harness.js';

const MUTATING = /^(disks|instances|images)\.(insert|delete|detachDisk)$/;
const FAMILY = 'secondary-disk-image';
const record = (change: Partial<ImageRecord> = {}): string =>
  describeRecord({ ...recordFor(['nginx:1'], {}, 'linux/amd64', true), ...change });

type Item = { key: string; value: string };
const diskInserts = (h: Harness) => h.emu.requests.filter((q) => q.call === 'disks.insert').map((q) => q.body as Record<string, unknown>);
const vmMetadata = (h: Harness): Record<string, string> => {
  const vm = h.emu.requests.filter((q) => q.call === 'instances.insert').at(-1)!.body as { metadata: { items: Item[] } };
  return Object.fromEntries(vm.metadata.items.map((i) => [i.key, i.value]));
};
const mutations = (h: Harness, from: number) => h.emu.requests.slice(from).filter((q) => MUTATING.test(q.call));
const resultOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!).result;

describe('--incremental', () => {
  const h = useEmulator();

  it('starts the data disk from the newest image of the family built by this tool, at its size or larger', async () => {
    expect((await h.cli([...BASE_ARGS, '--image-name=first', '--container-image=nginx:1', '--disk-size-gb=30'])).code).toBe(0);
    const base = h.emu.state.image('test-project', 'first')!;
    const before = { id: base.id, description: base.description, sizeGb: base.diskSizeGb };

    const r = await h.cli([...BASE_ARGS, '--image-name=second', '--container-image=nginx:1', '--disk-size-gb=20', '--incremental']);
    expect(r.code, r.stderr).toBe(0);
    const disk = diskInserts(h).at(-1)!;
    expect(disk).toMatchObject({ sourceImage: 'projects/test-project/global/images/first', sizeGb: '30' });
    expect(vmMetadata(h)['gdib-data-disk']).toBe('from-image');
    expect(r.stderr).toContain('incremental build: the data disk starts from image projects/test-project/global/images/first (built ');
    expect(r.stderr).toContain(
      'the data disk is 30 GB, the size of the base image (--disk-size-gb=20 is smaller), and so is the new image',
    );
    expect(r.stdout).toBe(
      'Image has successfully been created at: projects/test-project/global/images/second\n' +
        'Built incrementally from: projects/test-project/global/images/first\n',
    );
    // The new image holds its own record; the base is as it was.
    expect(h.emu.state.image('test-project', 'second')!.diskSizeGb).toBe(30);
    const after = h.emu.state.image('test-project', 'first')!;
    expect({ id: after.id, description: after.description, sizeGb: after.diskSizeGb }).toEqual(before);
    expectNothingLeft(h.emu);
  });

  it('--json: the result names the base and the disk size', async () => {
    expect((await h.cli([...BASE_ARGS, '--image-name=first', '--container-image=nginx:1', '--disk-size-gb=10'])).code).toBe(0);
    const r = await h.cli([
      ...BASE_ARGS,
      '--image-name=second',
      '--container-image=nginx:1',
      '--disk-size-gb=40',
      '--incremental',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(resultOf(r.stdout)).toMatchObject({
      state: 'succeeded',
      base: 'projects/test-project/global/images/first',
      diskSizeGb: 40,
      image: { name: 'second', created: true },
    });
    expect(diskInserts(h).at(-1)).toMatchObject({ sizeGb: '40', sourceImage: 'projects/test-project/global/images/first' });
  });

  it('with no image of the family: a full build on a blank disk, with a note', async () => {
    const r = await h.cli([...BASE_ARGS, '--image-name=first', '--container-image=nginx:1', '--incremental', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `full build: no READY image of family ${FAMILY} in project test-project was built by this tool (--incremental)`,
    );
    expect(diskInserts(h)[0]!.sourceImage).toBeUndefined();
    expect(vmMetadata(h)['gdib-data-disk']).toBeUndefined();
    expect(resultOf(r.stdout).base).toBeUndefined();
  });

  it('--dry-run shows the disk body with the base image, and creates nothing', async () => {
    expect((await h.cli([...BASE_ARGS, '--image-name=first', '--container-image=nginx:1', '--disk-size-gb=10'])).code).toBe(0);
    const from = h.emu.requests.length;
    const r = await h.cli([...BASE_ARGS, '--image-name=second', '--container-image=nginx:1', '--incremental', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = resultOf(r.stdout);
    expect(result).toMatchObject({ state: 'planned', base: 'projects/test-project/global/images/first' });
    const disk = result.plan.find((p: { kind: string }) => p.kind === 'disk');
    expect(disk.body).toMatchObject({ sourceImage: 'projects/test-project/global/images/first', sizeGb: '60' });
    const vm = result.plan.find((p: { kind: string }) => p.kind === 'vm');
    expect(vm.body.metadata.items).toContainEqual({ key: 'gdib-data-disk', value: 'from-image' });
    expect(mutations(h, from)).toEqual([]);
  });

  it('a failed incremental build deletes its disk and VM and leaves the base image as it was', async () => {
    expect((await h.cli([...BASE_ARGS, '--image-name=first', '--container-image=nginx:1', '--disk-size-gb=10'])).code).toBe(0);
    const base = { ...h.emu.state.image('test-project', 'first')! };
    const from = h.emu.requests.length;
    h.emu.vm.script(vmScripts.fail('pulling nginx:1: not found'));
    const r = await h.cli([...BASE_ARGS, '--image-name=second', '--container-image=nginx:1', '--incremental']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: the VM reported failure: pulling nginx:1: not found');
    expect(diskInserts(h).at(-1)!.sourceImage).toBe('projects/test-project/global/images/first');
    expect(mutations(h, from).filter((q) => q.call.startsWith('images.'))).toEqual([]);
    expect(h.emu.state.image('test-project', 'first')).toEqual(base);
    expect(h.emu.state.image('test-project', 'second')).toBeUndefined();
    expectNothingLeft(h.emu);
  });

  it("--force with the base's own name: starts from it, and replaces it only once the new disk is ready", async () => {
    expect((await h.cli([...BASE_ARGS, '--image-name=cache', '--container-image=nginx:1', '--disk-size-gb=10'])).code).toBe(0);
    const oldId = h.emu.state.image('test-project', 'cache')!.id;
    const from = h.emu.requests.length;
    const r = await h.cli([...BASE_ARGS, '--image-name=cache', '--container-image=nginx:1', '--incremental', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(diskInserts(h).at(-1)!.sourceImage).toBe('projects/test-project/global/images/cache');
    expect(mutations(h, from).map((q) => q.call)).toEqual([
      'disks.insert',
      'instances.insert',
      'instances.detachDisk',
      'instances.delete',
      'images.delete',
      'images.insert',
      'disks.delete',
    ]);
    expect(h.emu.state.image('test-project', 'cache')!.id).not.toBe(oldId);
    expectNothingLeft(h.emu);
  });

  it('is refused with --local, before any request (exit 2)', async () => {
    const r = await h.cli([...LOCAL_ARGS, '--image-name=x', '--container-image=nginx:1', '--incremental', '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('error: --incremental does not apply to build --local (only to build)');
    expect(h.emu.requests).toEqual([]);
  });
});

describe('--incremental with images of the family that cannot be reused', () => {
  const h = useEmulator({
    images: [
      { project: 'test-project', name: 'old-format', family: FAMILY, diskSizeGb: 10, description: record({ disk: 99 }) },
      { project: 'test-project', name: 'foreign-newer', family: FAMILY, diskSizeGb: 10, description: 'made by hand' },
    ],
  });

  it('skips images this tool did not build, and builds in full from a disk format it does not know, saying so', async () => {
    const r = await h.cli([...BASE_ARGS, '--image-name=next', '--container-image=nginx:1', '--incremental']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `full build: image old-format, the newest of family ${FAMILY}, cannot be reused: its disk format is version 99, and this version of the tool reuses only version 1 (--incremental)`,
    );
    expect(diskInserts(h)[0]!.sourceImage).toBeUndefined();
    expect(r.stdout).not.toContain('Built incrementally');
  });
});

describe('--base-image', () => {
  const h = useEmulator({
    images: [
      { project: 'base-project', name: 'shared-cache', diskSizeGb: 20, description: record() },
      { project: 'test-project', name: 'foreign', diskSizeGb: 10, description: 'made by hand' },
      { project: 'test-project', name: 'pending', diskSizeGb: 10, description: record(), status: 'PENDING' },
      { project: 'test-project', name: 'newer-format', diskSizeGb: 10, description: record({ disk: 99 }) },
      { project: 'test-project', name: 'arm', diskSizeGb: 10, description: record({ platform: 'linux/arm64' }) },
    ],
  });

  it('starts from an image of another project, named by its URL', async () => {
    const r = await h.cli([
      ...BASE_ARGS,
      '--image-name=mine',
      '--container-image=nginx:1',
      '--disk-size-gb=10',
      '--base-image=https://compute.googleapis.com/compute/v1/projects/base-project/global/images/shared-cache',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(diskInserts(h)[0]).toMatchObject({ sourceImage: 'projects/base-project/global/images/shared-cache', sizeGb: '20' });
    expect(vmMetadata(h)['gdib-data-disk']).toBe('from-image');
    expect(r.stdout).toContain('Built incrementally from: projects/base-project/global/images/shared-cache\n');
    expect(h.emu.state.image('base-project', 'shared-cache')).toBeDefined();
    expectNothingLeft(h.emu);
  });

  it.each<[string, string]>([
    [
      'foreign',
      'base image projects/test-project/global/images/foreign cannot be reused: it was not built by this tool (its description holds no record of what is on the disk) (--base-image)',
    ],
    ['pending', 'base image projects/test-project/global/images/pending cannot be reused: it is PENDING, not READY (--base-image)'],
    [
      'newer-format',
      'base image projects/test-project/global/images/newer-format cannot be reused: its disk format is version 99, and this version of the tool reuses only version 1 (--base-image)',
    ],
    [
      'arm',
      'base image projects/test-project/global/images/arm cannot be reused: it holds images for linux/arm64, and this build is for linux/amd64 (--platform) (--base-image)',
    ],
    ['missing', 'base image projects/test-project/global/images/missing does not exist (--base-image)'],
  ])('%s: exit 1 in preflight with the reason, nothing created', async (name, message) => {
    const r = await h.cli([...BASE_ARGS, '--image-name=mine', '--container-image=nginx:1', `--base-image=${name}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${message}\n`);
    expect(mutations(h, 0)).toEqual([]);
    expectNothingLeft(h.emu);
  });
});
