// The call sites of the fault matrix, found by running one clean build rather than listed by hand: a call the
// workflow starts making later gets its row in the matrix without anyone editing the test.
//
// A site is a call name as the emulator routes it (`disks.insert`), except that an operation wait is split by the
// operation it waits on (`zoneOperations.wait(disks.delete)`): the same call means something else while creating the
// disk than while cleanup deletes it. Each site carries the phase of its first occurrence — a step of the build,
// `cleanup` (after the steps) or `after` (the final log writes) — read from where it falls between the lines the CLI
// prints as it goes. A step may run alongside others (the VM's deletion beside the image's creation): a call made
// while several steps run belongs to the one whose resource it acts on (`instances.*` to `delete-vm`, `images.*` to
// `create-image`), and its phase names the steps it ran beside.
import { main } from '../../src/cli.js';
import { startEmulator, type CallName, type Emulator } from '../emulator/index.js';
import { FAST_TUNING, Signals } from '../helpers/cli.js';
import { BASE_ARGS, TOKEN } from './harness.js';

export interface Site {
  /** `disks.insert`, or `zoneOperations.wait(disks.insert)` for the wait on that call's operations. */
  id: string;
  /** The emulator's call name that a fault matches. */
  call: CallName;
  /** For an operation wait: the call whose operations it waits on. */
  of?: CallName;
  /** Where the call is first made. */
  phase: { kind: 'step'; step: string; title: string; alongside?: string[] } | { kind: 'cleanup' } | { kind: 'after' };
}

export interface CleanBuild {
  sites: Site[];
  /** Step name → title, in the order the steps ran. */
  steps: Map<string, string>;
  code: number;
  stderr: string;
  leftovers: ReturnType<Emulator['leftovers']>;
  /** The longest a step of this clean build took, in ms: how slow a healthy step is on this machine right now. */
  slowestStepMs: number;
}

export const env = (emu: Emulator): Record<string, string> => ({
  CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
  STORAGE_EMULATOR_HOST: emu.storageHost,
  CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
});

export function buildArgs(image: string, more: string[] = []): string[] {
  return [...BASE_ARGS, `--image-name=${image}`, '--container-image=nginx:1', ...more];
}

/**
 * Which call an emulator operation came from: `disks.insert`, `instances.detachDisk`, `images.insert`, ...
 * (the operation's type on the collection of its target).
 */
export function operationCall(emu: Emulator, operationName: string): string | undefined {
  for (const op of emu.state.operations.values()) {
    if (op.name !== operationName) continue;
    const collection = /\/(disks|instances|images)\/[^/]+$/.exec(op.targetLink)?.[1];
    return collection ? `${collection}.${op.operationType}` : undefined;
  }
  return undefined;
}

const OPERATION_PATH = /\/operations\/([^/?]+)/;

/**
 * A fault `path` matcher for the waits (or gets) on one call's operations only. The emulator tests `path` with
 * `RegExp.prototype.test`; this one looks the operation up in the emulator's state instead of matching text.
 */
export class WaitsOn extends RegExp {
  private emu!: Emulator;
  private of!: string;

  static create(emu: Emulator, of: string): WaitsOn {
    const m = new WaitsOn(OPERATION_PATH.source);
    m.emu = emu;
    m.of = of;
    return m;
  }

  override test(pathAndQuery: string): boolean {
    const name = OPERATION_PATH.exec(pathAndQuery)?.[1];
    return name !== undefined && operationCall(this.emu, name) === this.of;
  }
}

/** Whether this CLI has a flag (the help lists it): lets the matrix skip work another issue may add. */
export async function hasFlag(flag: string): Promise<boolean> {
  let out = '';
  const sink = { write: (t: string) => void (out += t) };
  await main(['build', '--help'], { stdout: sink, stderr: sink, env: {}, cwd: process.cwd(), signals: new Signals() });
  return out.includes(`--${flag}`);
}

/** Runs one build with no fault and derives the sites from what it asked of the emulator. */
export async function cleanBuild(extraArgs: string[]): Promise<CleanBuild> {
  const emu = await startEmulator({ acceptTokens: [TOKEN] });
  try {
    // Each time the CLI prints, note how many requests the emulator had seen: a request belongs to the last
    // phase announced before it was received (a step prints its title before it sends anything).
    const marks: Array<{ at: number; text: string }> = [];
    let stderr = '';
    const sink = { write: (t: string) => void (marks.push({ at: emu.requests.length, text: t }), (stderr += t)) };
    // The JSON events on stdout say when each step starts and finishes: the requests of [from, to) fell in its time.
    const windows = new Map<string, { from: number; to?: number }>();
    const started = new Map<string, number>();
    let slowestStepMs = 0;
    const events = {
      write: (t: string) => {
        for (const line of t.split('\n').filter(Boolean)) {
          const e = JSON.parse(line) as { type?: string; step?: string };
          if (e.type === 'step-started' && e.step) {
            windows.set(e.step, { from: emu.requests.length });
            started.set(e.step, Date.now());
          }
          if (e.type === 'step-finished' && e.step) {
            windows.get(e.step)!.to = emu.requests.length;
            slowestStepMs = Math.max(slowestStepMs, Date.now() - started.get(e.step)!);
          }
        }
      },
    };
    const code = await main(buildArgs('img-clean', [...extraArgs, '--json']), {
      stdout: events,
      stderr: sink,
      env: env(emu),
      cwd: process.cwd(),
      signals: new Signals(),
      tuning: FAST_TUNING,
    });
    const steps = stepTitles(emu);
    // Whatever stamp precedes it, a line that ends with a step's title and "…" starts that step.
    const phaseMarks = marks.flatMap((m): Array<{ at: number; phase: Site['phase'] }> => {
      const text = m.text.trimEnd();
      const step = [...steps].find(([, title]) => text.endsWith(`${title}…`));
      if (step) return [{ at: m.at, phase: { kind: 'step', step: step[0], title: step[1] } }];
      if (/(^|\s)Cleaning up: /.test(text)) return [{ at: m.at, phase: { kind: 'cleanup' } }];
      if (/(^|\s)(succeeded|failed) in \d/.test(text)) return [{ at: m.at, phase: { kind: 'after' } }];
      return [];
    });
    const sites = new Map<string, Site>();
    emu.requests.forEach((q, i) => {
      if (q.call === 'oauth.token' || q.call === 'unrouted') return;
      const call = q.call as CallName;
      const of = /Operations\.(wait|get)$/.test(call) ? operationCall(emu, OPERATION_PATH.exec(q.path)?.[1] ?? '') : undefined;
      const id = of ? `${call}(${of})` : call;
      if (sites.has(id)) return;
      const last = phaseMarks.filter((m) => m.at <= i).pop()?.phase;
      if (!last) throw new Error(`${id} was called before the first step started`);
      const open = [...windows].filter(([, w]) => w.from <= i && (w.to === undefined || i < w.to)).map(([step]) => step);
      let phase = last;
      if (last.kind === 'step') {
        // The last title printed is the step's, unless steps overlap: then the steps running say whose call it is.
        const mine = open.length <= 1 ? open : open.filter((step) => step.endsWith(`-${resourceOf(of ?? call)}`));
        if (mine.length > 1 || (open.length > 1 && mine.length === 0))
          throw new Error(`${id} was called while ${open.join(', ')} ran: which one made it?`);
        const step = mine[0] ?? last.step;
        const w = windows.get(step);
        const beside = w ? [...windows].filter(([s, o]) => s !== step && overlap(o, w)).map(([s]) => s) : [];
        phase = { kind: 'step', step, title: steps.get(step)!, ...(beside.length ? { alongside: beside } : {}) };
      }
      sites.set(id, { id, call, ...(of ? { of: of as CallName } : {}), phase });
    });
    return { sites: [...sites.values()], steps, code, stderr, leftovers: emu.leftovers(), slowestStepMs };
  } finally {
    await emu.close();
  }
}

/** Whether two steps ran at the same time (a request fell in both). */
function overlap(a: { from: number; to?: number }, b: { from: number; to?: number }): boolean {
  return a.from < (b.to ?? Infinity) && b.from < (a.to ?? Infinity);
}

/** What a call acts on, as step names say it: `instances.delete` → `vm` (`delete-vm`). */
function resourceOf(call: string): string {
  const collection = call.split('.')[0];
  return collection === 'disks' ? 'disk' : collection === 'instances' ? 'vm' : collection === 'images' ? 'image' : collection!;
}

/** Step name → title, from the step-started events in the run's build.log. */
function stepTitles(emu: Emulator): Map<string, string> {
  const log = [...emu.state.objects.values()].find((o) => o.name.endsWith('/build.log'));
  if (!log) throw new Error('the clean build wrote no build.log');
  const steps = new Map<string, string>();
  for (const line of log.data.toString().split('\n')) {
    if (!line) continue;
    const e = (JSON.parse(line) as { event?: { type?: string; step?: string; title?: string } }).event;
    if (e?.type === 'step-started' && e.step && e.title) steps.set(e.step, e.title);
  }
  return steps;
}
