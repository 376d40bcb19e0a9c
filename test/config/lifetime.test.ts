// Image lifetimes (--deprecate-after & co, prune's --min-age): Go durations plus days, positive, in GCE's order.
import { describe, expect, it } from 'vitest';
import { parseLifetime } from '../../src/config/duration.js';
import { lifetime } from '../../src/config/rules.js';
import { imageLifetime } from '../../src/commands/build/deprecation.js';

const H = 3_600_000;

describe('parseLifetime', () => {
  it.each([
    ['30d', 30 * 24 * H],
    ['1d12h', 36 * H],
    ['720h', 720 * H],
    ['1.5d', 36 * H],
    ['90m', 1.5 * H],
    ['0', 0],
  ])('%s', (text, ms) => expect(parseLifetime(text)).toBe(ms));

  it.each(['', 'd', '30', '30days', '1d-2h', '1d+2h', '2h1d', 'soon', '1w'])('refuses %j', (text) =>
    expect(parseLifetime(text)).toBeUndefined(),
  );

  it('the check wants more than zero', () => {
    expect(lifetime('7d')).toBeUndefined();
    for (const v of ['0', '-1h', '0d', 'x']) expect(lifetime(v)).toMatch(/^expected a positive duration/);
  });
});

describe('imageLifetime', () => {
  it('keeps the times given, in ms', () => {
    expect(imageLifetime({ 'deprecate-after': '1d', 'delete-after': '2d' })).toEqual({
      lifetime: { deprecateAfterMs: 24 * H, deleteAfterMs: 48 * H },
      problems: [],
    });
    expect(imageLifetime({})).toEqual({ problems: [] });
  });

  it('each pair given must be in order: deprecated ≤ obsolete ≤ deleted (equal is fine)', () => {
    expect(imageLifetime({ 'deprecate-after': '2d', 'obsolete-after': '2d', 'delete-after': '48h' }).problems).toEqual([]);
    expect(imageLifetime({ 'deprecate-after': '3d', 'delete-after': '2d' }).problems).toEqual([
      '--delete-after: must not be shorter than --deprecate-after (3d > 2d)',
    ]);
    expect(imageLifetime({ 'deprecate-after': '1d', 'obsolete-after': '5d', 'delete-after': '2d' }).problems).toEqual([
      '--delete-after: must not be shorter than --obsolete-after (5d > 2d)',
    ]);
  });
});
