/**
 * Errors in the shapes Google's JSON APIs answer with.
 *
 * Compute Engine and Cloud Storage share the classic "googleapis" error body:
 *   {error: {code, message, errors: [{domain, reason, message}]}}
 * A handler throws an ApiError; the server turns it into that body. An ApiError thrown
 * while an operation completes becomes the operation's `error` instead (see operations.ts).
 */

export interface ErrorSpec {
  status: number;
  reason?: string;
  message?: string;
}

/** The reason Google uses by default for each HTTP status. */
const DEFAULT_REASONS: Record<number, string> = {
  400: 'invalid',
  401: 'required',
  403: 'forbidden',
  404: 'notFound',
  409: 'alreadyExists',
  412: 'conditionNotMet',
  429: 'rateLimitExceeded',
  500: 'backendError',
  502: 'backendError',
  503: 'backendError',
};

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Request is missing required authentication credential.',
  403: 'The caller does not have permission',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Rate Limit Exceeded',
  500: 'Internal Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const USAGE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded']);

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly headers: Record<string, string>;

  constructor(status: number, reason?: string, message?: string, headers: Record<string, string> = {}) {
    super(message ?? DEFAULT_MESSAGES[status] ?? `HTTP ${status}`);
    this.status = status;
    this.reason = reason ?? DEFAULT_REASONS[status] ?? 'unknown';
    this.headers = headers;
  }

  static from(spec: ErrorSpec): ApiError {
    return new ApiError(spec.status, spec.reason, spec.message);
  }

  toJSON(): object {
    const domain = USAGE_LIMIT_REASONS.has(this.reason) ? 'usageLimits' : 'global';
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain, reason: this.reason }],
      },
    };
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'notFound', `The resource '${what}' was not found`);

export const alreadyExists = (what: string): ApiError => new ApiError(409, 'alreadyExists', `The resource '${what}' already exists`);

export const invalid = (message: string): ApiError => new ApiError(400, 'invalid', message);

export const inUse = (what: string, user: string): ApiError =>
  new ApiError(400, 'resourceInUseByAnotherResource', `The ${what} is already being used by '${user}'`);

/** Operation error codes (Compute Engine's UPPER_SNAKE codes) for an ApiError reason. */
export function operationCodeFor(err: ApiError): string {
  switch (err.reason) {
    case 'notFound':
      return 'RESOURCE_NOT_FOUND';
    case 'alreadyExists':
      return 'RESOURCE_ALREADY_EXISTS';
    case 'resourceInUseByAnotherResource':
      return 'RESOURCE_IN_USE_BY_ANOTHER_RESOURCE';
    case 'invalid':
      return 'INVALID_FIELD_VALUE';
    default:
      return err.reason.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  }
}

/** The HTTP status Compute Engine reports in `httpErrorStatusCode` for an operation error code. */
export function httpStatusForOperationCode(code: string): number {
  if (code === 'QUOTA_EXCEEDED' || code.endsWith('PERMISSION_DENIED')) return 403;
  if (code === 'ZONE_RESOURCE_POOL_EXHAUSTED' || code.endsWith('UNAVAILABLE')) return 503;
  if (code === 'RESOURCE_NOT_FOUND') return 404;
  if (code === 'RESOURCE_ALREADY_EXISTS') return 409;
  return 400;
}

export const HTTP_STATUS_TEXT: Record<number, string> = {
  400: 'BAD REQUEST',
  403: 'FORBIDDEN',
  404: 'NOT FOUND',
  409: 'CONFLICT',
  503: 'SERVICE UNAVAILABLE',
};
