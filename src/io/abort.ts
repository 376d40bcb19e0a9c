// Small helpers so every wait in the tool ends at once when its AbortSignal fires.

/** Resolves after ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Races a promise against a signal; a gax CancellablePromise is also cancelled. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    (promise as { cancel?: () => void }).cancel?.();
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      (promise as { cancel?: () => void }).cancel?.();
      promise.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * A signal that aborts after `ms` (with a TimeoutError, like AbortSignal.timeout) or when `parent` aborts first.
 * Use it instead of `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node holds the sources of a composed
 * signal, and the signal behind AbortSignal.timeout, only weakly, so after a garbage collection such a deadline
 * can silently never fire (seen as a GCS write that hung past its limit under load). Here the timer holds the
 * controller, and the parent's listener holds it too. The timer is unref'd: it never keeps the CLI alive.
 */
export function deadline(ms: number, parent?: AbortSignal): AbortSignal {
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return controller.signal;
  }
  const onParentAbort = () => {
    clearTimeout(timer);
    controller.abort(parent!.reason);
  };
  const timer = setTimeout(() => {
    parent?.removeEventListener('abort', onParentAbort);
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref();
  parent?.addEventListener('abort', onParentAbort, { once: true });
  return controller.signal;
}
