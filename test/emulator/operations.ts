/**
 * Compute Engine long-running operations.
 *
 * Every mutating call answers an Operation that moves PENDING → RUNNING → DONE: one step per
 * `operations.get`, straight to DONE on `operations.wait`. Nothing moves by wall clock, so tests
 * are deterministic; `settle()` finishes every operation nobody polled (as GCE would in time).
 * The change itself (`apply`) happens when the operation reaches DONE; if it throws an ApiError,
 * or a fault asked for one, the operation ends DONE with `error` and nothing changes.
 * A hanging operation stops at RUNNING for good.
 */
import { ApiError, HTTP_STATUS_TEXT, httpStatusForOperationCode, operationCodeFor } from './errors.js';
import type { EmulatorState } from './state.js';
import { link, timestamp } from './compute/urls.js';

export interface OperationFault {
  operationError?: { code: string; message?: string; httpStatus?: number };
  operationHang?: boolean;
  operationDelayMs?: number;
}

export interface Operation {
  project: string;
  zone?: string;
  region?: string;
  name: string;
  id: string;
  operationType: string;
  targetLink: string;
  targetId: string;
  status: 'PENDING' | 'RUNNING' | 'DONE';
  insertTime: number;
  startTime?: number;
  endTime?: number;
  error?: { code: string; message: string };
  httpErrorStatusCode?: number;
  hang: boolean;
  /** Wall-clock time before which the operation cannot be DONE (operationDelayMs). */
  notBefore?: number;
  forcedError?: { code: string; message?: string; httpStatus?: number };
  apply: () => void;
}

export interface StartOperation {
  project: string;
  zone?: string;
  region?: string;
  operationType: string;
  targetLink: string;
  targetId?: string;
  apply: () => void;
  fault?: OperationFault;
}

export class OperationManager {
  constructor(
    private readonly state: EmulatorState,
    private readonly now: () => number,
  ) {}

  start(args: StartOperation): Operation {
    const insertTime = this.now();
    const name = `operation-${insertTime}-${this.state.newId().slice(-12)}`;
    const op: Operation = {
      project: args.project,
      ...(args.zone ? { zone: args.zone } : {}),
      ...(args.region ? { region: args.region } : {}),
      name,
      id: this.state.newId(),
      operationType: args.operationType,
      targetLink: args.targetLink,
      targetId: args.targetId ?? this.state.newId(),
      status: 'PENDING',
      insertTime,
      hang: args.fault?.operationHang === true,
      ...(args.fault?.operationDelayMs !== undefined ? { notBefore: Date.now() + args.fault.operationDelayMs } : {}),
      ...(args.fault?.operationError ? { forcedError: args.fault.operationError } : {}),
      apply: args.apply,
    };
    this.state.operations.set(`${op.project}/${scopePath(op)}/${name}`, op);
    return op;
  }

  find(project: string, scope: string, name: string): Operation | undefined {
    return this.state.operations.get(`${project}/${scope}/${name}`);
  }

  /** One step forward, as each `operations.get` sees it. */
  advance(op: Operation): void {
    if (op.status === 'PENDING') {
      op.status = 'RUNNING';
      op.startTime = this.now();
    } else if (op.status === 'RUNNING' && !op.hang && (op.notBefore === undefined || Date.now() >= op.notBefore)) {
      this.complete(op);
    }
  }

  /** As far as the operation goes: DONE unless it hangs. */
  finish(op: Operation): void {
    this.advance(op);
    this.advance(op);
  }

  /** Finish every operation that is not hanging (e.g. before checking for leftovers). */
  settle(): void {
    for (const op of this.state.operations.values()) {
      delete op.notBefore;
      this.finish(op);
    }
  }

  /** True while an insert of `targetLink` has not finished: the name is taken. */
  insertInFlight(targetLink: string): boolean {
    for (const op of this.state.operations.values()) {
      if (op.targetLink === targetLink && op.operationType === 'insert' && op.status !== 'DONE') return true;
    }
    return false;
  }

  private complete(op: Operation): void {
    op.status = 'DONE';
    op.endTime = this.now();
    if (op.forcedError) {
      const { code, message, httpStatus } = op.forcedError;
      this.fail(op, code, message ?? `Operation failed: ${code}`, httpStatus ?? httpStatusForOperationCode(code));
      return;
    }
    try {
      op.apply();
    } catch (err) {
      if (err instanceof ApiError) this.fail(op, operationCodeFor(err), err.message, err.status);
      else this.fail(op, 'INTERNAL_ERROR', String(err), 500);
    }
  }

  private fail(op: Operation, code: string, message: string, httpStatus: number): void {
    op.error = { code, message };
    op.httpErrorStatusCode = httpStatus;
  }

  toJSON(op: Operation): Record<string, unknown> {
    return {
      kind: 'compute#operation',
      id: op.id,
      name: op.name,
      operationType: op.operationType,
      targetLink: op.targetLink,
      targetId: op.targetId,
      status: op.status,
      user: 'emulator@test-project.iam.gserviceaccount.com',
      progress: op.status === 'DONE' ? 100 : 0,
      insertTime: timestamp(op.insertTime),
      ...(op.startTime !== undefined ? { startTime: timestamp(op.startTime) } : {}),
      ...(op.endTime !== undefined ? { endTime: timestamp(op.endTime) } : {}),
      ...(op.zone ? { zone: link(`projects/${op.project}/zones/${op.zone}`) } : {}),
      ...(op.region ? { region: link(`projects/${op.project}/regions/${op.region}`) } : {}),
      selfLink: link(`projects/${op.project}/${scopePath(op)}/operations/${op.name}`),
      ...(op.error
        ? {
            error: { errors: [op.error] },
            httpErrorStatusCode: op.httpErrorStatusCode,
            httpErrorMessage: HTTP_STATUS_TEXT[op.httpErrorStatusCode ?? 400] ?? 'ERROR',
          }
        : {}),
    };
  }
}

/** `zones/<z>`, `regions/<r>` or `global`: where the operation lives in the URL space. */
export function scopePath(op: { zone?: string; region?: string }): string {
  if (op.zone) return `zones/${op.zone}`;
  if (op.region) return `regions/${op.region}`;
  return 'global';
}
