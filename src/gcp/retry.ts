// The one retry policy for transient errors (5xx, 429, 403 rateLimitExceeded, connection resets): exponential
// backoff with full jitter, bounded attempts, abortable.
import { ApiError, errorInfo, type ApiErrorInfo } from './errors.js';
import { abortable, sleep } from '../io/abort.js';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 30_000 };

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
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      return await abortable(fn(), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const info = errorInfo(err);
      if (!isTransient(info) || attempt >= policy.maxAttempts) throw new ApiError(info, call);
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
      hooks.onRetry?.(call, attempt, info, delay);
      await sleep(delay, signal);
    }
  }
}
