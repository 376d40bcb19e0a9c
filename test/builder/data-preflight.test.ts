// Preflight of a data disk on the fake cloud, at the scale the emulator cannot hold: the cap on the number of files
// (the manifest is one JSON text) and the size the disk needs with an inode for every file and directory.
import { describe, expect, it } from 'vitest';
import { dataDiskNeededGb } from '../../src/builder/steps/list-data-sources.js';
import { BuildError } from '../../src/errors.js';
import { dataDiskInodes, MAX_DATA_FILES, type DataFile } from '../../src/vm/contract.js';
import { FakeCloud, runOnFakeCloud } from '../helpers/fake-cloud.js';
import { buildFlags, parseConfig } from '../helpers/plan.js';

const GIB = 1024 ** 3;

async function preflight(cloud: FakeCloud, sources: string[]) {
  const { 'container-image': _, ...flags } = buildFlags({ 'data-source': sources });
  const { error } = await runOnFakeCloud(cloud, parseConfig(flags, {}).plan);
  return error;
}

describe('a data disk at preflight', () => {
  it('more files than a data disk takes, all sources together: one line naming --data-source, nothing created', async () => {
    const cloud = new FakeCloud();
    // One object repeated: the count is what matters, and it must be refused before the files are compared.
    const file: DataFile = { source: 0, name: 'a/x', path: 'a/x', size: 1, checksum: { size: true } };
    const counts = [600_000, MAX_DATA_FILES - 600_000 + 1];
    cloud.dataSources = {
      resolve: (source, index) =>
        Promise.resolve({
          source: { ...source, prefix: true },
          files: new Array<DataFile>(counts[index]!).fill({ ...file, source: index }),
        }),
    };
    const error = await preflight(cloud, ['gs://weights/a/', 'gs://weights/b/']);
    expect(error).toBeInstanceOf(BuildError);
    expect(error!.message).toBe(
      `--data-source: the sources hold ${MAX_DATA_FILES + 1} files, more than the ${MAX_DATA_FILES} a data disk takes; split them across data disks`,
    );
    expect(cloud.calls.filter((c) => /insert|delete|create/i.test(c))).toEqual([]);
  });

  it('the size needed counts a block and an inode table entry for every inode mkfs makes (files, directories)', () => {
    // 1,000,000 files of 1 KiB, 1,000 to a directory: they fit 10 GB once mkfs makes an inode for each (-N).
    const files: DataFile[] = Array.from({ length: 1_000_000 }, (_, i) => ({
      source: 0,
      name: `d${Math.floor(i / 1000)}/f${i}`,
      path: `m/d${Math.floor(i / 1000)}/f${i}`,
      size: 1024,
      checksum: { size: true },
    }));
    const inodes = dataDiskInodes(files);
    expect(inodes).toBe(1_000_000 + 1_000 + 1 + 64);
    expect(dataDiskNeededGb(1024 * 1_000_000, inodes)).toBe(10);
    expect(dataDiskNeededGb(30 * GIB, 66)).toBe(32);
  });
});
