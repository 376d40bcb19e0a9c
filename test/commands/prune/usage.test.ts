// How prune reads an image reference of a node pool or ComputeClass, and which allowlist patterns pin an image.
import { describe, expect, it } from 'vitest';
import { exactImageOfPattern, imageOf } from '../../../src/commands/prune/usage.js';

describe('imageOf', () => {
  it.each([
    ['projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['https://www.googleapis.com/compute/v1/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['https://compute.googleapis.com/compute/v1/projects/p/global/images/cache-1', { project: 'p', name: 'cache-1' }],
    ['global/images/cache-1', { project: 'home', name: 'cache-1' }],
    ['cache-1', { project: 'home', name: 'cache-1' }],
    ['projects/p/global/images/family/cache', { project: 'p', family: 'cache' }],
  ])('%s', (ref, want) => expect(imageOf(ref, 'home')).toEqual(want));

  it.each(['', 'projects/p/zones/z/disks/d', 'Cache', 'projects/p/global/images/'])('no image in %j', (ref) =>
    expect(imageOf(ref, 'home')).toBeUndefined(),
  );
});

describe('exactImageOfPattern', () => {
  it('a pattern that can match one image only pins it (anchors allowed)', () => {
    expect(exactImageOfPattern('projects/my-project/global/images/cache-1')).toEqual({ project: 'my-project', name: 'cache-1' });
    expect(exactImageOfPattern('^projects/my-project/global/images/cache-1$')).toEqual({ project: 'my-project', name: 'cache-1' });
  });

  it.each([
    'projects/p/global/images/.*',
    'projects/p/global/images/cache-[0-9]+',
    'projects/p/global/images/cache-1.*',
    'projects/.*/global/images/x',
    'projects/p/global/images/cache-1|x',
  ])('a wildcard pins nothing: %s', (pattern) => expect(exactImageOfPattern(pattern)).toBeUndefined());
});
