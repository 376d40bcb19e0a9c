// API economy (docs/benchmarks.md, section 2): compute requests per simulated minute of the VM phase, by kind; how the serial
// polling adapts; and how long after the VM reports `succeeded` the CLI starts its next step.
import { kindOf, type Kind, type RecordedRequest } from './emulator.js';
import { summarize, type Summary } from './stats.js';
import type { ScriptedBuild, ScriptSection } from './vm-phase.js';

export interface MinuteRow {
  minute: number;
  output: string;
  serial: number;
  guest: number;
  opwait: number;
  other: number;
  compute: number;
  storage: number;
}

export interface Detection {
  /** (next step's first request − VM's succeeded) × k, simulated seconds. */
  delaySec: number;
  /** Until the read that saw `succeeded` (the polling wait), simulated seconds. */
  pollWaitSec: number;
  /** From that read to the next step's first request, real ms (one more serial read, the serial log's upload). */
  afterReadMs: number;
  /** Simulated seconds after the VM's start at which it reported success. */
  succeededAtSec: number;
}

export interface ApiEconomy {
  k: number;
  vmPhaseSec: number;
  minutes: MinuteRow[];
  /** Averages over the whole VM phase, per simulated minute. */
  perMinute: Record<Kind | 'compute', number>;
  /** Most requests in any 60 simulated seconds of the VM phase. */
  slidingMax: { compute: number; guest: number; serial: number };
  /** Gaps between consecutive serial reads, simulated seconds, by the VM's output at the time. */
  serialGaps: { flowing?: Summary; quiet?: Summary };
  detection: Detection;
  /** Every request of the build, by kind, and the rest of the build (outside the VM phase). */
  wholeBuild: Record<string, number>;
  outsideVm: { minutes: number; byKind: Record<string, number> };
}

const KINDS: Kind[] = ['serial', 'guest', 'opwait', 'other', 'storage', 'token'];

function zero(): Record<Kind, number> {
  return { serial: 0, guest: 0, opwait: 0, other: 0, storage: 0, token: 0 };
}

export function detectionOf(b: ScriptedBuild, nextCall = 'instances.detachDisk'): Detection {
  const s = b.marks.succeeded!;
  const next = b.requests.find((r) => r.time >= s && r.call === nextCall);
  if (!next) throw new Error(`no ${nextCall} after the VM succeeded`);
  // Once it has seen the outcome, the watcher reads the serial port one last time and moves on: the read that saw the
  // outcome is the one before that last read.
  const reads = b.requests.filter((r) => r.time <= next.time && (kindOf(r.call) === 'serial' || kindOf(r.call) === 'guest'));
  const saw = reads[reads.length - 2];
  if (!saw || saw.time < s) throw new Error('could not tell which read saw the outcome');
  return {
    delaySec: ((next.time - s) * b.k) / 1000,
    pollWaitSec: ((saw.time - s) * b.k) / 1000,
    afterReadMs: next.time - saw.time,
    succeededAtSec: ((s - b.vmStartedAt) * b.k) / 1000,
  };
}

export function apiEconomy(b: ScriptedBuild, sections: ScriptSection[]): ApiEconomy {
  const k = b.k;
  const t0 = b.vmStartedAt;
  const tEnd = b.marks.succeeded!;
  const simSec = (t: number) => ((t - t0) * k) / 1000;
  // Strictly after the VM's start: the operation wait that started it can share its millisecond.
  const inVm = b.requests.filter((r) => r.time > t0 && r.time <= tEnd);
  const vmPhaseSec = simSec(tEnd);
  const nMinutes = Math.max(1, Math.round(vmPhaseSec / 60));
  const outputOf = (fromSec: number, toSec: number) =>
    [...new Set(sections.filter((s) => s.from < toSec && s.to > fromSec).map((s) => s.output))].join(' + ');
  const minutes: MinuteRow[] = [];
  for (let m = 0; m < nMinutes; m++) {
    const last = m === nMinutes - 1;
    const rs = inVm.filter((r) => simSec(r.time) >= m * 60 && (last || simSec(r.time) < (m + 1) * 60));
    const c = zero();
    for (const r of rs) c[kindOf(r.call)]++;
    minutes.push({
      minute: m + 1,
      output: outputOf(m * 60, (m + 1) * 60),
      serial: c.serial,
      guest: c.guest,
      opwait: c.opwait,
      other: c.other,
      compute: c.serial + c.guest + c.opwait + c.other,
      storage: c.storage,
    });
  }
  const total = zero();
  for (const r of inVm) total[kindOf(r.call)]++;
  const perMinute = Object.fromEntries(KINDS.map((x) => [x, (total[x] * 60) / vmPhaseSec])) as Record<Kind | 'compute', number>;
  perMinute.compute = ((total.serial + total.guest + total.opwait + total.other) * 60) / vmPhaseSec;

  const window = (pred: (r: RecordedRequest) => boolean) => {
    const ts = inVm.filter(pred).map((r) => simSec(r.time));
    let best = 0;
    for (let i = 0, j = 0; i < ts.length; i++) {
      while (j < ts.length && ts[j]! < ts[i]! + 60) j++;
      best = Math.max(best, j - i);
    }
    return best;
  };
  const slidingMax = {
    compute: window((r) => !['storage', 'token'].includes(kindOf(r.call))),
    guest: window((r) => kindOf(r.call) === 'guest'),
    serial: window((r) => kindOf(r.call) === 'serial'),
  };

  const serialTimes = inVm.filter((r) => kindOf(r.call) === 'serial').map((r) => simSec(r.time));
  const gaps: Record<'flowing' | 'quiet', number[]> = { flowing: [], quiet: [] };
  for (let i = 0; i + 1 < serialTimes.length; i++) {
    const at = serialTimes[i]!;
    const next = serialTimes[i + 1]!;
    // A gap counts as "quiet" when the VM wrote nothing during it, "flowing" when output came all along.
    const sec = sections.find((s) => at >= s.from && next <= s.to);
    if (sec?.output === 'quiet') gaps.quiet.push(next - at);
    else if (sec?.output === 'flowing') gaps.flowing.push(next - at);
  }
  const whole = zero();
  for (const r of b.requests) whole[kindOf(r.call)]++;
  const outside = zero();
  for (const r of b.requests) if (r.time <= t0 || r.time > tEnd) outside[kindOf(r.call)]++;
  return {
    k,
    vmPhaseSec,
    minutes,
    perMinute,
    slidingMax,
    serialGaps: {
      ...(gaps.flowing.length ? { flowing: summarize(gaps.flowing) } : {}),
      ...(gaps.quiet.length ? { quiet: summarize(gaps.quiet) } : {}),
    },
    detection: detectionOf(b),
    wholeBuild: { ...whole },
    outsideVm: { minutes: ((b.endedAt - b.startedAt - (tEnd - t0)) * k) / 60_000, byKind: { ...outside } },
  };
}
