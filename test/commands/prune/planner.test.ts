// prune's planner: which images are kept (and why), deprecated, deleted, waited on or ignored.
import { describe, expect, it } from 'vitest';
import { deprecatedSince, planPrune, type FamilyImage, type PruneRules } from '../../../src/commands/prune/planner.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const rules = (over: Partial<PruneRules> = {}): PruneRules => ({
  project: 'p',
  keep: 3,
  minAgeMs: 7 * DAY,
  delete: false,
  now: NOW,
  ...over,
});
/** An image this tool built, `days` old. */
const img = (name: string, days: number, over: Partial<FamilyImage> = {}): FamilyImage => ({
  name,
  createdAt: NOW - days * DAY,
  status: 'READY',
  builtByTool: true,
  ...over,
});
const deprecatedDaysAgo = (days: number): FamilyImage['deprecated'] => ({
  state: 'DEPRECATED',
  replacement: 'projects/p/global/images/x',
  deprecated: new Date(NOW - days * DAY).toISOString(),
});
const actions = (plan: ReturnType<typeof planPrune>) => Object.fromEntries(plan.decisions.map((d) => [d.image.name, d.action]));

describe('planPrune', () => {
  it('keeps the newest --keep and deprecates the rest, pointing them at the newest kept image', () => {
    const images = [img('v1', 50), img('v5', 10), img('v3', 30), img('v4', 20), img('v2', 40)];
    const plan = planPrune(images, [], rules());
    expect(plan.decisions.map((d) => d.image.name)).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
    expect(actions(plan)).toEqual({ v5: 'keep', v4: 'keep', v3: 'keep', v2: 'deprecate', v1: 'deprecate' });
    expect(plan.replacement).toBe('projects/p/global/images/v5');
    const v2 = plan.decisions.find((d) => d.image.name === 'v2')!;
    expect(v2).toMatchObject({
      action: 'deprecate',
      status: { state: 'DEPRECATED', replacement: 'projects/p/global/images/v5', deprecated: new Date(NOW).toISOString() },
    });
    expect(plan.decisions[0]).toMatchObject({ action: 'keep', reasons: ['newest (1 of --keep 3)'] });
  });

  it('keeps anything younger than --min-age, whatever --keep says', () => {
    const plan = planPrune([img('a', 1), img('b', 2), img('c', 6.9), img('d', 7.1)], [], rules({ keep: 1 }));
    expect(actions(plan)).toEqual({ a: 'keep', b: 'keep', c: 'keep', d: 'deprecate' });
    expect(plan.decisions[1]).toMatchObject({ reasons: ['young (created 2d ago, --min-age 7d)'] });
  });

  it('--keep below 1 still keeps the newest: a family is never left without an image', () => {
    expect(actions(planPrune([img('a', 20), img('b', 30)], [], rules({ keep: 0 })))).toEqual({ a: 'keep', b: 'deprecate' });
  });

  it('never touches an image in use, and lists every user', () => {
    const uses = [
      { image: 'old', by: 'projects/q/locations/europe-west4/clusters/c2/nodePools/pool' },
      { image: 'old', by: 'ComputeClass cached in projects/p/locations/us-central1/clusters/c1' },
    ];
    const oldDeprecated = img('old', 90, { deprecated: deprecatedDaysAgo(60) });
    const plan = planPrune([img('new', 10), oldDeprecated], uses, rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ new: 'keep', old: 'keep' });
    expect(plan.decisions[1]).toMatchObject({
      reasons: [
        'in use by ComputeClass cached in projects/p/locations/us-central1/clusters/c1',
        'in use by projects/q/locations/europe-west4/clusters/c2/nodePools/pool',
      ],
    });
  });

  it('ignores images it did not build and images not READY; they count for nothing', () => {
    const plan = planPrune(
      [img('foreign', 1, { builtByTool: false }), img('pending', 1, { status: 'PENDING' }), img('a', 20), img('b', 30)],
      [],
      rules({ keep: 1 }),
    );
    expect(actions(plan)).toEqual({ foreign: 'ignore', pending: 'ignore', a: 'keep', b: 'deprecate' });
    const foreign = plan.decisions[0]!;
    expect(foreign.action === 'ignore' && foreign.why).toContain('not built by gke-disk-image-builder');
  });

  it('an image ACTIVE with build-time times is deprecated like any ACTIVE one', () => {
    const withTimes = img('b', 30, { deprecated: { state: 'ACTIVE', deleted: new Date(NOW - DAY).toISOString() } });
    const plan = planPrune([img('a', 20), withTimes], [], rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ a: 'keep', b: 'deprecate' });
  });

  it('--delete deletes what has been deprecated for at least --min-age; the rest waits', () => {
    const images = [img('a', 20), img('b', 30, { deprecated: deprecatedDaysAgo(8) }), img('c', 40, { deprecated: deprecatedDaysAgo(2) })];
    expect(actions(planPrune(images, [], rules({ keep: 1 })))).toEqual({ a: 'keep', b: 'wait', c: 'wait' });
    const plan = planPrune(images, [], rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ a: 'keep', b: 'delete', c: 'wait' });
    expect(plan.decisions[2]).toMatchObject({ why: 'DEPRECATED for 2d; deleted once deprecated for --min-age 7d' });
  });

  it('a deprecated image with no past time (deprecated by hand) gets its time recorded, keeping its state', () => {
    const byHand = img('b', 30, { deprecated: { state: 'OBSOLETE' } });
    const future = img('c', 40, { deprecated: { state: 'DEPRECATED', deprecated: new Date(NOW + DAY).toISOString() } });
    const plan = planPrune([img('a', 20), byHand, future], [], rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ a: 'keep', b: 'deprecate', c: 'deprecate' });
    expect(plan.decisions[1]).toMatchObject({ status: { state: 'OBSOLETE', deprecated: new Date(NOW).toISOString() } });
  });

  it('a cluster that could not be read withholds every deletion, and says which', () => {
    const images = [img('a', 20), img('b', 30), img('c', 40, { deprecated: deprecatedDaysAgo(30) })];
    const plan = planPrune(images, [], rules({ keep: 1, delete: true }), ['projects/p/locations/us-east1/clusters/x']);
    expect(actions(plan)).toEqual({ a: 'keep', b: 'deprecate', c: 'wait' });
    expect(plan.withheld).toContain('could not read projects/p/locations/us-east1/clusters/x');
    expect(plan.decisions[2]).toMatchObject({ why: plan.withheld });
  });

  it('the replacement is the newest kept image that is still ACTIVE', () => {
    const plan = planPrune([img('a', 1, { deprecated: { state: 'DEPRECATED' } }), img('b', 2), img('c', 30)], [], rules({ keep: 2 }));
    expect(plan.replacement).toBe('projects/p/global/images/b');
  });

  it('--keep counts ACTIVE images: a newer image deprecated by hand neither counts nor is the replacement', () => {
    // The family resolves to its newest ACTIVE image: b. Keeping a instead would deprecate b and leave the family empty.
    const byHand = img('a', 20, { deprecated: { state: 'DEPRECATED' } });
    const plan = planPrune([byHand, img('b', 30), img('c', 40)], [], rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ a: 'deprecate', b: 'keep', c: 'deprecate' });
    expect(plan.replacement).toBe('projects/p/global/images/b');
    expect(plan.decisions[1]).toMatchObject({ reasons: ['newest (1 of --keep 1)'] });
    expect(plan.decisions[2]).toMatchObject({ status: { state: 'DEPRECATED', replacement: 'projects/p/global/images/b' } });
    // Deprecated long ago, the newer one is deleted in turn; the newest ACTIVE image stays.
    const long = planPrune([img('a', 20, { deprecated: deprecatedDaysAgo(10) }), img('b', 30)], [], rules({ keep: 1, delete: true }));
    expect(actions(long)).toEqual({ a: 'delete', b: 'keep' });
  });

  it('with no ACTIVE image, the newest are kept (making one ACTIVE again restores the family) and none is a replacement', () => {
    const images = [img('a', 20, { deprecated: deprecatedDaysAgo(10) }), img('b', 30, { deprecated: deprecatedDaysAgo(10) })];
    const plan = planPrune(images, [], rules({ keep: 1, delete: true }));
    expect(actions(plan)).toEqual({ a: 'keep', b: 'delete' });
    expect(plan.decisions[0]).toMatchObject({ reasons: ['newest (1 of --keep 1; none is ACTIVE)'] });
    expect(plan.replacement).toBeUndefined();
  });

  it('an empty family plans nothing', () => {
    expect(planPrune([], [], rules())).toEqual({ decisions: [] });
  });
});

describe('deprecatedSince', () => {
  it('the earliest past time of a non-ACTIVE status', () => {
    const t = (d: number) => new Date(NOW - d * DAY).toISOString();
    expect(deprecatedSince(img('x', 1, { deprecated: { state: 'DEPRECATED', deprecated: t(3), obsolete: t(5) } }), NOW)).toBe(
      NOW - 5 * DAY,
    );
    expect(deprecatedSince(img('x', 1, { deprecated: { state: 'ACTIVE', deprecated: t(3) } }), NOW)).toBeUndefined();
    expect(deprecatedSince(img('x', 1), NOW)).toBeUndefined();
  });
});
