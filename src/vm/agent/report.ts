// The agent's voice (docs/vm-script.md, Status protocol): log lines and status facts on stdout (the serial console,
// through Google's script runner), status facts also in guest attributes gdib/<key>, which the CLI reads first.
//
// Every line is written whole, starts with `gdib: ` and is at most MAX_LINE_BYTES (then a marker): Google's runner
// closes the pipe on a line of 64 KiB. Text the agent relays (registry and containerd errors, command output) has
// its line breaks and control characters removed, so it never begins a line, and a log line that would read as a
// status line is quoted. A closed stdout never kills the agent: Node ignores SIGPIPE, the write's error is caught,
// and `onConsoleClosed` lets the run stop, reporting `failed` through the guest attributes.
import { closeSync, constants, fstatSync, openSync, statSync, writeSync } from 'node:fs';
import {
  LINE_PREFIX,
  MAX_LINE_BYTES,
  parseStatusLine,
  STATUS_NAMESPACE,
  statusLine,
  statusValue,
  TRUNCATED_MARKER,
  type StatusKey,
} from '../contract.js';

/** Where lines go: stdout of the agent, in production. Throws when the reader is gone. */
export type LineSink = (line: string) => void;

export interface ReporterOptions {
  /** `host[:port]` of the metadata server. */
  mdHost: string;
  nonce?: string;
  sink?: LineSink;
  /** Also write status lines to /dev/console when it is another device than stdout. */
  console?: boolean;
  fetch?: typeof fetch;
  /** Called once when stdout cannot be written any more. */
  onConsoleClosed?: () => void;
}

/** `text` with line breaks and control characters turned into spaces: it cannot begin a line. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return text.replace(/[\r\n\u2028\u2029\u0085]/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** A line cut to MAX_LINE_BYTES of UTF-8 (on a character boundary), with the marker when it was cut. */
export function capLine(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= MAX_LINE_BYTES) return line;
  let end = MAX_LINE_BYTES;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8') + TRUNCATED_MARKER;
}

/** The log line of `text`: `gdib: <text>`, one line, capped, never readable as a status line. */
export function logLine(text: string): string {
  let body = oneLine(text);
  if (parseStatusLine(`${LINE_PREFIX}${body}`) !== undefined) body = `| ${body}`;
  return capLine(`${LINE_PREFIX}${body}`);
}

function stdoutSink(): LineSink {
  return (line) => {
    const buf = Buffer.from(`${line}\n`, 'utf8');
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(1, buf, off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue; // a full pipe: the reader is slow, not gone
        throw err;
      }
    }
  };
}

function openConsole(): number | undefined {
  try {
    const con = statSync('/dev/console');
    const out = fstatSync(1);
    if (con.rdev === out.rdev && out.isCharacterDevice()) return undefined;
    return openSync('/dev/console', constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}

export class Reporter {
  private readonly sink: LineSink;
  private readonly fetchFn: typeof fetch;
  private chain: Promise<void> = Promise.resolve();
  private warned = false;
  private closed = false;
  private consoleFd: number | undefined;
  readonly nonce: string | undefined;

  constructor(private readonly opts: ReporterOptions) {
    this.sink = opts.sink ?? stdoutSink();
    this.fetchFn = opts.fetch ?? fetch;
    this.nonce = opts.nonce;
    this.consoleFd = opts.console ? openConsole() : undefined;
  }

  /** Whether stdout was found closed. */
  get consoleClosed(): boolean {
    return this.closed;
  }

  private write(line: string): void {
    if (this.closed) return;
    try {
      this.sink(line);
    } catch {
      this.closed = true;
      this.opts.onConsoleClosed?.();
    }
  }

  /** A log line: `gdib: <text>`. */
  log(text: string): void {
    this.write(logLine(text));
  }

  /** Relayed text (command output, a registry's error), each of its lines as `gdib: <label>: <line>`. */
  relay(label: string, text: string): void {
    for (const line of text.split(/\r?\n/)) if (line.trim() !== '') this.log(`${label}: ${line}`);
  }

  /**
   * A status fact: guest attribute gdib/<key> first (the CLI may act on the serial line at once), then the serial
   * line. Facts are sent one after the other, in the order they were reported, whoever reports them.
   */
  status(key: StatusKey, value: string): Promise<void> {
    const v = statusValue(value);
    const next = this.chain.then(async () => {
      await this.putGuestAttribute(key, v);
      const line = capLine(statusLine(key, v, this.nonce));
      this.write(line);
      if (this.consoleFd !== undefined) {
        try {
          writeSync(this.consoleFd, `${line}\n`);
        } catch {
          closeSync(this.consoleFd);
          this.consoleFd = undefined;
        }
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every fact reported so far is sent. */
  flush(): Promise<void> {
    return this.chain;
  }

  async putGuestAttribute(key: string, value: string): Promise<boolean> {
    const url = `http://${this.opts.mdHost}/computeMetadata/v1/instance/guest-attributes/${STATUS_NAMESPACE}/${key}`;
    let status = 0;
    for (let attempt = 0; attempt < 3 && status !== 200; attempt++) {
      try {
        const res = await this.fetchFn(url, {
          method: 'PUT',
          headers: { 'Metadata-Flavor': 'Google' },
          body: value,
          signal: AbortSignal.timeout(5000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (status >= 400 && status < 500) break; // refused: guest attributes are off
      } catch {
        status = 0;
      }
    }
    if (status !== 200 && !this.warned) {
      this.warned = true;
      this.log(`cannot write guest attributes (HTTP ${status === 0 ? '000' : status}); the serial console carries the status`);
    }
    return status === 200;
  }
}
