/**
 * Fault injection: make the next matching call(s) fail in one of the ways real APIs fail.
 *
 * A rule matches on method, path (substring or RegExp, tested on path + query) and call name,
 * fires `times` times (default 1, Infinity allowed), and is checked before authentication.
 * Operation faults (`operationError`, `operationHang`) only match calls that return an
 * Operation; the call itself succeeds and the fault shows in the operation. `operationDelayMs` makes the
 * operation take that long by the wall clock: `wait` then holds the request until it is DONE or until
 * `operationWaitMs` (GCE holds a wait for up to 2 minutes).
 */
import { CALLS, isCallName, returnsOperation, type CallName } from './calls.js';

export type FaultAction =
  | { status: number; reason?: string; message?: string }
  | { reset: true }
  | { delayMs: number }
  | { hang: true }
  | { operationError: { code: string; message?: string; httpStatus?: number } }
  | { operationHang: true }
  /** The call succeeds; its operation runs this long (wall clock) before it is DONE, as a slow GCE insert does. */
  | { operationDelayMs: number };

export interface FaultMatch {
  method?: string;
  path?: RegExp | string;
  call?: CallName;
}

export interface FaultRule {
  match?: FaultMatch;
  times?: number;
  action: FaultAction;
}

export interface FaultHandle {
  readonly action: FaultAction;
  /** How many more times the rule fires. */
  readonly remaining: number;
  /** How many times it fired. */
  readonly fired: number;
  remove(): void;
}

export interface FiredFault {
  time: number;
  call: string;
  method: string;
  path: string;
  action: FaultAction;
}

export interface CallInfo {
  method: string;
  /** Path plus query string. */
  path: string;
  call: string;
}

interface ActiveRule {
  match: FaultMatch;
  action: FaultAction;
  remaining: number;
  fired: number;
}

export const isOperationFault = (a: FaultAction): boolean => 'operationError' in a || 'operationHang' in a || 'operationDelayMs' in a;

export class FaultInjector {
  private rules: ActiveRule[] = [];
  /** Every fault that fired, in order. */
  readonly fired: FiredFault[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  add(rule: FaultRule): FaultHandle {
    const match = rule.match ?? {};
    if (match.call !== undefined && !isCallName(match.call)) {
      throw new Error(`unknown call '${match.call as string}'; known calls: ${CALLS.join(', ')}`);
    }
    if (isOperationFault(rule.action) && match.call !== undefined && !returnsOperation(match.call)) {
      throw new Error(`'${match.call}' returns no operation: an operation fault cannot apply to it`);
    }
    const active: ActiveRule = { match, action: rule.action, remaining: rule.times ?? 1, fired: 0 };
    this.rules.push(active);
    const rules = (): ActiveRule[] => this.rules;
    return {
      action: active.action,
      get remaining() {
        return active.remaining;
      },
      get fired() {
        return active.fired;
      },
      remove: () => {
        this.rules = rules().filter((r) => r !== active);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** The action of the first rule matching this call, consuming one of its firings. */
  take(info: CallInfo): FaultAction | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && matches(r, info));
    if (!rule) return undefined;
    rule.remaining -= 1;
    rule.fired += 1;
    this.fired.push({ time: this.now(), call: info.call, method: info.method, path: info.path, action: rule.action });
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.action;
  }
}

function matches(rule: ActiveRule, info: CallInfo): boolean {
  const { method, path, call } = rule.match;
  if (method !== undefined && method.toUpperCase() !== info.method) return false;
  if (call !== undefined && call !== info.call) return false;
  if (typeof path === 'string' && !info.path.includes(path)) return false;
  if (path instanceof RegExp && !path.test(info.path)) return false;
  if (isOperationFault(rule.action) && !returnsOperation(info.call)) return false;
  return true;
}
