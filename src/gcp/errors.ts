// Turns whatever the client libraries throw into one shape: HTTP status, API reason, message.
export interface ApiErrorInfo {
  status?: number;
  reason?: string;
  message: string;
  /** Network-level error code (ECONNRESET, ...). */
  code?: string;
  /** With ENOTFOUND / EAI_AGAIN: the host name that did not resolve. */
  host?: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly info: ApiErrorInfo,
    readonly call: string,
  ) {
    super(`${call}: ${describe(info)}`);
  }
  get status(): number | undefined {
    return this.info.status;
  }
  get reason(): string | undefined {
    return this.info.reason;
  }
}

/** A long-running operation finished DONE with an error (an operation can be DONE and still have failed: always check operation.error). */
export class OperationError extends Error {
  override name = 'OperationError';
  constructor(
    readonly call: string,
    readonly errors: ReadonlyArray<{ code?: string; message?: string }>,
    readonly httpStatus?: number,
  ) {
    super(`${call}: operation failed: ${errors.map((e) => `${e.code ?? 'ERROR'}: ${e.message ?? ''}`.trim()).join('; ')}`);
  }
  get codes(): string[] {
    return this.errors.map((e) => e.code ?? 'ERROR');
  }
}

/** The cause of a failed call, without the call's name: what several calls that failed alike have in common. */
export function describe(i: ApiErrorInfo): string {
  if (isUnresolvedName(i) && i.host) return `cannot reach ${i.host}: check the network or proxy`;
  const head = [i.status ? `HTTP ${i.status}` : undefined, i.reason, i.code].filter(Boolean).join(' ');
  return head ? `${head}: ${i.message}` : i.message;
}

/** A host name that did not resolve: the network or DNS is down, a proxy is needed, or the name is wrong. */
export function isUnresolvedName(i: Pick<ApiErrorInfo, 'code'>): boolean {
  return i.code === 'ENOTFOUND' || i.code === 'EAI_AGAIN';
}

/** Connection-level failures: the codes errorInfo reports (every one of them is worth another attempt). */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function errorInfo(err: unknown): ApiErrorInfo {
  const e = err as {
    status?: number;
    code?: number | string;
    message?: string;
    response?: { status?: number; data?: unknown };
    errors?: Array<{ reason?: string; message?: string }>;
    cause?: unknown;
  };
  const status =
    typeof e?.status === 'number'
      ? e.status
      : typeof e?.response?.status === 'number'
        ? e.response.status
        : typeof e?.code === 'number' && e.code >= 100 && e.code < 600
          ? e.code
          : undefined;
  let reason: string | undefined;
  let message = e?.message ?? String(err);
  // Compute (gax REST) puts the JSON error body in the message; storage (gaxios) exposes it as `errors`.
  const body = tryJson(message) ?? (typeof e?.response?.data === 'string' ? tryJson(e.response.data) : e?.response?.data);
  const apiErr = (body as { error?: { message?: string; errors?: Array<{ reason?: string; message?: string }> } } | undefined)?.error;
  if (apiErr) {
    reason = apiErr.errors?.[0]?.reason;
    message = apiErr.message ?? apiErr.errors?.[0]?.message ?? message;
  } else if (Array.isArray(e?.errors) && e.errors[0]) {
    reason = e.errors[0].reason;
  }
  const code = networkCode(err);
  const host = isUnresolvedName({ code }) ? unresolvedHost(err) : undefined;
  return { status, reason, message: oneLine(message), ...(code ? { code } : {}), ...(host ? { host } : {}) };
}

/** The name in Node's "getaddrinfo ENOTFOUND host" (fetch puts it on its cause as `hostname`). */
function unresolvedHost(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const { hostname, message } = err as { hostname?: unknown; message?: unknown };
  if (typeof hostname === 'string' && hostname) return hostname;
  const m = typeof message === 'string' ? /getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([^\s,;)]+)/.exec(message) : null;
  return m ? m[1] : unresolvedHost((err as { cause?: unknown }).cause, depth + 1);
}

function networkCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  const msg = (err as { message?: unknown }).message;
  if (typeof msg === 'string') {
    if (/socket hang up/i.test(msg)) return 'ECONNRESET';
    const m = /\b(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND)\b/.exec(msg);
    if (m) return m[1];
  }
  return networkCode((err as { cause?: unknown }).cause, depth + 1);
}

function tryJson(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').slice(0, 500);
}

export function isNotFound(err: unknown): boolean {
  return (err instanceof ApiError ? err.info : errorInfo(err)).status === 404;
}

/** The name is taken: 409 on the insert itself, or an operation that failed with RESOURCE_ALREADY_EXISTS. */
export function isAlreadyExists(err: unknown): boolean {
  if (err instanceof OperationError) return err.errors.some((e) => e.code === 'RESOURCE_ALREADY_EXISTS') || err.httpStatus === 409;
  return (err instanceof ApiError ? err.info : errorInfo(err)).status === 409;
}
