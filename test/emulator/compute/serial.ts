/**
 * A VM's serial console, with instances.getSerialPortOutput's offset semantics.
 *
 * Offsets count bytes since boot. Only the last `windowBytes` are retained (1 MiB on GCE); a
 * request for an older `start` answers from the oldest retained byte, and the answer's `start`
 * says where that is, so a client can see the gap. `next` is where to continue. A negative
 * `start` asks for the most recent |start| bytes. A `start` beyond the end is clamped to the end.
 */

export interface SerialRead {
  contents: string;
  start: number;
  next: number;
}

export class SerialBuffer {
  private retained = Buffer.alloc(0);
  /** Absolute offset of the first retained byte. */
  private base = 0;

  constructor(private readonly windowBytes = 1024 * 1024) {}

  /** Bytes written since boot. */
  get length(): number {
    return this.base + this.retained.length;
  }

  append(text: string | Buffer): void {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    let next = Buffer.concat([this.retained, bytes]);
    if (next.length > this.windowBytes) {
      const drop = next.length - this.windowBytes;
      next = next.subarray(drop);
      this.base += drop;
    }
    this.retained = Buffer.from(next);
  }

  read(start = 0): SerialRead {
    const end = this.length;
    let from = start < 0 ? end + start : start;
    from = Math.min(Math.max(from, this.base), end);
    const contents = this.retained.subarray(from - this.base).toString('utf8');
    return { contents, start: from, next: end };
  }

  /** Everything retained, for tests. */
  text(): string {
    return this.retained.toString('utf8');
  }
}
