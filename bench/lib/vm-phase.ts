// A build run in-process (main(argv, io), the real Google clients, the emulator) with time scaled down by k: the
// production polling intervals (DEFAULT_TUNING) divided by k, and a scripted VM whose timeline, written in simulated
// seconds, is played k times faster. Everything recorded in real milliseconds converts to simulated time × k.
import { DEFAULT_TUNING, type Tuning } from '../../src/builder/context.js';
import { serialLine, type CallName, type FaultAction, type LedgerEntry } from '../../test/emulator/index.js';
import { runCli } from '../../test/helpers/cli.js';
import { BASE_ARGS, cliEnv, emulator, type RecordedRequest } from './emulator.js';

/** The production tuning, every interval (each `…Ms` field and the retry delays) divided by k. */
export function scaledTuning(k: number): Partial<Tuning> {
  const d = DEFAULT_TUNING;
  const scaled = Object.fromEntries(
    Object.entries(d).map(([name, v]) => [name, typeof v === 'number' && name.endsWith('Ms') ? v / k : v]),
  ) as unknown as Tuning;
  return { ...scaled, retry: { ...d.retry, baseDelayMs: d.retry.baseDelayMs / k, maxDelayMs: d.retry.maxDelayMs / k } };
}

/** One moment of the VM's run, at `at` simulated seconds after the VM starts. */
export interface VmEvent {
  at: number;
  /** Raw serial text (use `line()` for a startup-script line). */
  serial?: string;
  attributes?: Record<string, string>;
  /** Name under which the real time of this event is recorded. */
  mark?: string;
}

const line = serialLine;
const phase = (at: number, p: string, progress?: string, mark?: string): VmEvent => ({
  at,
  serial: line(`gdib: phase=${p}`) + (progress ? line(`gdib: progress=${progress}`) : ''),
  attributes: { 'gdib/phase': p, ...(progress ? { 'gdib/progress': progress } : {}) },
  mark: mark ?? `phase:${p}`,
});

export interface ScriptSection {
  from: number;
  to: number;
  what: string;
  output: 'flowing' | 'quiet' | 'burst';
}

/**
 * A 10-minute VM run (simulated seconds): output flows during boot, install and pull, then the VM is quiet for minutes
 * (unpacking, checksumming), so the serial polling has to show both its fast and its backed-off pace.
 */
export function tenMinuteVm(): { events: VmEvent[]; sections: ScriptSection[] } {
  const ev: VmEvent[] = [];
  for (let t = 0; t < 25; t += 1) ev.push({ at: t, serial: `[   ${t.toFixed(6)}] systemd[1]: boot message ${t}\n` });
  ev.push({ at: 25, serial: line('gdib: state=running'), attributes: { 'gdib/state': 'running' }, mark: 'running' });
  ev.push(phase(25, 'installing'));
  for (let t = 28; t <= 58; t += 3) ev.push({ at: t, serial: line(`installing: step ${(t - 25) / 3} of 11`) });
  ev.push(phase(60, 'formatting'));
  ev.push({ at: 65, serial: line('formatted the data disk (ext4), mounted it; containerd started') });
  ev.push(phase(70, 'pulling', '0/3 images'));
  for (let t = 75; t < 250; t += 5) {
    const image = t < 130 ? 1 : t < 190 ? 2 : 3;
    ev.push({
      at: t,
      serial: line(`pulling image ${image}/3: ${((t - 70) * 37) % 1000} MB`),
      ...(t === 130 || t === 190 ? { attributes: { 'gdib/progress': `${image - 1}/3 images` } } : {}),
    });
  }
  ev.push(phase(250, 'unpacking', '3/3 images'));
  ev.push(phase(420, 'checksumming'));
  for (let t = 423; t <= 450; t += 3) ev.push({ at: t, serial: line(`checksummed snapshot ${(t - 420) / 3} of 10`) });
  ev.push({
    ...phase(590, 'done'),
    serial: line('gdib: phase=done') + line('wrote snapshots.metadata, images.metadata, gdib.json; synced and unmounted the disk'),
  });
  ev.push({ at: 600, serial: line('gdib: state=succeeded'), attributes: { 'gdib/state': 'succeeded' }, mark: 'succeeded' });
  const sections: ScriptSection[] = [
    { from: 0, to: 25, what: 'boot (a kernel/systemd line a second)', output: 'flowing' },
    { from: 25, to: 60, what: 'installing (a line every 3 s)', output: 'flowing' },
    { from: 60, to: 70, what: 'formatting (two lines)', output: 'burst' },
    { from: 70, to: 250, what: 'pulling (a progress line every 5 s)', output: 'flowing' },
    { from: 250, to: 420, what: 'unpacking (silent for 170 s)', output: 'quiet' },
    { from: 420, to: 450, what: 'checksumming (a line every 3 s)', output: 'flowing' },
    { from: 450, to: 590, what: 'checksumming (silent for 140 s)', output: 'quiet' },
    { from: 590, to: 600, what: 'done, then state=succeeded at 600 s', output: 'burst' },
  ];
  return { events: ev, sections };
}

/** Running at `runningAt`, then silence, then succeeded at `succeededAt` (simulated s). */
export function quietVm(runningAt: number, succeededAt: number): VmEvent[] {
  return [
    { at: 0, serial: '[    0.000000] Linux version 6.1.0-28-cloud-amd64\n' },
    {
      at: runningAt,
      serial: line('gdib: state=running') + line('gdib: phase=pulling'),
      attributes: { 'gdib/state': 'running', 'gdib/phase': 'pulling' },
      mark: 'running',
    },
    {
      at: succeededAt,
      serial: line('gdib: phase=done') + line('gdib: state=succeeded'),
      attributes: { 'gdib/phase': 'done', 'gdib/state': 'succeeded' },
      mark: 'succeeded',
    },
  ];
}

export interface ScriptedBuild {
  k: number;
  /** Real ms (Date.now()) of the CLI's start. */
  startedAt: number;
  /** Real ms when the VM started (its instance became RUNNING). */
  vmStartedAt: number;
  /** Real ms of each marked VM event. */
  marks: Record<string, number>;
  requests: RecordedRequest[];
  ledger: LedgerEntry[];
}

export interface ScriptedBuildOptions {
  k: number;
  events: VmEvent[];
  imageName: string;
  extraArgs?: string[];
  /** Simulated seconds each of these calls takes before GCE acts on it (a model of real API latency). */
  callDelays?: Record<string, number>;
}

export async function scriptedBuild(o: ScriptedBuildOptions): Promise<ScriptedBuild> {
  const emu = await emulator();
  try {
    const marks: Record<string, number> = {};
    let vmStartedAt = 0;
    emu.vm.onStart(
      async (ctx) => {
        const t0 = Date.now();
        vmStartedAt = t0;
        for (const e of o.events) {
          // Absolute targets, so the timeline does not drift with timer lateness.
          if (!(await ctx.sleep(Math.max(0, t0 + (e.at * 1000) / o.k - Date.now())))) return;
          if (e.serial) ctx.appendSerial(e.serial);
          for (const [key, value] of Object.entries(e.attributes ?? {})) ctx.setAttribute(key, value);
          if (e.mark) marks[e.mark] = Date.now();
        }
      },
      { times: 1 },
    );
    for (const [call, seconds] of Object.entries(o.callDelays ?? {})) {
      const action: FaultAction = { delayMs: (seconds * 1000) / o.k };
      emu.faults.add({ match: { call: call as CallName }, times: 1, action });
    }
    const startedAt = Date.now();
    const run = await runCli([...BASE_ARGS, `--image-name=${o.imageName}`, ...(o.extraArgs ?? [])], {
      env: cliEnv(emu),
      tuning: scaledTuning(o.k),
    });
    if (run.code !== 0) throw new Error(`the scripted build failed (exit ${run.code}):\n${run.stderr.slice(-3000)}`);
    const left = emu.leftovers();
    if (left.disks.length || left.instances.length) throw new Error(`the build left resources behind: ${JSON.stringify(left)}`);
    if (!marks.succeeded) throw new Error('the VM never reached succeeded');
    return {
      k: o.k,
      startedAt,
      vmStartedAt,
      marks,
      requests: [...emu.requests],
      ledger: emu.state.ledger.map((e) => ({ ...e })),
    };
  } finally {
    await emu.close();
  }
}
