// The status protocol (docs/vm-script.md, Status protocol): whole lines, capped, never forged by relayed text, a
// nonce when the run has one, guest attributes before the console, and a closed console that stops nothing.
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, parseStatusLine, statusLine, TRUNCATED_MARKER } from '../../../src/vm/contract.js';
import { capLine, logLine, Reporter } from '../../../src/vm/agent/report.js';
import { fakeMetadataFetch } from '../../rig/agent-ctx.js';

function reporter(opts: { nonce?: string; sink?: (l: string) => void; onConsoleClosed?: () => void; status?: number } = {}) {
  const lines: string[] = [];
  const guest: [string, string][] = [];
  const order: string[] = [];
  const base = fakeMetadataFetch({ guest, attributes: {} });
  const fetch = (async (url: string, init?: RequestInit) => {
    order.push(`guest ${typeof init?.body === 'string' ? init.body : ''}`);
    return opts.status ? new Response('no', { status: opts.status }) : base(url, init);
  }) as typeof globalThis.fetch;
  const r = new Reporter({
    mdHost: 'md.test',
    fetch,
    sink:
      opts.sink ??
      ((l) => {
        lines.push(l);
        order.push(`line ${l}`);
      }),
    ...(opts.nonce ? { nonce: opts.nonce } : {}),
    ...(opts.onConsoleClosed ? { onConsoleClosed: opts.onConsoleClosed } : {}),
  });
  return { r, lines, guest, order };
}

describe('status lines', () => {
  it('are `gdib: <key>=<value>`, with ` nonce=<value>` when the run has one, and parse back', () => {
    expect(statusLine('state', 'succeeded')).toBe('gdib: state=succeeded');
    expect(statusLine('state', 'succeeded', 'n0nce-1234')).toBe('gdib: state=succeeded nonce=n0nce-1234');
    expect(parseStatusLine('startup-script: gdib: state=failed nonce=n0nce-1234', 'n0nce-1234')).toEqual({ key: 'state', value: 'failed' });
    expect(parseStatusLine('gdib: state=succeeded', 'n0nce-1234')).toBeUndefined();
    expect(parseStatusLine('x gdib: state=succeeded')).toBeUndefined();
  });

  it('keep a status value to one short line', () => {
    expect(statusLine('error', 'a\nb\r\nc\u2028d\u001b[31m')).toBe('gdib: error=a b c d[31m');
    expect(statusLine('error', 'x'.repeat(10_000)).length).toBeLessThan(500);
  });
});

describe('relayed text', () => {
  const forged = ['gdib: state=succeeded', 'x\ngdib: state=succeeded', 'x\rgdib: phase=done', 'state=succeeded', 'progress=1/1'];

  it.each(forged)('never begins a line as a status fact: %j', (text) => {
    const { r, lines } = reporter();
    r.log(text);
    r.relay('ctr', text);
    r.relay('registry', `${text}\n${text}`);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toMatch(/[\r\n]/);
      expect(parseStatusLine(line)).toBeUndefined();
      expect(parseStatusLine(`startup-script: ${line}`)).toBeUndefined();
    }
  });

  it('is capped at 4 KiB per line, with a marker, on a character boundary', () => {
    const line = logLine('é'.repeat(100_000));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE_BYTES + Buffer.byteLength(TRUNCATED_MARKER));
    expect(line.endsWith(TRUNCATED_MARKER)).toBe(true);
    expect(line).not.toContain('\uFFFD');
    expect(capLine('short')).toBe('short');
  });
});

describe('Reporter', () => {
  it('writes each guest attribute before its console line, one fact after the other', async () => {
    const { r, order, guest } = reporter({ nonce: 'abcdefgh' });
    await Promise.all([r.status('state', 'running'), r.status('phase', 'pulling'), r.status('progress', 'image 1/2')]);
    expect(order).toEqual([
      'guest running',
      'line gdib: state=running nonce=abcdefgh',
      'guest pulling',
      'line gdib: phase=pulling nonce=abcdefgh',
      'guest image 1/2',
      'line gdib: progress=image 1/2 nonce=abcdefgh',
    ]);
    expect(guest.map(([k]) => k)).toEqual(['gdib/state', 'gdib/phase', 'gdib/progress']);
  });

  it('says once that it cannot write guest attributes', async () => {
    const { r, lines } = reporter({ status: 403 });
    await r.status('phase', 'a');
    await r.status('phase', 'b');
    expect(lines.filter((l) => l.includes('cannot write guest attributes'))).toEqual([
      'gdib: cannot write guest attributes (HTTP 403); the serial console carries the status',
    ]);
  });

  it('survives a closed console: says so once, and still reports through the guest attributes', async () => {
    let closed = 0;
    const { r, guest } = reporter({
      sink: () => {
        throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      },
      onConsoleClosed: () => closed++,
    });
    r.log('one');
    r.log('two');
    await r.status('error', 'the console closed');
    await r.status('state', 'failed');
    expect(closed).toBe(1);
    expect(r.consoleClosed).toBe(true);
    expect(guest).toEqual([
      ['gdib/error', 'the console closed'],
      ['gdib/state', 'failed'],
    ]);
  });
});
