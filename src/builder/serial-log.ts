// Streams the VM's serial console by byte offset (as compute-daisy does): partial lines are carried over to the
// next read, and when GCE's 1 MiB window has moved past output we never read, the gap is reported, not hidden.
import type { ComputeApi } from '../gcp/types.js';
import type { Redactor } from '../io/redact.js';

export interface SerialRead {
  lines: string[];
  /** Bytes GCE no longer had when we asked (0 normally). */
  lostBytes: number;
  /** Bytes received in this read. */
  bytes: number;
}

export class SerialLog {
  private offset = 0;
  private carry = '';
  private readonly kept: string[] = [];
  private keptBytes = 0;
  private dirty = false;

  constructor(
    private readonly redactor: Redactor,
    /** Kept in memory for the GCS copy; older lines are dropped beyond this (the copy says so). */
    private readonly maxKeptBytes = 64 * 1024 * 1024,
  ) {}

  async read(compute: ComputeApi, instance: string, signal: AbortSignal): Promise<SerialRead> {
    const chunk = await compute.getSerialPortOutput(instance, this.offset, signal);
    const lostBytes = Math.max(0, chunk.start - this.offset);
    if (lostBytes > 0) {
      // What was carried over belongs to lost output; don't glue it to unrelated text.
      if (this.carry) this.keep(this.redactor.redact(this.carry));
      this.carry = '';
      this.keep(`[gke-disk-image-builder: ${lostBytes} bytes of serial output were lost before they could be read]`);
    }
    this.offset = Math.max(chunk.next, this.offset);
    const text = this.carry + chunk.contents;
    const parts = text.split(/\r?\n/);
    this.carry = parts.pop() ?? '';
    const lines = parts.map((l) => this.redactor.redact(l));
    for (const l of lines) this.keep(l);
    return { lines, lostBytes, bytes: Buffer.byteLength(chunk.contents) };
  }

  /**
   * A new VM of the same name follows (--spot's retry after a preemption): its console starts again at byte 0.
   * What was read of the old one stays kept, then the marker line.
   */
  restart(marker: string): void {
    this.flush();
    this.offset = 0;
    this.keep(marker);
  }

  /** A line that did not come from GCE (a local run's output): kept (redacted) like one that did. */
  append(line: string): string {
    const redacted = this.redactor.redact(line);
    this.keep(redacted);
    return redacted;
  }

  /** The unterminated last line, once the VM is gone. */
  flush(): string[] {
    if (!this.carry) return [];
    const line = this.redactor.redact(this.carry);
    this.carry = '';
    this.keep(line);
    return [line];
  }

  private keep(line: string): void {
    this.kept.push(line);
    this.keptBytes += line.length + 1;
    this.dirty = true;
    while (this.keptBytes > this.maxKeptBytes && this.kept.length > 1) this.keptBytes -= this.kept.shift()!.length + 1;
  }

  /** True when there is output not yet uploaded; clears the flag. */
  takeDirty(): boolean {
    const d = this.dirty;
    this.dirty = false;
    return d;
  }

  /** The last `n` lines kept. */
  tail(n: number): string[] {
    return this.kept.slice(-n);
  }

  text(): string {
    return this.kept.length ? `${this.kept.join('\n')}\n` : '';
  }
}

/** One status report of the VM's script: `gdib: state|phase|progress|error=VALUE` on its serial console. */
export interface StatusLine {
  state?: 'running' | 'succeeded' | 'failed';
  phase?: string;
  progress?: string;
  error?: string;
}

/**
 * A status line is a whole line (docs/architecture.md, VM status): `gdib: <key>=<value>` at its start, or right after
 * the script runner's prefix — the first `startup-script: ` of the line, with no `gdib: ` before it (the runner's
 * header: a timestamp, the host, `google_metadata_script_runner[PID]: `). A `gdib: state=…` inside a relayed text
 * is never at either place.
 */
const LINE = /^(?:(?:(?!gdib: |startup-script: ).)*startup-script: )?gdib: (state|phase|progress|error)=(.*)$/;

/**
 * Reads the VM status out of one serial line, or undefined when it is not a status line. With `nonce` (the run sent
 * one in metadata gdib-status-nonce), only a line ending in ` nonce=<nonce>` counts, and that ending is not part of
 * the value: a line a registry or containerd made up cannot know it.
 */
export function parseStatusLine(line: string, nonce?: string): StatusLine | undefined {
  const m = LINE.exec(line.replace(/\r$/, ''));
  if (!m) return undefined;
  let value = m[2]!;
  if (nonce !== undefined) {
    const tail = ` nonce=${nonce}`;
    if (!value.endsWith(tail)) return undefined;
    value = value.slice(0, -tail.length);
  }
  value = value.trim();
  switch (m[1]) {
    case 'state':
      return value === 'running' || value === 'succeeded' || value === 'failed' ? { state: value } : undefined;
    case 'phase':
      return { phase: value };
    case 'progress':
      return { progress: value };
    default:
      return { error: value };
  }
}
