// Which AbortSignal governs the HTTP request being made right now. The generated Google clients drop the cancel
// handle of the requests they send (their methods return a plain Promise), so abandoning a call in withRetry
// would leave its request in flight — an operations.wait that GCE holds open for two minutes keeps the process
// alive long after the run ended. withRetry runs each attempt inside a scope holding the attempt's signal, and
// the auth client's fetch (through which every compute request goes) ties the request to it.
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<AbortSignal>();

/** Runs fn so that the requests it starts are aborted when `signal` aborts. */
export function withRequestSignal<T>(signal: AbortSignal, fn: () => T): T {
  return scope.run(signal, fn);
}

/** The signal of the attempt that is sending a request, if any. */
export function currentRequestSignal(): AbortSignal | undefined {
  return scope.getStore();
}

/** A signal that aborts when either input aborts (the inputs' listeners hold it strongly, unlike AbortSignal.any). */
export function linkSignals(a: AbortSignal, b: AbortSignal): AbortSignal {
  const controller = new AbortController();
  if (a.aborted) controller.abort(a.reason);
  else if (b.aborted) controller.abort(b.reason);
  else {
    a.addEventListener('abort', () => controller.abort(a.reason), { once: true });
    b.addEventListener('abort', () => controller.abort(b.reason), { once: true });
  }
  return controller.signal;
}
