// The one module of the agent that runs processes (docs/vm-script.md, The system seam and the tests). Everything else reaches
// the machine through a `System`, so the agent's logic runs in unit tests against a fake one, without root.
import { spawn } from 'node:child_process';
import { createWriteStream, statSync } from 'node:fs';
import { readMountTable, type Mount } from '../mountinfo.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** stdout into this file instead of the result (created or truncated). */
  stdoutFile?: string;
  /** Killed (SIGKILL) after this long; the result's code is then 124. */
  timeoutMs?: number;
  /** Killed (SIGTERM) when this aborts. */
  signal?: AbortSignal;
}

/** A long-running process: its output line by line, and its end. */
export interface Proc {
  readonly pid: number | undefined;
  /** Resolves with the exit code (128 + n after signal n) once it has ended and its output is read. */
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each line of stdout and stderr (merged), without its newline. */
  onLine?: (line: string) => void;
  /** stdout and stderr appended to this file instead. */
  outputFile?: string;
}

export type { Mount };

export interface System {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): Proc;
  isBlockDevice(path: string): boolean;
  /** The mount table (/proc/self/mountinfo), escapes decoded. */
  mounts(): Mount[];
}

function isBlockDevice(path: string): boolean {
  try {
    return statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (SIGNALS[signal] ?? 1) : 1);
}

/** Splits chunks into lines; a line longer than `max` is passed on in pieces. */
export function lineSplitter(emit: (line: string) => void, max = 64 * 1024): { push(chunk: Buffer): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString('utf8');
      for (;;) {
        const nl = pending.indexOf('\n');
        if (nl >= 0 && nl <= max) {
          emit(pending.slice(0, nl).replace(/\r$/, ''));
          pending = pending.slice(nl + 1);
        } else if (pending.length > max) {
          emit(pending.slice(0, max));
          pending = pending.slice(max);
        } else return;
      }
    },
    end() {
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}

/** The real machine. */
export const realSystem: System = {
  isBlockDevice,
  mounts: readMountTable,

  run(cmd, args, opts = {}) {
    return new Promise((resolve) => {
      const out = opts.stdoutFile ? createWriteStream(opts.stdoutFile) : undefined;
      const child = spawn(cmd, args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      if (out) child.stdout?.pipe(out);
      else child.stdout?.on('data', (d: Buffer) => stdout.push(d));
      child.stderr?.on('data', (d: Buffer) => stderr.push(d));
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
      const onAbort = () => child.kill('SIGTERM');
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.signal?.aborted) onAbort();
      let failed: string | undefined;
      child.on('error', (e) => (failed = e.message));
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        const finish = () =>
          resolve({
            code: failed !== undefined ? 127 : signal === 'SIGKILL' && opts.timeoutMs ? 124 : exitCode(code, signal),
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: failed ?? Buffer.concat(stderr).toString('utf8'),
          });
        if (out) out.end(finish);
        else finish();
      });
      if (child.stdin) {
        child.stdin.on('error', () => undefined);
        child.stdin.end(opts.input);
      }
    });
  },

  spawn(cmd, args, opts = {}) {
    const file = opts.outputFile ? createWriteStream(opts.outputFile, { flags: 'a' }) : undefined;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const split = lineSplitter((l) => opts.onLine?.(l));
    for (const s of [child.stdout, child.stderr]) {
      if (file) s.pipe(file, { end: false });
      else s.on('data', (d: Buffer) => split.push(d));
    }
    let spawnError = false;
    child.on('error', () => (spawnError = true));
    const exited = new Promise<number>((resolve) => {
      child.on('close', (code, signal) => {
        split.end();
        const done = () => resolve(spawnError ? 127 : exitCode(code, signal));
        if (file) file.end(done);
        else done();
      });
    });
    return {
      pid: child.pid,
      exited,
      kill: (signal = 'SIGTERM') => {
        try {
          child.kill(signal);
        } catch {
          // gone already
        }
      },
    };
  },
};
