// The retry policy: which failures are retried and how often, what an unresolvable host and an abandoned request
// report, and that the builder and the adapters share one set of defaults.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TUNING } from '../../src/builder/context.js';
import { ApiError, errorInfo, type ApiErrorInfo } from '../../src/gcp/errors.js';
import {
  attemptsFor,
  DEFAULT_RETRY,
  isTransient,
  UNRESOLVED_NAME_ATTEMPTS,
  UNRESOLVED_NAME_DELAY_MS,
  withRetry,
  type RetryPolicy,
} from '../../src/gcp/retry.js';

const POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 10_000, maxDelayMs: 30_000, attemptTimeoutMs: 60_000 };

/** What Node's resolver throws for a name that does not resolve. */
function dnsError(code: 'ENOTFOUND' | 'EAI_AGAIN', host: string): Error {
  return Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code, syscall: 'getaddrinfo', hostname: host });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('classification', () => {
  it.each<[string, ApiErrorInfo, number]>([
    ['a name that does not resolve', { code: 'ENOTFOUND', message: '' }, UNRESOLVED_NAME_ATTEMPTS],
    ['a resolver that cannot answer now', { code: 'EAI_AGAIN', message: '' }, UNRESOLVED_NAME_ATTEMPTS],
    ['a reset connection', { code: 'ECONNRESET', message: '' }, POLICY.maxAttempts],
    ['an abandoned request', { code: 'ETIMEDOUT', message: '' }, POLICY.maxAttempts],
    ['HTTP 503', { status: 503, message: '' }, POLICY.maxAttempts],
    ['HTTP 429', { status: 429, message: '' }, POLICY.maxAttempts],
    ['403 rateLimitExceeded', { status: 403, reason: 'rateLimitExceeded', message: '' }, POLICY.maxAttempts],
    ['403 forbidden', { status: 403, reason: 'forbidden', message: '' }, 1],
    ['HTTP 404', { status: 404, message: '' }, 1],
    ['an error code nobody listed', { code: 'EACCES', message: '' }, 1],
  ])('%s: %i attempts in all', (_, info, attempts) => {
    expect(attemptsFor(info, POLICY)).toBe(attempts);
    expect(isTransient(info)).toBe(attempts > 1);
  });

  it('an unresolved name gets no more attempts than the policy allows', () => {
    expect(attemptsFor({ code: 'ENOTFOUND', message: '' }, { ...POLICY, maxAttempts: 1 })).toBe(1);
  });

  it.each([
    ['Node', dnsError('ENOTFOUND', 'compute.example.invalid')],
    [
      'gaxios',
      Object.assign(
        new Error('request to http://compute.example.invalid/x failed, reason: getaddrinfo ENOTFOUND compute.example.invalid'),
        { code: 'ENOTFOUND' },
      ),
    ],
    ['fetch', new TypeError('fetch failed', { cause: dnsError('ENOTFOUND', 'compute.example.invalid') })],
  ])('the host that did not resolve is found in an error from %s', (_, err) => {
    const info = errorInfo(err);
    expect(info.code).toBe('ENOTFOUND');
    expect(info.host).toBe('compute.example.invalid');
    expect(new ApiError(info, 'projects.get').message).toBe(
      'projects.get: cannot reach compute.example.invalid: check the network or proxy',
    );
  });
});

describe('withRetry', () => {
  it('retries a name that does not resolve once, within a second, then says which host it cannot reach', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const delays: number[] = [];
    const run = withRetry(
      'projects.get',
      () => {
        calls++;
        return Promise.reject(dnsError('EAI_AGAIN', 'compute.googleapis.com'));
      },
      new AbortController().signal,
      POLICY,
      { onRetry: (_call, _attempt, _info, delayMs) => delays.push(delayMs) },
    );
    const outcome = run.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(UNRESOLVED_NAME_DELAY_MS * UNRESOLVED_NAME_ATTEMPTS);
    const err = await outcome;
    expect(calls).toBe(UNRESOLVED_NAME_ATTEMPTS);
    expect(delays.every((d) => d <= UNRESOLVED_NAME_DELAY_MS)).toBe(true);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe('projects.get: cannot reach compute.googleapis.com: check the network or proxy');
  });

  it('a request abandoned after its deadline reports the deadline that was applied', async () => {
    const err = await withRetry('disks.insert', () => new Promise(() => {}), new AbortController().signal, {
      ...POLICY,
      maxAttempts: 1,
      attemptTimeoutMs: 40,
    }).catch((e: unknown) => e);
    expect((err as ApiError).message).toBe('disks.insert: ETIMEDOUT: no answer within 40ms');
  });

  it('the builder and the adapters share one set of defaults, the attempt deadline included', () => {
    expect(DEFAULT_TUNING.retry).toBe(DEFAULT_RETRY);
    expect(DEFAULT_RETRY.attemptTimeoutMs).toBeGreaterThan(0);
  });
});
