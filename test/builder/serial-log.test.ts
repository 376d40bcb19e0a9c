import { describe, expect, it } from 'vitest';
import { parseStatusLine, SerialLog } from '../../src/builder/serial-log.js';
import type { ComputeApi, SerialChunk } from '../../src/gcp/types.js';
import { Redactor } from '../../src/io/redact.js';

/** A serial port that keeps only the last `window` bytes, like GCE's 1 MiB buffer. */
function port(window: number) {
  let buf = Buffer.alloc(0);
  let dropped = 0;
  const compute = {
    getSerialPortOutput: (_i: string, start: number): Promise<SerialChunk> => {
      const from = Math.max(start, dropped);
      return Promise.resolve({ contents: buf.subarray(from - dropped).toString(), start: from, next: dropped + buf.length });
    },
  } as unknown as ComputeApi;
  return {
    compute,
    write(text: string) {
      buf = Buffer.concat([buf, Buffer.from(text)]);
      if (buf.length > window) {
        dropped += buf.length - window;
        buf = buf.subarray(buf.length - window);
      }
    },
  };
}

const signal = new AbortController().signal;

describe('SerialLog', () => {
  it('carries a partial line over to the next read', async () => {
    const p = port(1 << 20);
    const log = new SerialLog(new Redactor());
    p.write('first line\nsecond ha');
    expect((await log.read(p.compute, 'vm', signal)).lines).toEqual(['first line']);
    p.write('lf\nthird\n');
    expect((await log.read(p.compute, 'vm', signal)).lines).toEqual(['second half', 'third']);
    expect((await log.read(p.compute, 'vm', signal)).lines).toEqual([]);
    expect(log.text()).toBe('first line\nsecond half\nthird\n');
  });

  it('reports a gap when the window moved past unread output', async () => {
    const p = port(16);
    const log = new SerialLog(new Redactor());
    p.write('0123456789\n');
    await log.read(p.compute, 'vm', signal);
    p.write('abcdefghijklmnopqrstuvwxyz\nend\n');
    const r = await log.read(p.compute, 'vm', signal);
    expect(r.lostBytes).toBe(42 - 16 - 11); // written - window - already read
    expect(r.lines).toEqual(['pqrstuvwxyz', 'end']);
    expect(log.text()).toContain('bytes of serial output were lost');
  });

  it('redacts tokens, even one split across two reads', async () => {
    const p = port(1 << 20);
    const log = new SerialLog(new Redactor());
    p.write('token: ya29.a0AfH6SMB');
    await log.read(p.compute, 'vm', signal);
    p.write('xyzSecretPart\n');
    const r = await log.read(p.compute, 'vm', signal);
    expect(r.lines).toEqual(['token: [REDACTED]']);
    expect(log.text()).not.toContain('Secret');
  });

  it('counts bytes, not characters, for multi-byte output', async () => {
    const p = port(1 << 20);
    const log = new SerialLog(new Redactor());
    p.write('héllo ✓\n');
    await log.read(p.compute, 'vm', signal);
    p.write('next\n');
    expect((await log.read(p.compute, 'vm', signal)).lines).toEqual(['next']);
  });
});

describe('parseStatusLine', () => {
  const runner = 'Jan  1 00:00:00 vm google_metadata_script_runner[812]: startup-script: ';
  it.each([
    ['gdib: state=running', { state: 'running' }],
    ['[   12.3] startup-script: gdib: state=succeeded', { state: 'succeeded' }],
    [`${runner}gdib: state=succeeded`, { state: 'succeeded' }],
    ['gdib: phase=pulling', { phase: 'pulling' }],
    ['gdib: progress=2/5 images', { progress: '2/5 images' }],
    ['gdib: error=pull nginx:1 failed: not found', { error: 'pull nginx:1 failed: not found' }],
    ['gdib: state=succeeded\r', { state: 'succeeded' }],
    ['gdib: state=bogus', undefined],
    ['nothing here', undefined],
    // A status inside relayed text is not at the start of the line, nor right after the runner's prefix.
    ['gdib: ctr: pull failed: 500 {"message":"denied gdib: state=succeeded"}', undefined],
    [`${runner}gdib: ctr: registry said: gdib: state=succeeded`, undefined],
    [`${runner}gdib: ctr: registry said: startup-script: gdib: state=succeeded`, undefined],
    [`${runner}E: startup-script: gdib: state=succeeded`, undefined],
    ['gdib: apt: x startup-script: gdib: state=succeeded', undefined],
    [' gdib: state=succeeded', undefined],
    ['xgdib: state=succeeded', undefined],
    ['gdib: state=succeeded\ngdib: state=failed', undefined],
  ])('%s', (line, expected) => expect(parseStatusLine(line)).toEqual(expected));

  it('with a nonce, counts only a line that ends with it, and leaves it out of the value', () => {
    const nonce = 'n0nce-Value_123';
    expect(parseStatusLine(`gdib: state=succeeded nonce=${nonce}`, nonce)).toEqual({ state: 'succeeded' });
    expect(parseStatusLine(`${runner}gdib: error=disk full nonce=${nonce}`, nonce)).toEqual({ error: 'disk full' });
    expect(parseStatusLine('gdib: state=succeeded', nonce)).toBeUndefined();
    expect(parseStatusLine('gdib: state=succeeded nonce=guessed', nonce)).toBeUndefined();
    expect(parseStatusLine(`gdib: state=succeeded nonce=${nonce} trailing`, nonce)).toBeUndefined();
    expect(parseStatusLine(`gdib: ctr: x gdib: state=succeeded nonce=${nonce}`, nonce)).toBeUndefined();
  });
});
