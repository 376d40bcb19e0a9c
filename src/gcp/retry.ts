// The one retry policy for transient errors (5xx, 429, 403 rateLimitExceeded, connection resets): exponential
// backoff with full jitter, bounded attempts, abortable. A host name that does not resolve gets one quick retry
// only: DNS answers in milliseconds, and a machine that is offline stays offline for longer than a backoff lasts.
import { ApiError, errorInfo, isUnresolvedName, NETWORK_CODES, type ApiErrorInfo } from './errors.js';
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
  attemptTimeoutMs: number;
}

/** The production policy; the builder's DEFAULT_TUNING.retry is this same object. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  attemptTimeoutMs: 180_000,
});

/** An unresolved host name: attempts in all, and the longest wait between them. */
export const UNRESOLVED_NAME_ATTEMPTS = 2;
export const UNRESOLVED_NAME_DELAY_MS = 1000;

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);

export function isTransient(info: ApiErrorInfo): boolean {
  // A connection-level failure may not recur on a new connection (ENOTFOUND and EAI_AGAIN are retried briefly).
  if (info.code) return NETWORK_CODES.has(info.code);
  if (info.status === undefined) return false;
  if (info.status >= 500 || info.status === 429 || info.status === 408) return true;
  return info.status === 403 && info.reason !== undefined && RATE_REASONS.has(info.reason);
}

/** How many attempts a call that failed this way gets in all under `policy`. */
export function attemptsFor(info: ApiErrorInfo, policy: RetryPolicy): number {
  if (!isTransient(info)) return 1;
  return isUnresolvedName(info) ? Math.min(policy.maxAttempts, UNRESOLVED_NAME_ATTEMPTS) : policy.maxAttempts;
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
  // The deadline applied and the one an abandoned request reports are the same number.
  const { attemptTimeoutMs } = policy;
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
      const info =
        err instanceof AttemptTimeout ? { code: 'ETIMEDOUT', message: `no answer within ${formatMs(attemptTimeoutMs)}` } : errorInfo(err);
      if (attempt >= attemptsFor(info, policy)) throw new ApiError(info, call);
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const jittered = Math.round(cap / 2 + (Math.random() * cap) / 2);
      const delay = isUnresolvedName(info) ? Math.min(jittered, UNRESOLVED_NAME_DELAY_MS) : jittered;
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
