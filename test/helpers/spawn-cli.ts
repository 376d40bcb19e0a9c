// Runs the real bin/ entry as a child process, as a user or a CI job does, and records when each stderr line
// arrived and when the process exited: what a person waits for is the time from the last line to the prompt.
import { spawn, type ChildProcess } from 'node:child_process';
import { FAST_TUNING } from './cli.js';

export const BIN = 'bin/gke-disk-image-builder.js';

export interface SpawnedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the last byte of output (stdout or stderr) arrived, and when the process exited (epoch ms). */
  lastOutputAt: number;
  exitedAt: number;
}

export interface SpawnedCli {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  done: Promise<SpawnedRun>;
}

/**
 * Spawns the CLI with exactly `env` (nothing inherited but PATH), fast polling through the GDIB_TUNING seam
 * unless `tuning` says otherwise.
 */
export function spawnCli(args: string[], env: Record<string, string>, opts: { tuning?: object | null } = {}): SpawnedCli {
  const tuning = opts.tuning === null ? {} : { GDIB_TUNING: JSON.stringify(opts.tuning ?? FAST_TUNING) };
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...tuning, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let lastOutputAt = Date.now();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    lastOutputAt = Date.now();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    lastOutputAt = Date.now();
  });
  const done = new Promise<SpawnedRun>((resolve) => {
    // 'exit' is the process ending; 'close' waits for its pipes too, which a grandchild could hold open.
    child.on('exit', (code, signal) => {
      const exitedAt = Date.now();
      // Output written just before exiting may still be in the pipe: collect it, but time the exit as it was.
      child.on('close', () => resolve({ code, signal, stdout, stderr, lastOutputAt: Math.min(lastOutputAt, exitedAt), exitedAt }));
    });
  });
  return { child, stderr: () => stderr, done };
}
