import { describe, expect, it } from 'vitest';
import {
  compareRecords,
  dataRecordFor,
  describeRecord,
  diskKindOfRecord,
  DISK_FORMAT_VERSION,
  MAX_DESCRIPTION,
  parseRecord,
  recordFor,
  TOOL,
} from '../../src/builder/image-record.js';
import { dataFingerprint, type DataFile, type DataSource } from '../../src/vm/contract.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const refs = ['nginx:1.27', 'gcr.io/p/app:v1'];
const digests = { 'nginx:1.27': D1, 'gcr.io/p/app:v1': D2 };

describe('the image record', () => {
  it('round-trips through the description, with a human first line', () => {
    const r = recordFor(refs, digests, 'linux/amd64', true, '1.2.3');
    const text = describeRecord(r);
    expect(text.split('\n')[0]).toBe(`Built by ${TOOL} 1.2.3: 2 container images for linux/amd64.`);
    expect(parseRecord(text)).toEqual(r);
    expect(r).toMatchObject({ v: 1, tool: TOOL, disk: DISK_FORMAT_VERSION, platform: 'linux/amd64', checksums: true, count: 2 });
    expect(r.images).toEqual({ 'gcr.io/p/app:v1': D2, 'nginx:1.27': D1 });
    expect(compareRecords(parseRecord(text)!, r)).toEqual({ same: true, changes: [] });
  });

  it('is not found in a description this tool did not write', () => {
    expect(parseRecord(undefined)).toBeUndefined();
    expect(parseRecord('my image')).toBeUndefined();
    expect(parseRecord('x\ngdib:{not json')).toBeUndefined();
    expect(parseRecord('x\ngdib:{"v":1,"tool":"other","sum":"a","count":1}')).toBeUndefined();
  });

  it('keeps within GCE’s 2048 characters: a long list becomes a checksum and a count, still compared exactly', () => {
    const many = Array.from({ length: 40 }, (_, i) => `us-docker.pkg.dev/a-long-project-name/a-long-repository/image-${i}:v1`);
    const all = Object.fromEntries(many.map((r) => [r, D1]));
    const r = recordFor(many, all, 'linux/amd64', false);
    const text = describeRecord(r);
    expect(text.length).toBeLessThanOrEqual(MAX_DESCRIPTION);
    const back = parseRecord(text)!;
    expect(back.images).toBeUndefined();
    expect(back).toMatchObject({ count: 40, sum: r.sum });
    expect(compareRecords(back, r).same).toBe(true);
    const changed = recordFor(many, { ...all, [many[3]!]: D2 }, 'linux/amd64', false);
    expect(compareRecords(back, changed)).toEqual({
      same: false,
      changes: ["the container images differ (40 → 40 references; the image's record is a checksum only, too long to list them)"],
    });
  });

  it('names each changed, added and removed reference, and the settings that differ', () => {
    const old = recordFor(refs, digests, 'linux/amd64', true);
    const now = recordFor(['nginx:1.27', 'redis:7'], { 'nginx:1.27': D2, 'redis:7': D1 }, 'linux/arm64', false);
    expect(compareRecords(old, now).changes).toEqual([
      'platform linux/amd64 → linux/arm64 (--platform)',
      'snapshot checksums stored → not stored (--store-snapshot-checksum)',
      `nginx:1.27: ${D1} → ${D2}`,
      'redis:7: added',
      'gcr.io/p/app:v1: removed',
    ]);
  });

  it('never counts a reference without a digest as the same', () => {
    const unresolved = recordFor(refs, { 'nginx:1.27': D1 }, 'linux/amd64', true);
    expect(unresolved.unresolved).toBe(1);
    expect(compareRecords(unresolved, unresolved)).toEqual({
      same: false,
      changes: ['gcr.io/p/app:v1: could not be resolved from this machine, so it counts as changed'],
    });
    const full = recordFor(refs, digests, 'linux/amd64', true);
    expect(compareRecords(unresolved, full).changes).toEqual([
      'gcr.io/p/app:v1: was not resolved when the image was built, so it counts as changed',
    ]);
    // Without the per-reference list (too long), an unresolved reference in the old record still counts as changed.
    const { images: _i, ...short } = unresolved;
    expect(compareRecords(short, full).same).toBe(false);
  });

  it('counts another disk format as changed', () => {
    const r = recordFor(refs, digests, 'linux/amd64', true);
    expect(compareRecords({ ...r, disk: DISK_FORMAT_VERSION + 1 }, r).same).toBe(false);
  });
});

describe('the record of a data disk', () => {
  const C1 = '1'.repeat(40);
  const C2 = '2'.repeat(40);
  const gcs: DataSource = { kind: 'gcs', bucket: 'b', path: 'm', prefix: true, dest: 'm' };
  const hf = (revision: string): DataSource => ({ kind: 'hf', repo: 'org/x', revision, dest: 'x' });
  const file = (source: number, name: string, generation?: string): DataFile => ({
    source,
    name,
    path: `d/${name}`,
    size: 1,
    checksum: { size: true },
    ...(generation ? { generation } : {}),
  });
  const record = (sources: DataSource[], files: DataFile[]) => dataRecordFor(sources, files, dataFingerprint(files), '1.0.0');

  it('is of kind data, round-trips through the description, and is never a container-image base', () => {
    const r = record([gcs], [file(0, 'm/a', '5')]);
    expect(diskKindOfRecord(r)).toBe('data');
    expect(r).toMatchObject({ kind: 'data', platform: 'data', count: 1 });
    expect(parseRecord(describeRecord(r))).toEqual(r);
    expect(describeRecord(r)).toMatch(/^Built by gke-disk-image-builder 1\.0\.0: a data disk of 1 file\.\n/);
    const images = recordFor(['nginx:1'], { 'nginx:1': `sha256:${'a'.repeat(64)}` }, 'linux/amd64', true);
    expect(diskKindOfRecord(images)).toBe('images');
    expect(compareRecords(images, r)).toEqual({
      same: false,
      changes: ['it is a disk of container images, this build makes one of data files'],
    });
  });

  it('the same listing is the same; a rewritten object, a moved revision, an added and a removed source are named', () => {
    const old = record([gcs, hf(C1)], [file(0, 'm/a', '5'), file(1, 'w.bin')]);
    expect(compareRecords(old, record([gcs, hf(C1)], [file(0, 'm/a', '5'), file(1, 'w.bin')]))).toEqual({ same: true, changes: [] });
    expect(compareRecords(old, record([gcs, hf(C1)], [file(0, 'm/a', '6'), file(1, 'w.bin')])).changes).toEqual([
      'gs://b/m/=m: its objects changed (added, removed or rewritten)',
    ]);
    expect(compareRecords(old, record([gcs, hf(C2)], [file(0, 'm/a', '5'), file(1, 'w.bin')])).changes).toEqual([
      `hf://org/x@${C1} → hf://org/x@${C2}`,
    ]);
    const other: DataSource = { ...gcs, bucket: 'c' };
    expect(compareRecords(old, record([other, hf(C1)], [file(0, 'm/a', '5'), file(1, 'w.bin')])).changes).toEqual([
      'gs://c/m/=m: added',
      'gs://b/m/=m: removed',
    ]);
  });
});
