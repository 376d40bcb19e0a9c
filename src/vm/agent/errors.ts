// How the agent fails (docs/vm-script.md, Build): a `Fail` carries the one-line reason reported as gdib/error.
export class Fail extends Error {
  constructor(
    message: string,
    /** The exit status: 1, or 128 + the signal that interrupted the run. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'Fail';
  }
}

/** What the agent is doing, for a failure that names no step of its own (`<step> failed: ...`). */
export class Step {
  current = 'starting';
  set(step: string): void {
    this.current = step;
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Bytes in human units, as the logs print them: 1.5 GB, 12.0 MB, 300 KB. */
export function humanBytes(b: number): string {
  if (b >= 1073741824) return `${Math.floor(b / 1073741824)}.${Math.floor(((b % 1073741824) * 10) / 1073741824)} GB`;
  if (b >= 1048576) return `${Math.floor(b / 1048576)}.${Math.floor(((b % 1048576) * 10) / 1048576)} MB`;
  return `${Math.floor(b / 1024)} KB`;
}
