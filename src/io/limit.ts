// Bounded concurrency: a list of work done by at most `limit` tasks at once, in order of the list, the results in
// the order of the list. Once `signal` is aborted no further item is started, so an interrupt ends the work as soon
// as the items in flight (each given the same signal) give up.

/** Maps `items` through `fn` with at most `limit` calls in flight. Rejects with the first failure. */
export async function mapWithLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
