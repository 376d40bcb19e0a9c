// Hostile input: random and adversarial values for every flag never produce a stack trace; invalid input always
// exits 2 without a single request reaching the emulator; valid input reaches the VM only as inert metadata values
// (the startup script itself is never changed by input).
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS } from '../../src/commands/build/flags.js';
import { startupScript } from '../../src/startup-script/render.js';
import { useEmulator } from '../integration/harness.js';

const scratch = mkdtempSync(join(tmpdir(), 'gdib-fuzz-'));

const hostile = fc.oneof(
  fc.constantFrom(
    '$(id)',
    '`id`',
    ';rm -rf /',
    "a'b",
    'a"b',
    'x\ny',
    'x\r\ny',
    '\u0000',
    '../../etc/passwd',
    '--',
    '-',
    '',
    ' ',
    '%s%n',
    '${HOME}',
    '\\',
    '*',
    '🙂',
    'ß',
    'İ',
    '\u202e',
  ),
  fc.constantFrom('-1', '0', '9', '65537', '99999999999999999999', '1e3', 'NaN', 'Infinity', '0x10', '1.5', '10 '),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ minLength: 300, maxLength: 5000 }),
);

const plausible: Record<string, fc.Arbitrary<string>> = {
  'project-name': fc.constantFrom('test-project', 'other-project'),
  zone: fc.constantFrom('us-central1-a', 'europe-west4-a', 'mars-north9-z'),
  'image-name': fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/),
  'gcs-path': fc.constantFrom('gs://test-bucket', 'gs://test-bucket/a/b'),
  'container-image': fc.constantFrom('nginx:1', 'gcr.io/p/app@sha256:' + 'a'.repeat(64), '127.0.0.1:5000/x/y:z'),
  timeout: fc.constantFrom('1s', '20m', '1h30m'),
  'image-labels': fc.constantFrom('a=b', 'team=ml'),
};

const flagValue = (name: string) => fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 2, arbitrary: plausible[name] ?? hostile });

const argvArb = fc
  .array(
    fc
      .tuple(fc.constantFrom(...Object.keys(BUILD_FLAGS)), fc.constantFrom('--', '-'), fc.boolean())
      .chain(([name, dash, joined]) => flagValue(name).map((v) => (joined ? [`${dash}${name}=${v}`] : [`${dash}${name}`, v]))),
    { minLength: 0, maxLength: 6 },
  )
  .chain((parts) =>
    // Half the runs start from a complete, valid command line, so hostile values are also met one at a time.
    fc.boolean().map((withBase) => [...(withBase ? BASE : []), ...parts.flat()]),
  );

const BASE = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--image-name=fuzz',
  '--gcs-path=gs://test-bucket',
  '--container-image=nginx:1',
  '--skip-image-check',
];

describe('hostile input', () => {
  const h = useEmulator();

  it('never a stack trace; invalid → exit 2 with no request; valid → inert metadata', async () => {
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        const before = h.emu.requests.length;
        // A scratch directory as the working directory: a valid relative output path (--output,
        // --k8s-manifests-filepath) is written there, never into the checkout.
        const r = await h.cli(argv, { cwd: scratch });
        expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
        expect(r.stderr).not.toContain('error: unexpected:');
        if (r.code === 2) {
          expect(h.emu.requests.length).toBe(before);
          const lines = r.stderr.trimEnd().split('\n');
          for (const l of lines.slice(0, -1)) expect(l).toMatch(/^error: --[a-z0-9-]+: |^error: /);
          return;
        }
        valid++;
        expect([0, 1]).toContain(r.code);
        const insert = h.emu.requests.slice(before).find((q) => q.call === 'instances.insert');
        if (!insert) return; // stopped by preflight (e.g. an unknown zone)
        const items = (insert.body as { metadata: { items: Array<{ key: string; value: string }> } }).metadata.items;
        const meta = Object.fromEntries(items.map((i) => [i.key, i.value]));
        expect(meta['startup-script']).toBe(startupScript(meta['gdib-mode'] === 'verify' ? 'verify' : 'build'));
        // No item with an empty value: verify pulls nothing, so it sends no image list.
        expect(Object.values(meta)).not.toContain('');
        expect(Object.keys(meta).sort()).toEqual([
          'enable-guest-attributes',
          'gdib-agent',
          ...(meta['gdib-mode'] === 'verify' ? [] : ['gdib-container-images']),
          'gdib-device-name',
          'gdib-image-pull-auth',
          'gdib-mode',
          'gdib-platform',
          ...(meta['gdib-mode'] === 'verify' ? [] : ['gdib-pull-stall-timeout']),
          'gdib-run-id',
          'gdib-status-nonce',
          'gdib-store-checksums',
          'startup-script',
        ]);
      }),
      { numRuns: 150, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    // The property is only meaningful if both branches were exercised.
    expect(valid).toBeGreaterThan(0);
  }, 180_000);
});
