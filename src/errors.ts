// The error taxonomy: each kind has a fixed exit code (docs/architecture.md, Exit codes and errors). Core code throws these; only the CLI prints them.

/** Bad usage or invalid input: nothing was created, no cloud call was made. Exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

/** The build or verification failed (including preflight findings). Exit 1. */
export class BuildError extends Error {
  readonly exitCode = 1;
  constructor(
    message: string,
    readonly step?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BuildError';
  }
}

/** The user interrupted (SIGINT/SIGTERM); cleanup has run. Exit 130. */
export class InterruptedError extends Error {
  readonly exitCode = 130;
  constructor(readonly signalName: string) {
    super(`interrupted by ${signalName}`);
    this.name = 'InterruptedError';
  }
}

/** A step ran past --timeout. Exit 1. */
export class StepTimeoutError extends BuildError {
  constructor(
    step: string,
    readonly timeoutMs: number,
  ) {
    super(`step "${step}" did not finish within --timeout (${formatMs(timeoutMs)})`, step);
    this.name = 'StepTimeoutError';
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof BuildError || err instanceof InterruptedError) return err.exitCode;
  return 1;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', sec || (!h && !m) ? `${sec}s` : ''].join('');
}
