/**
 * A small router: `METHOD /path/:param` patterns, each bound to a stable call name.
 * Path parameters match one segment and are URL-decoded (storage object names arrive with
 * `/` encoded as %2F). The call name may depend on the query (`alt=media` is a download).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isCallName } from './calls.js';
import type { OperationFault } from './operations.js';

export interface RequestContext {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as received. */
  raw: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. */
  body: unknown;
  /** An operation fault for this call, when one matched. */
  fault?: OperationFault;
  /** Aborted when the client goes away or the emulator closes. */
  signal: AbortSignal;
}

export interface Reply {
  status?: number;
  json?: unknown;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

/** A call name, or a choice among names made from the query (listing the names it can make). */
export type CallSpec = string | { names: readonly string[]; pick: (query: URLSearchParams) => string };

export interface RouteOptions {
  /** Whether the call needs a bearer token (default true). */
  auth?: boolean;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  call: CallSpec;
  auth: boolean;
  handler: Handler;
}

export interface RouteMatch {
  call: string;
  auth: boolean;
  params: Record<string, string>;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, call: CallSpec, handler: Handler, options: RouteOptions = {}): this {
    for (const name of typeof call === 'string' ? [call] : call.names) {
      if (!isCallName(name)) throw new Error(`route ${path}: unknown call '${name}'`);
    }
    const keys: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        keys.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, call, auth: options.auth ?? true, handler });
    return this;
  }

  match(method: string, pathname: string, query: URLSearchParams): RouteMatch | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(m[i + 1]!);
      });
      const call = typeof route.call === 'string' ? route.call : route.call.pick(query);
      return { call, auth: route.auth, params, handler: route.handler };
    }
    return undefined;
  }

  /** Every call name with a route (for the test that each CALLS entry is served). */
  callNames(): string[] {
    return this.routes.flatMap((r) => (typeof r.call === 'string' ? [r.call] : [...r.call.names]));
  }
}
