// Rendering from recorded events: a terminal gets a live status line under the scrolling serial log; CI and
// pipes get plain timestamped lines; --quiet keeps warnings, errors and the result; --json writes events to stdout.
import { describe, expect, it } from 'vitest';
import type { BuildEvent, BuildResult } from '../../src/builder/events.js';
import { createRenderer } from '../../src/io/render.js';

const result: BuildResult = {
  version: 1,
  state: 'succeeded',
  mode: 'build',
  runId: 'abc123',
  project: 'p',
  zone: 'z',
  image: { name: 'i', uri: 'projects/p/global/images/i' },
  containerImages: ['nginx:1'],
  imageDigests: {},
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:01:05.000Z',
  steps: {},
  vmPhases: {},
  logs: 'gs://b/x/',
  leftovers: [],
};

const recorded: BuildEvent[] = [
  { type: 'run-started', runId: 'abc123', mode: 'build', logs: 'gs://b/x/' },
  { type: 'step-started', step: 'wait-vm', title: 'Waiting for the VM' },
  { type: 'vm-phase', phase: 'pulling', progress: '1/2 images' },
  { type: 'serial', line: 'pulled nginx:1' },
  { type: 'warning', message: 'something odd' },
  { type: 'vm-progress', progress: '2/2 images' },
  { type: 'result', result },
];

function render(opts: { live: boolean; quiet: boolean; json?: boolean }) {
  let err = '';
  let out = '';
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  const r = createRenderer(
    { write: (s) => void (err += s) },
    { ...opts, json: opts.json ? { write: (s) => void (out += s) } : undefined, now: () => (t += 1000) },
  );
  for (const e of recorded) r(e);
  r.close();
  return { err, out };
}

describe('renderer', () => {
  it('non-TTY: plain lines with ISO timestamps, no control characters', () => {
    const { err } = render({ live: false, quiet: false });
    expect(err).not.toContain('\x1b');
    expect(err).not.toContain('\r');
    expect(err).toMatch(/^2026-01-01T00:00:0\d\.000Z Building \(run abc123\); logs: gs:\/\/b\/x\/$/m);
    expect(err).toContain('Z VM: pulling (1/2 images)\n');
    expect(err).toContain('  vm | pulled nginx:1\n');
    expect(err).toContain('Z warning: something odd\n');
    expect(err).toContain('Z VM: 2/2 images\n');
  });

  it('TTY: a status line with phase, progress and elapsed time, erased before each scrolled line', () => {
    const { err } = render({ live: true, quiet: false });
    expect(err).toContain('\r\x1b[2KVM: pulling (1/2 images) · 0:');
    expect(err).toContain('\r\x1b[2K  vm | pulled nginx:1\n');
    expect(err).toContain('VM: pulling (2/2 images)');
    // The result is the last thing on the terminal: the status line is not drawn again after it.
    expect(err.endsWith('succeeded in 1m5s\n')).toBe(true);
  });

  it('--quiet keeps warnings (and errors) only', () => {
    const { err } = render({ live: false, quiet: true });
    expect(err.trim().split('\n')).toEqual([expect.stringMatching(/warning: something odd$/)]);
  });

  it('--json writes each event as a versioned JSON line', () => {
    const { out } = render({ live: false, quiet: true, json: true });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { v: number; type: string; result?: { image: { uri: string } } });
    expect(lines.map((l) => l.type)).toEqual(recorded.map((e) => e.type));
    expect(lines.every((l) => l.v === 1)).toBe(true);
    expect(lines.at(-1)!.result!.image.uri).toBe('projects/p/global/images/i');
  });
});
