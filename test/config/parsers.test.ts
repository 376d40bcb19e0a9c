import { describe, expect, it } from 'vitest';
import { byName } from '../../src/config/flag.js';
import { BUILD_FLAGS } from '../../src/commands/build/flags.js';
import { normalizeArgv } from '../../src/config/argv.js';
import { parseGoDuration } from '../../src/config/duration.js';
import { parseImageReference } from '../../src/config/reference.js';
import * as rules from '../../src/config/rules.js';

describe('parseGoDuration', () => {
  it.each<[string, number | undefined]>([
    ['20m', 1_200_000],
    ['1h30m', 5_400_000],
    ['1h30m15s', 5_415_000],
    ['1.5h', 5_400_000],
    ['300ms', 300],
    ['.5s', 500],
    ['0', 0],
    ['2h45m0.5s', 9_900_500],
    ['20', undefined],
    ['m', undefined],
    ['1d', undefined],
    ['', undefined],
    ['1h 30m', undefined],
    ['-1m', -60_000],
  ])('%s', (text, ms) => expect(parseGoDuration(text)).toBe(ms));
});

describe('parseImageReference', () => {
  it.each([
    ['nginx:1.27', { registry: 'docker.io', repository: 'nginx', tag: '1.27' }],
    ['library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['us-docker.pkg.dev/p/repo/app:v1', { registry: 'us-docker.pkg.dev', repository: 'p/repo/app', tag: 'v1' }],
    ['127.0.0.1:5000/a/b:c', { registry: '127.0.0.1:5000', repository: 'a/b', tag: 'c' }],
    ['localhost/app:1', { registry: 'localhost', repository: 'app', tag: '1' }],
    [`gcr.io/p/a:1@sha256:${'b'.repeat(64)}`, { registry: 'gcr.io', repository: 'p/a', tag: '1', digest: `sha256:${'b'.repeat(64)}` }],
  ])('%s', (text, expected) => expect(parseImageReference(text)).toEqual(expected));

  it.each([
    'nginx',
    'nginx:',
    ':1',
    'UPPER/app:1',
    'a b:1',
    'app:1\n',
    'app:$(id)',
    'app:`id`',
    "app:1'",
    'app@sha256:xyz',
    '/app:1',
    'app:-bad',
  ])('rejects %j', (text) => expect(typeof parseImageReference(text)).toBe('string'));
});

describe('normalizeArgv', () => {
  it.each<[string[], string[]]>([
    [
      ['-project-name=p', '-zone', 'z'],
      ['--project-name=p', '--zone', 'z'],
    ],
    [['--project=p'], ['--project-name=p']],
    [['--verify-only'], ['--verify-only=true']],
    [['-verify-only=false'], ['--verify-only=false']],
    [
      ['--store-snapshot-checksum=false', 'verify'],
      ['--store-snapshot-checksum=false', 'verify'],
    ],
    [['--unknown=1'], ['--unknown=1']],
    [['--instance-disk-size-gb=50'], ['--boot-disk-size-gb=50']],
    [
      ['--', '-zone'],
      ['--', '-zone'],
    ],
    [['-help'], ['--help']],
  ])('%j', (argv, expected) => expect(normalizeArgv(argv, byName(BUILD_FLAGS))).toEqual(expected));
});

describe('--kms-key', () => {
  it.each([
    ['projects/p-123/locations/us-central1/keyRings/ring_1/cryptoKeys/key-1', true],
    ['projects/example.com:p/locations/global/keyRings/r/cryptoKeys/k', true],
    ['projects/p/locations/us-central1/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1', false],
    ['projects/p/keyRings/r/cryptoKeys/k', false],
    ['locations/us/keyRings/r/cryptoKeys/k', false],
    ['projects/p/locations/us/keyRings/r/cryptoKeys/', false],
  ])('%s → valid: %s', (key, ok) => expect(rules.kmsKey(key) === undefined).toBe(ok));

  it.each([
    ['global', 'us-central1', true],
    ['us-central1', 'us-central1', true],
    ['us', 'us-east4', true],
    ['europe', 'europe-west4', true],
    ['asia', 'asia-east1', true],
    ['us', 'europe-west4', false],
    ['europe-west4', 'us-central1', false],
    ['nam4', 'us-central1', undefined],
  ])('a key in %s for disks in %s: %s', (location, region, fits) => expect(rules.kmsLocationFits(location, region)).toBe(fits));
});
