// Waits on compute long-running operations (zone or global) until DONE, and checks operation.error —
// an operation can be DONE and still have failed. Transient errors while waiting are retried like any call.
import { OperationError } from './errors.js';

export interface OperationLike {
  name?: string | null;
  status?: string | number | null;
  zone?: string | null;
  error?: { errors?: Array<{ code?: string | null; message?: string | null }> | null } | null;
  httpErrorStatusCode?: number | null;
}

export function isDone(op: OperationLike): boolean {
  // The REST client may decode the enum as its name or as its number (Operation.Status.DONE = 2104194).
  return op.status === 'DONE' || op.status === 2104194;
}

export function checkOperation(call: string, op: OperationLike): void {
  const errors = op.error?.errors;
  if (errors && errors.length > 0) {
    throw new OperationError(
      call,
      errors.map((e) => ({ code: e.code ?? undefined, message: e.message ?? undefined })),
      op.httpErrorStatusCode ?? undefined,
    );
  }
}

/**
 * Polls with the operations `wait` method (which returns when the operation is DONE or after a while) until done.
 * `waitOnce` performs one retried wait call.
 */
export async function waitForOperation(
  call: string,
  first: OperationLike,
  waitOnce: (name: string) => Promise<OperationLike>,
  signal: AbortSignal,
): Promise<OperationLike> {
  let op = first;
  while (!isDone(op)) {
    signal.throwIfAborted();
    if (!op.name) throw new Error(`${call}: the API returned an operation without a name`);
    op = await waitOnce(op.name);
  }
  checkOperation(call, op);
  return op;
}
