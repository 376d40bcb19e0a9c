// Runs the CLI in-process (main(argv, io)) and captures what it prints.
import { EventEmitter } from 'node:events';
import { main, type CliIo } from '../../src/cli.js';
import type { Tuning } from '../../src/builder/context.js';
import { DEFAULT_RETRY } from '../../src/gcp/retry.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class Signals extends EventEmitter {
  send(name: 'SIGINT' | 'SIGTERM'): void {
    this.emit(name);
  }
}

export const FAST_TUNING: Partial<Tuning> = {
  guestAttributesIntervalMs: 20,
  serialMinIntervalMs: 10,
  serialMaxIntervalMs: 40,
  serialUploadIntervalMs: 30,
  serialSettleMs: 50,
  retry: { ...DEFAULT_RETRY, maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
  insertSettleMs: 2_000,
  // A hung log write (the fault matrix makes one) must not hold a test for the default minute.
  logUploadTimeoutMs: 5_000,
  instanceStatusIntervalMs: 20,
};

export async function runCli(
  argv: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; signals?: Signals; tuning?: Partial<Tuning> } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t) => void (stdout += t) },
    stderr: { write: (t) => void (stderr += t) },
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    signals: opts.signals ?? new Signals(),
    tuning: opts.tuning ?? FAST_TUNING,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
