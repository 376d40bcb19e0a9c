// deadline(): a time limit that survives garbage collection. Node holds the sources of AbortSignal.any() and the
// signal of AbortSignal.timeout() only weakly; composed, such a deadline can be collected and never fire (it did,
// under load, in the fault matrix). These tests force collections while the deadline runs.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { abortable, deadline, sleep } from '../../src/io/abort.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Resolves when `signal` aborts (with its reason), forcing a full GC every 10 ms meanwhile; or 'never' after `ms`. */
async function underGc(signal: AbortSignal, ms: number): Promise<unknown> {
  const collect = setInterval(gc, 10);
  try {
    return await Promise.race([
      new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true })),
      sleep(ms).then(() => 'never'),
    ]);
  } finally {
    clearInterval(collect);
  }
}

describe('deadline', () => {
  it('fires after its time with a TimeoutError, through repeated garbage collections', async () => {
    const parent = new AbortController();
    const reason = await underGc(deadline(100, parent.signal), 2_000);
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('TimeoutError');
  });

  it('fires with no parent too', async () => {
    const reason = await underGc(deadline(50), 2_000);
    expect((reason as DOMException).name).toBe('TimeoutError');
  });

  it('follows its parent first, with the parent reason', async () => {
    const parent = new AbortController();
    const d = deadline(10_000, parent.signal);
    setTimeout(() => parent.abort(new Error('interrupted')), 20);
    expect(await underGc(d, 2_000)).toEqual(new Error('interrupted'));
  });

  it('is aborted at once when the parent already is', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    const d = deadline(10_000, parent.signal);
    expect(d.aborted).toBe(true);
    expect(d.reason).toEqual(new Error('gone'));
  });

  it('ends a wait that would never end (a hung request), through garbage collections', async () => {
    const hung = new Promise<never>(() => undefined);
    const collect = setInterval(gc, 10);
    try {
      const outcome = await Promise.race([
        abortable(hung, deadline(100, new AbortController().signal)).catch((e: unknown) => e),
        sleep(2_000).then(() => 'never'),
      ]);
      expect(outcome).toMatchObject({ name: 'TimeoutError' });
    } finally {
      clearInterval(collect);
    }
  });
});
