// The process the CLI runs in, as the commands see it (docs/architecture.md, Handlers and the host): its streams,
// environment and signals (`CliIo`); the sinks every command prints through (redacted, control characters escaped);
// what a first, second and third Ctrl-C/SIGTERM do; and how a command's failure becomes its last line and exit code.
import type { Tuning } from '../builder/context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { Redactor } from './redact.js';
import type { TextSink } from './render.js';
import { sanitizeText } from './sanitize.js';
import type { ProcessWarnings } from './warnings.js';

export type SignalName = 'SIGINT' | 'SIGTERM';
export interface SignalSource {
  on(event: SignalName, fn: () => void): unknown;
  off(event: SignalName, fn: () => void): unknown;
}

export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: Record<string, string | undefined>;
  cwd: string;
  signals: SignalSource;
  /** Test seam: faster polling and retries. */
  tuning?: Partial<Tuning>;
  /** A third Ctrl-C exits at once. */
  forceExit?: (code: number) => void;
  /** stderr is a terminal (a live status line is drawn unless $CI is set). */
  isTTY?: boolean;
  /** Process warnings, kept off the terminal; a build writes them to its diagnostic log. */
  warnings?: ProcessWarnings;
}

/** What a command's handler is given: the process, the run's redactor and the sinks it prints through. */
export interface Host {
  io: CliIo;
  redactor: Redactor;
  /** stdout: the results' stream. */
  out: TextSink;
  /** stderr, sanitised. */
  err: TextSink;
  /** stderr, redacted but not sanitised: only the renderer writes here (the escape sequences of its status line). */
  rawErr: TextSink;
}

/**
 * Everything printed is redacted, and its control characters but newline and tab escaped (src/io/sanitize.ts):
 * error lines quote registries, APIs and the VM's console. Only the renderer writes escape sequences of its own
 * (the live status line), to `rawErr`, and escapes the text it draws itself.
 */
export function createHost(io: CliIo): Host {
  const redactor = new Redactor();
  const out: TextSink = { write: (t) => io.stdout.write(sanitizeText(redactor.redact(t))) };
  const rawErr: TextSink = { write: (t) => io.stderr.write(redactor.redact(t)) };
  const err: TextSink = { write: (t) => rawErr.write(sanitizeText(t)) };
  return { io, redactor, out, err, rawErr };
}

/**
 * What Ctrl-C and SIGTERM do while a command runs. Every policy aborts the command's signal on the first one.
 * - `stop` (cleanup, doctor): that is all; the command stops between calls.
 * - `finish-in-flight` (prune): says that the change in flight is finished and no other made; a third exits at once.
 * - `clean-up` (build, verify): says that the temporary resources are being deleted; a second lists what is still
 *   to delete, with the commands that delete it by hand (`left()`); a third exits at once.
 */
export type InterruptPolicy =
  { kind: 'stop' } | { kind: 'finish-in-flight' } | { kind: 'clean-up'; left: () => ReadonlyArray<{ command: string }> };

/** Runs `body` with the policy's handlers on SIGINT and SIGTERM, and removes them when it ends, however it ends. */
export async function withInterrupts<T>(host: Host, policy: InterruptPolicy, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { io, err } = host;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (name: SignalName) => () => {
    interrupts++;
    switch (policy.kind) {
      case 'stop':
        controller.abort(new InterruptedError(name));
        return;
      case 'finish-in-flight':
        if (interrupts === 1) {
          err.write(`\n${name} received: finishing the change in flight, making no other (press Ctrl-C twice more to exit at once)\n`);
          controller.abort(new InterruptedError(name));
        } else if (interrupts >= 3) io.forceExit?.(130);
        return;
      case 'clean-up':
        if (interrupts === 1) {
          err.write(`\n${name} received: stopping and deleting the temporary resources (press Ctrl-C again to see what is left)\n`);
          controller.abort(new InterruptedError(name));
        } else if (interrupts === 2) {
          const left = policy.left();
          if (left.length === 0) err.write('Nothing is left to delete; finishing.\n');
          else {
            err.write('Still deleting; if you stop now, delete these by hand:\n');
            for (const t of left) err.write(`  ${t.command}\n`);
            err.write('Press Ctrl-C once more to exit at once.\n');
          }
        } else io.forceExit?.(130);
        return;
    }
  };
  const sigint = onSignal('SIGINT');
  const sigterm = onSignal('SIGTERM');
  io.signals.on('SIGINT', sigint);
  io.signals.on('SIGTERM', sigterm);
  try {
    return await body(controller.signal);
  } finally {
    io.signals.off('SIGINT', sigint);
    io.signals.off('SIGTERM', sigterm);
  }
}

/** Bad input: one `error:` line per problem (and where to look, `hint`), exit 2. Anything else is rethrown. */
export function usageExit(err: TextSink, e: unknown, hint?: string): number {
  if (!(e instanceof UsageError)) throw e;
  for (const p of e.problems) err.write(`error: ${p}\n`);
  if (hint) err.write(`${hint}\n`);
  return 2;
}

/**
 * The exit of a command (cleanup, prune, doctor) that threw: 130 once interrupted, 2 for bad input found late (no
 * credentials), else the error's line and 1 (with its stack when $GDIB_DEBUG is set).
 */
export function failureExit(host: Host, e: unknown, signal: AbortSignal): number {
  if (signal.aborted) return 130;
  if (e instanceof UsageError) return usageExit(host.err, e);
  host.err.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
  if (host.io.env.GDIB_DEBUG) host.err.write(`${(e as Error)?.stack ?? ''}\n`);
  return 1;
}
