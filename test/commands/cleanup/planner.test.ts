// cleanup's planner: a resource is deleted only when its zone was read, its build's deadline has passed and its
// known age is at least --older-than; and the deadline label's format.
import { describe, expect, it } from 'vitest';
import { planCleanup } from '../../../src/commands/cleanup/planner.js';
import { formatDeadline, parseDeadline, type ManagedResource } from '../../../src/gcp/inventory.js';
import { DEFAULT_TUNING } from '../../../src/builder/context.js';
import { runDeadline } from '../../../src/builder/index.js';
import { buildFlags, parseConfig } from '../../helpers/plan.js';
import type { Run } from '../../../src/config/types.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');

const res = (name: string, ageMs: number, labels: Record<string, string> = {}, zone = 'z-a'): ManagedResource => ({
  kind: name.endsWith('-vm') ? 'vm' : 'disk',
  zone,
  name,
  createdAt: NOW - ageMs,
  labels: { 'gdib-managed': 'true', 'gdib-job': 'job', 'gdib-run': name.split('-')[1]!, ...labels },
});
const verdicts = (resources: ManagedResource[], unreachable: string[] = [], olderThanMs = HOUR) =>
  Object.fromEntries(
    planCleanup({ resources, unreachable }, NOW, olderThanMs).map((j) => [
      `${j.resource.zone}/${j.resource.name}`,
      j.verdict.action === 'delete' ? 'delete' : j.verdict.why,
    ]),
  );

describe('planCleanup', () => {
  it('leaves a run alone until its deadline, whatever the age of its resources; the latest deadline of the run counts', () => {
    const later = formatDeadline(NOW + HOUR);
    const past = formatDeadline(NOW - HOUR);
    expect(
      verdicts([
        res('job-aaaaaa-vm', 5 * HOUR, { 'gdib-deadline': later }),
        // The run's data disk without the label (edited by hand): still the run's.
        res('job-aaaaaa-disk', 5 * HOUR),
        res('job-bbbbbb-vm', 5 * HOUR, { 'gdib-deadline': past }),
        res('job-bbbbbb-disk', 5 * HOUR, { 'gdib-deadline': later }),
        res('job-cccccc-vm', 5 * HOUR, { 'gdib-deadline': past }),
      ]),
    ).toEqual({
      'z-a/job-aaaaaa-vm': 'running',
      'z-a/job-aaaaaa-disk': 'running',
      'z-a/job-bbbbbb-vm': 'running',
      'z-a/job-bbbbbb-disk': 'running',
      'z-a/job-cccccc-vm': 'delete',
    });
  });

  it('a deadline label that is not a time keeps the run; a run with no deadline label is judged by age', () => {
    expect(
      verdicts([
        res('job-aaaaaa-vm', 5 * HOUR, { 'gdib-deadline': 'soon' }),
        res('job-bbbbbb-vm', 5 * HOUR),
        res('job-cccccc-vm', HOUR / 2),
      ]),
    ).toEqual({ 'z-a/job-aaaaaa-vm': 'deadline-unreadable', 'z-a/job-bbbbbb-vm': 'delete', 'z-a/job-cccccc-vm': 'young' });
  });

  it('counts unknown age as young, even with --older-than 0', () => {
    expect(verdicts([res('job-aaaaaa-disk', NaN)], [], 0)).toEqual({ 'z-a/job-aaaaaa-disk': 'age-unknown' });
  });

  it('touches nothing in a zone the listing could not read', () => {
    expect(verdicts([res('job-aaaaaa-vm', 5 * HOUR, {}, 'z-a'), res('job-bbbbbb-vm', 5 * HOUR, {}, 'z-b')], ['z-b'])).toEqual({
      'z-a/job-aaaaaa-vm': 'delete',
      'z-b/job-bbbbbb-vm': 'unreachable',
    });
  });
});

describe('the deadline label', () => {
  it('is UTC to the second, rounded up, in the characters a label value allows, and reads back', () => {
    const v = formatDeadline(Date.parse('2026-06-01T12:34:56.200Z'));
    expect(v).toBe('20260601t123457z');
    expect(v).toMatch(/^[a-z0-9_-]{1,63}$/);
    expect(parseDeadline(v)).toBe(Date.parse('2026-06-01T12:34:57Z'));
    for (const bad of ['', '2026-06-01', '20261301t000000z', '20260601t123457', '1780317297']) expect(parseDeadline(bad)).toBeUndefined();
  });

  it("lies every step's --timeout ahead, and the steps a --spot retry runs again once more", () => {
    const run = (extra: Record<string, string> = {}) => parseConfig(buildFlags({ timeout: '1h30m', ...extra }), {}).plan as Run;
    const limits = DEFAULT_TUNING.insertSettleMs + DEFAULT_TUNING.cleanupTimeoutMs + DEFAULT_TUNING.logUploadTimeoutMs;
    const plain = runDeadline(run(), DEFAULT_TUNING, NOW) - NOW - limits;
    // preflight, compare-with-family, create-disk, create-vm, wait-vm, detach-disk, delete-vm, create-image, and the margin.
    expect(plain % (90 * 60_000)).toBe(10 * 60_000);
    expect(Math.floor(plain / (90 * 60_000))).toBeGreaterThanOrEqual(7);
    const spot = runDeadline(run({ spot: 'true' }), DEFAULT_TUNING, NOW) - NOW - limits;
    // create-disk, create-vm and wait-vm once more.
    expect(spot - plain).toBe(3 * 90 * 60_000);
  });
});
