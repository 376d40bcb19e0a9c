/** Polls a condition of the in-process emulator (the event loop keeps serving it) until true, or fails. */
export async function until(cond: () => boolean, what = 'condition', timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
