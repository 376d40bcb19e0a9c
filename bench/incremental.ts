// Incremental rebuilds on the rig (bench/lib/incremental.ts): a fresh build of the next release against a rebuild on a
// disk made from the previous release's image. Writes docs/benchmarks/incremental.json and incremental.md.
// Alone: `npm run bench -- bench/incremental.ts`.
import { describe, it } from 'vitest';
import { incrementalTables, measureIncremental } from './lib/incremental.js';
import { writeResult } from './lib/results.js';

const log = (s: string) => console.log(`[bench] ${s}`);

describe('incremental rebuilds', () => {
  it('a fresh build vs a rebuild on the previous image (one top layer changed)', { timeout: 900_000 }, async () => {
    const r = await measureIncremental(log);
    if ('skipped' in r) throw new Error(`the rig cannot run here: ${r.skipped}`);
    writeResult('incremental', r, incrementalTables(r));
  });
});
