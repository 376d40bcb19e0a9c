// What the doctor tests share: the real bin/ spawned with the emulator's endpoints, its JSON lines read back.
import { expect } from 'vitest';
import type { Emulator } from '../emulator/index.js';
import { emulatorEnv } from '../helpers/emulator-env.js';
import { spawnCli } from '../helpers/spawn-cli.js';

export const TOKEN = 'ya29.doctor-test';

export interface Line {
  check: string;
  status: 'pass' | 'warn' | 'fail' | 'unknown';
  seen: string;
  fix?: string;
}

export interface DoctorRun {
  code: number | null;
  lines: Line[];
  stdout: string;
  stderr: string;
}

/** `doctor ARGS --json` (unless `json: false`); `lines` are the checks of the JSON answer, [] when there is none. */
export async function doctor(emu: Emulator, args: string[], opts: { json?: boolean } = {}): Promise<DoctorRun> {
  const run = await spawnCli(['doctor', ...args, ...(opts.json === false ? [] : ['--json'])], emulatorEnv(emu, TOKEN)).done;
  let lines: Line[] = [];
  try {
    lines = (JSON.parse(run.stdout) as { checks: Line[] }).checks ?? [];
  } catch {
    // not JSON: the test looks at stdout and stderr
  }
  return { code: run.code, lines, stdout: run.stdout, stderr: run.stderr };
}

/** A matcher of a string containing `s` (typed, for toMatchObject). */
export const has = (s: string): string => {
  const matcher: unknown = expect.stringContaining(s);
  return matcher as string;
};

/** The lines of `check` (whose `seen` contains `seen`, if given). */
export const pick = (lines: Line[], check: string, seen?: string) =>
  lines.filter((l) => l.check === check && (!seen || l.seen.includes(seen)));
