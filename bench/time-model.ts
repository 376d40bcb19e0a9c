// The end-to-end time model (bench/lib/time-model.ts), computed from the figures the other benchmarks wrote in
// docs/benchmarks/ (run them first; a missing one leaves its rows assumed). Writes docs/benchmarks/time-model.json
// and time-model.md. Alone: `npm run bench -- bench/time-model.ts` (seconds).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { BOOT_RELEASE } from './lib/install.js';
import { RESULTS, writeResult } from './lib/results.js';
import { timeModel, timeModelTables } from './lib/time-model.js';

const data = <T>(name: string): T | undefined => {
  const f = join(RESULTS, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { data: T }).data : undefined;
};

describe('the time model', () => {
  it('a build on real GCP, phase by phase, from the measured figures', () => {
    const inputs = { cli: data('cli'), onVm: data('on-vm'), install: data('install'), release: BOOT_RELEASE } as Parameters<
      typeof timeModel
    >[0];
    const rows = timeModel(inputs);
    writeResult('time-model', rows, timeModelTables(rows, BOOT_RELEASE));
  });
});
