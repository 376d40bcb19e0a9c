// gdib-data-plan is checked field by field before anything is touched: a destination or a listed path is taken only
// when it already is a plain relative path inside the disk.
import { describe, expect, it } from 'vitest';
import type { DataFile, DataSource } from '../../../src/vm/contract.js';
import { checkFilePaths, diskPathProblem, parseDataPlan, parseHfTokenSecret } from '../../../src/vm/agent/data-plan.js';
import { Fail } from '../../../src/vm/agent/errors.js';

const FP = 'a'.repeat(64);
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const gcs: DataSource = { kind: 'gcs', bucket: 'weights', path: 'models/m1', prefix: true, dest: 'm1' };
const hf: DataSource = { kind: 'hf', repo: 'org/model', revision: COMMIT, dest: 'model' };
const plan = (sources: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ sources, fingerprint: FP, ...extra });

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Fail);
    return (err as Fail).message;
  }
  throw new Error('did not fail');
}

describe('parseDataPlan', () => {
  it('takes a plan of gs:// and hf:// sources, the root as a destination included', () => {
    const root = { ...gcs, dest: '' };
    expect(parseDataPlan(plan([gcs, hf, root]))).toEqual({ sources: [gcs, hf, root], fingerprint: FP });
    expect(parseDataPlan(plan([gcs], { sourceFingerprints: ['b'.repeat(64)] })).sourceFingerprints).toEqual(['b'.repeat(64)]);
  });

  it.each([
    ['/etc', 'it is absolute'],
    ['../up', '".." part'],
    ['a/../../b', '".." part'],
    ['a/..', '".." part'],
    ['./a', 'not normalised'],
    ['a//b', 'not normalised'],
    ['a/', 'not normalised'],
    ['.', 'not normalised'],
    ['a\u0000b', 'control character'],
    ['a\nb', 'control character'],
    ['a\\..\\b', 'backslash'],
    ['gdib-data.json', 'keeps for itself'],
    ['lost+found/x', 'keeps for itself'],
    ['x'.repeat(256), 'longer than 255 bytes'],
    [`${'x/'.repeat(2100)}x`, 'longer than 4000 bytes'],
  ])('refuses the destination %j', (dest, why) => {
    const message = failure(() => parseDataPlan(plan([{ ...gcs, dest }])));
    expect(message).toMatch(/^invalid gdib-data-plan: sources\[0\]\.dest /);
    expect(message).toContain(why);
    expect(message.includes('\u0000') || message.includes('\n')).toBe(false);
  });

  it.each([
    ['not JSON', '{', 'it is not JSON'],
    ['a list', '[]', 'must be a JSON object'],
    ['no sources', JSON.stringify({ sources: [], fingerprint: FP }), 'sources must be a non-empty list'],
    ['a short fingerprint', JSON.stringify({ sources: [gcs], fingerprint: 'abc' }), 'fingerprint must be 64 hex digits'],
    ['an unknown field', plan([gcs], { extra: 1 }), "unknown field(s) 'extra'"],
    ['an unknown source field', plan([{ ...gcs, url: 'x' }]), "sources[0] has unknown field(s) 'url'"],
    ['an unknown kind', plan([{ ...gcs, kind: 's3' }]), "kind must be 'gcs' or 'hf'"],
    ['a bad bucket', plan([{ ...gcs, bucket: 'A b' }]), 'is not a bucket name'],
    ['a non-boolean prefix', plan([{ ...gcs, prefix: 'yes' }]), 'prefix must be true or false'],
    ['a path with a newline', plan([{ ...gcs, path: 'a\nb' }]), 'is not an object name or prefix'],
    ['a branch, not a commit', plan([{ ...hf, revision: 'main' }]), 'must be a 40-hex commit'],
    ['a bad repository', plan([{ ...hf, repo: '../x' }]), 'is not a Hugging Face repository id'],
    ['a missing dest', plan([{ kind: 'hf', repo: 'org/m', revision: COMMIT }]), 'dest must be a string'],
    ['fingerprints per source that do not match the sources', plan([gcs], { sourceFingerprints: [] }), 'one 64-hex fingerprint per source'],
  ])('refuses %s', (_, text, why) => {
    expect(failure(() => parseDataPlan(text))).toContain(why);
  });
});

describe('checkFilePaths', () => {
  const file = (path: string, extra: Partial<DataFile> = {}): DataFile => ({
    source: 0,
    name: `models/m1/${path}`,
    path,
    size: 1,
    checksum: { size: true },
    generation: '1',
    ...extra,
  });
  const sources = [gcs];

  it('takes files under their destination', () => {
    expect(() => checkFilePaths([file('m1/a'), file('m1/d/b')], sources)).not.toThrow();
  });

  it.each([
    [
      [file('m1/../../etc/passwd')],
      `gs://weights/models/m1/m1/../../etc/passwd cannot be written to 'm1/../../etc/passwd' on the disk: it has a ".." part`,
    ],
    [[file('/etc/passwd')], 'it is absolute'],
    [[file('m1/a\u0000')], 'control character'],
    [[file('other/a')], "outside its destination 'm1'"],
    [[file('m1/a'), file('m1/a', { name: 'models/m1/b' })], "both go to 'm1/a' on the disk"],
    [[file('m1/a'), file('m1/a/b')], "is a file at 'm1/a', where gs://weights/models/m1/m1/a/b needs a directory"],
    [[file('m1/a', { source: 3 })], 'the listing names source 3'],
    [[file('m1/a', { size: -1 })], 'has no valid size'],
  ])('refuses %j', (files, why) => {
    expect(failure(() => checkFilePaths(files, sources))).toContain(why);
  });
});

describe('diskPathProblem and the token secret', () => {
  it('takes the root only where allowed', () => {
    expect(diskPathProblem('')).toBe('it is empty');
    expect(diskPathProblem('', true)).toBeUndefined();
  });

  it('takes a secret version name or nothing', () => {
    expect(parseHfTokenSecret('')).toBeUndefined();
    expect(parseHfTokenSecret('projects/p/secrets/hf/versions/3')).toBe('projects/p/secrets/hf/versions/3');
    expect(failure(() => parseHfTokenSecret('projects/p/secrets/hf; rm -rf /'))).toMatch(/^invalid gdib-hf-token-secret/);
  });
});
