// The one retry policy for transient errors (5xx, 429, 403 rateLimitExceeded, connection resets): exponential
// backoff with full jitter, bounded attempts, abortable.
import { ApiError, errorInfo, type ApiErrorInfo } from './errors.js';
import { abortable, sleep } from '../io/abort.js';
import { withRequestSignal } from '../io/request-scope.js';
import { formatMs } from '../errors.js';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * A request with no answer after this long is abandoned and retried like a reset connection, so one stuck
   * connection cannot hold a step until --timeout. Longer than GCE's operations.wait, which answers within ~2 min.
   */
  attemptTimeoutMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 30_000, attemptTimeoutMs: 180_000 };

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);

export function isTransient(info: ApiErrorInfo): boolean {
  if (info.code) return true;
  if (info.status === undefined) return false;
  if (info.status >= 500 || info.status === 429 || info.status === 408) return true;
  return info.status === 403 && info.reason !== undefined && RATE_REASONS.has(info.reason);
}

export interface RetryHooks {
  onRetry?: (call: string, attempt: number, info: ApiErrorInfo, delayMs: number) => void;
}

/** Runs fn until it succeeds, fails permanently, runs out of attempts or is aborted. Errors become ApiError. */
export async function withRetry<T>(
  call: string,
  fn: () => Promise<T>,
  signal: AbortSignal,
  policy: RetryPolicy = DEFAULT_RETRY,
  hooks: RetryHooks = {},
): Promise<T> {
  const attemptTimeoutMs = policy.attemptTimeoutMs ?? DEFAULT_RETRY.attemptTimeoutMs!;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    // One signal per attempt: aborted when the run is, or when the attempt has had no answer in time. The request
    // itself is tied to it (withRequestSignal), so an abandoned attempt leaves nothing in flight.
    const attemptController = new AbortController();
    const timer = setTimeout(() => attemptController.abort(new AttemptTimeout()), attemptTimeoutMs);
    const onAbort = () => attemptController.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await abortable(withRequestSignal(attemptController.signal, fn), attemptController.signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const info = err instanceof AttemptTimeout ? { code: 'ETIMEDOUT', message: `no answer within ${formatMs(attemptTimeoutMs)}` } : errorInfo(err);
      if (!isTransient(info) || attempt >= policy.maxAttempts) throw new ApiError(info, call);
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
      hooks.onRetry?.(call, attempt, info, delay);
      await sleep(delay, signal);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // Whatever the outcome, this attempt is over: abort anything it left in flight.
      if (!attemptController.signal.aborted) attemptController.abort(new AttemptOver());
    }
  }
}

class AttemptTimeout extends Error {
  override name = 'AttemptTimeout';
}

class AttemptOver extends Error {
  override name = 'AttemptOver';
}
