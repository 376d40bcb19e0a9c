// API economy (docs/benchmarks.md, section 2): compute requests per simulated minute of the VM phase, the most in any
// 60 s, how the serial polling adapts to the VM's output; and how long after the VM reports `succeeded` the CLI starts
// its next step.
import { kindOf, type Kind } from './emulator.js';
import { summarize, type Summary } from './stats.js';
import type { ScriptedBuild, ScriptSection } from './vm-phase.js';

type Counted = 'compute' | 'guest' | 'serial';

export interface ApiEconomy {
  k: number;
  vmPhaseSec: number;
  /** Averages over the whole VM phase, per simulated minute. */
  perMinute: Record<Counted, number>;
  /** Most requests in any 60 simulated seconds of the VM phase. */
  mostIn60s: Record<Counted, number>;
  /** Gaps between consecutive serial reads, simulated seconds, by the VM's output at the time. */
  serialGaps: { flowing: Summary; quiet: Summary };
}

const COUNTED: Record<Counted, Kind[]> = { compute: ['serial', 'guest', 'opwait', 'other'], guest: ['guest'], serial: ['serial'] };

/** Simulated seconds from the VM's `succeeded` to the next step's first request (`instances.detachDisk`). */
export function detectionSec(b: ScriptedBuild): number {
  const next = b.requests.find((r) => r.time >= b.marks.succeeded! && r.call === 'instances.detachDisk');
  if (!next) throw new Error('no instances.detachDisk after the VM succeeded');
  return ((next.time - b.marks.succeeded!) * b.k) / 1000;
}

export function apiEconomy(b: ScriptedBuild, sections: ScriptSection[]): ApiEconomy {
  const simSec = (t: number) => ((t - b.vmStartedAt) * b.k) / 1000;
  const vmPhaseSec = simSec(b.marks.succeeded!);
  // Strictly after the VM's start: the operation wait that started it can share its millisecond.
  const inVm = b.requests.filter((r) => r.time > b.vmStartedAt && r.time <= b.marks.succeeded!);
  const at = (c: Counted) => inVm.filter((r) => COUNTED[c].includes(kindOf(r.call))).map((r) => simSec(r.time));
  const mostIn60s = (ts: number[]) => {
    let best = 0;
    for (let i = 0, j = 0; i < ts.length; i++) {
      while (j < ts.length && ts[j]! < ts[i]! + 60) j++;
      best = Math.max(best, j - i);
    }
    return best;
  };
  const serial = at('serial');
  // A gap is quiet when the VM wrote nothing during it, flowing when output came all along.
  const gaps = { flowing: [] as number[], quiet: [] as number[] };
  for (let i = 0; i + 1 < serial.length; i++) {
    const output = sections.find((s) => serial[i]! >= s.from && serial[i + 1]! <= s.to)?.output;
    if (output === 'flowing' || output === 'quiet') gaps[output].push(serial[i + 1]! - serial[i]!);
  }
  const each = (f: (ts: number[]) => number) => ({ compute: f(at('compute')), guest: f(at('guest')), serial: f(serial) });
  return {
    k: b.k,
    vmPhaseSec,
    perMinute: each((ts) => (ts.length * 60) / vmPhaseSec),
    mostIn60s: each(mostIn60s),
    serialGaps: { flowing: summarize(gaps.flowing), quiet: summarize(gaps.quiet) },
  };
}
