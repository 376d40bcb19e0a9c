/**
 * Ready-made VM runs that speak the status protocol of docs/architecture.md, VM status: the guest attributes `gdib/state`, `gdib/phase`,
 * `gdib/progress`, `gdib/error`, and the same facts as `gdib: key=value` serial lines, written
 * with the prefix the guest agent gives startup-script output on a real serial console.
 */

export interface VmStep {
  /** Delay before this step, after the previous one. */
  afterMs?: number;
  /** Text appended to the serial console as is (use `line()` for a startup-script line). */
  serial?: string;
  /** Guest attributes to set, `namespace/key` → value. */
  attributes?: Record<string, string>;
  /** GCE preempts the (Spot) VM at this step (SPEC.md, Preemption): nothing after it runs. */
  preempt?: true;
}

export interface ScriptOptions {
  /** `build` (default) or `verify`: which phases the run goes through. */
  mode?: string;
  /** Spacing of the steps (default 5 ms). */
  stepMs?: number;
  /** Number of images "pulled" (default 2), for the progress text. */
  images?: number;
}

/**
 * The serial text of a scripted step as the agent writes it: each status line (a whole line, `gdib: <key>=`, at the
 * start or right after the runner's `startup-script: `) ends with ` nonce=<nonce>` when the run sent one in metadata
 * `gdib-status-nonce` (docs/architecture.md, VM status). Other text is left as is.
 */
export function echoNonce(text: string, nonce: string | undefined): string {
  if (!nonce) return text;
  return text.replace(
    /^((?:(?:(?!gdib: |startup-script: ).)*startup-script: )?gdib: (?:state|phase|progress|error)=.*)$/gm,
    `$1 nonce=${nonce}`,
  );
}

/** A serial-console line as the guest agent prints startup-script output. */
export const line = (text: string): string => `Jan  1 00:00:00 vm google_metadata_script_runner[812]: startup-script: ${text}\n`;

const BOOT_NOISE =
  '[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\n' +
  '[    1.234567] systemd[1]: Started google-startup-scripts.service - Google Compute Engine Startup Scripts.\n';

const state = (value: string, stepMs: number): VmStep => ({
  afterMs: stepMs,
  serial: line(`gdib: state=${value}`),
  attributes: { 'gdib/state': value },
});

const phase = (value: string, stepMs: number, progress?: string): VmStep => ({
  afterMs: stepMs,
  serial: line(`gdib: phase=${value}`) + (progress ? line(`gdib: progress=${progress}`) : ''),
  attributes: { 'gdib/phase': value, ...(progress ? { 'gdib/progress': progress } : {}) },
});

function start(stepMs: number): VmStep[] {
  return [{ afterMs: 0, serial: BOOT_NOISE }, state('running', stepMs), phase('installing', stepMs)];
}

function workPhases(o: ScriptOptions, stepMs: number): VmStep[] {
  if (o.mode === 'verify') return [phase('verifying', stepMs, '1/1 images')];
  const n = o.images ?? 2;
  return [
    phase('formatting', stepMs),
    ...Array.from({ length: n }, (_, i) => phase('pulling', stepMs, `${i + 1}/${n} images`)),
    phase('unpacking', stepMs),
    phase('checksumming', stepMs),
  ];
}

export const vmScripts = {
  /** running → phases → done → succeeded. */
  succeed(o: ScriptOptions = {}): VmStep[] {
    const ms = o.stepMs ?? 5;
    return [...start(ms), ...workPhases(o, ms), phase('done', ms), state('succeeded', ms)];
  },

  /** running → phases up to `atPhase` → an error line → failed. */
  fail(message: string, o: ScriptOptions & { atPhase?: string } = {}): VmStep[] {
    const ms = o.stepMs ?? 5;
    const atPhase = o.atPhase ?? 'pulling';
    const work = workPhases(o, ms);
    const upTo = work.findIndex((s) => s.attributes?.['gdib/phase'] === atPhase);
    const before = upTo < 0 ? [phase(atPhase, ms)] : work.slice(0, upTo + 1);
    return [
      ...start(ms),
      ...before,
      { afterMs: ms, serial: line(`gdib: error=${message}`), attributes: { 'gdib/error': message } },
      state('failed', ms),
    ];
  },

  /** running → phases up to `atPhase`, then GCE preempts the (Spot) VM. */
  preempted(o: ScriptOptions & { atPhase?: string } = {}): VmStep[] {
    const ms = o.stepMs ?? 5;
    return [...vmScripts.neverFinish(o), { afterMs: ms, preempt: true }];
  },

  /** running → phases up to `atPhase`, then silence: the VM never finishes. */
  neverFinish(o: ScriptOptions & { atPhase?: string } = {}): VmStep[] {
    const ms = o.stepMs ?? 5;
    const atPhase = o.atPhase ?? 'pulling';
    const work = workPhases(o, ms);
    const upTo = work.findIndex((s) => s.attributes?.['gdib/phase'] === atPhase);
    return [...start(ms), ...(upTo < 0 ? [phase(atPhase, ms)] : work.slice(0, upTo + 1))];
  },
};
