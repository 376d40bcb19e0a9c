/**
 * The HTTP front: records every request, applies faults, checks the bearer token, then hands
 * the request to its route. One port serves compute, storage and the token endpoint.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import { isOperationFault, type FaultAction, type FaultInjector } from './faults.js';
import type { OperationFault } from './operations.js';
import type { Reply, Router } from './router.js';
import { unauthenticated, type TokenStore } from './tokens.js';

export interface RecordedRequest {
  time: number;
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** Parsed JSON when the body is JSON; else the text (bodies over 1 MiB as `[N bytes]`). */
  body: unknown;
  authorization?: string;
  headers: IncomingHttpHeaders;
  /** The call name, or `unrouted`. */
  call: string;
  /** The HTTP status answered; 0 when the socket was reset or the request hung. */
  status: number;
  /** Unset while the request is open; then whether it was answered or the client abandoned it. */
  closed?: 'answered' | 'abandoned';
}

export interface ServerDeps {
  router: Router;
  faults: FaultInjector;
  tokens: TokenStore;
  requests: RecordedRequest[];
  /** Aborted when the emulator closes: ends hung requests and pending delays. */
  closing: AbortSignal;
  requireAuth: boolean;
  now: () => number;
  /** The answer to a request without a valid token (default: Google's 401). */
  unauthenticated?: (problem: 'missing' | 'invalid') => Reply;
}

export function createEmulatorServer(deps: ServerDeps): Server {
  return createServer(requestHandler(deps));
}

/** The request handler of a server (the HTTPS Kubernetes API servers of kubernetes.ts use it too). */
export function requestHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, json: new ApiError(500, 'backendError', String(err)).toJSON() });
      else res.destroy();
    });
  };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  const url = new URL(req.url ?? '/', 'http://emulator');
  const method = req.method ?? 'GET';
  const body = parseJson(raw, req.headers['content-type']);
  const route = deps.router.match(method, url.pathname, url.searchParams);
  const record: RecordedRequest = {
    time: deps.now(),
    method,
    path: url.pathname,
    query: queryObject(url.searchParams),
    body: body ?? describe(raw),
    ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    headers: req.headers,
    call: route?.call ?? 'unrouted',
    status: 0,
  };
  deps.requests.push(record);
  // How the exchange ended: answered, or abandoned by the client (its socket closed before the answer).
  res.on('close', () => (record.closed = res.writableFinished ? 'answered' : 'abandoned'));
  const reply = (r: Reply): void => {
    record.status = r.status ?? 200;
    send(res, r);
  };

  if (!route) return reply({ status: 404, json: new ApiError(404, 'notFound', `No such API: ${method} ${url.pathname}`).toJSON() });

  const signal = requestSignal(res, deps.closing);
  const action = deps.faults.take({ method, path: url.pathname + url.search, call: route.call });
  let fault: OperationFault | undefined;
  if (action) {
    const outcome = await applyFault(action, req, signal);
    if (outcome === 'consumed') return;
    if (outcome instanceof ApiError) return reply({ status: outcome.status, json: outcome.toJSON() });
    if (outcome) fault = outcome;
  }

  if (route.auth && deps.requireAuth) {
    const problem = deps.tokens.check(req.headers.authorization);
    if (problem !== 'ok') return reply((deps.unauthenticated ?? unauthenticated)(problem));
  }

  try {
    const r = await route.handler({
      method,
      params: route.params,
      query: url.searchParams,
      headers: req.headers,
      raw,
      body,
      ...(fault ? { fault } : {}),
      signal,
    });
    if (!res.destroyed) reply(r);
  } catch (err) {
    if (err instanceof ApiError) return reply({ status: err.status, json: err.toJSON(), headers: err.headers });
    throw err;
  }
}

/** Apply a fault: an error to answer, 'consumed' (socket gone), an operation fault, or nothing more to do. */
async function applyFault(
  action: FaultAction,
  req: IncomingMessage,
  signal: AbortSignal,
): Promise<ApiError | OperationFault | 'consumed' | undefined> {
  if ('status' in action) return ApiError.from(action);
  if ('reset' in action) {
    req.socket.destroy();
    return 'consumed';
  }
  if ('hang' in action) {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    req.socket.destroy();
    return 'consumed';
  }
  if ('delayMs' in action) {
    await sleep(action.delayMs, signal);
    return signal.aborted ? 'consumed' : undefined;
  }
  if (isOperationFault(action)) return action;
  return undefined;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Aborted when the response closes before it finished (client gone) or the emulator closes. */
function requestSignal(res: ServerResponse, closing: AbortSignal): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return AbortSignal.any([controller.signal, closing]);
}

function send(res: ServerResponse, r: Reply): void {
  const headers: Record<string, string> = { ...r.headers };
  let payload: Buffer | string = '';
  if (r.json !== undefined) {
    payload = JSON.stringify(r.json);
    headers['content-type'] ??= 'application/json; charset=UTF-8';
  } else if (r.body !== undefined) {
    payload = r.body;
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(r.status ?? 200, headers);
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0 || !(contentType ?? '').includes('json')) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function describe(raw: Buffer): string | undefined {
  if (raw.length === 0) return undefined;
  return raw.length > 1024 * 1024 ? `[${raw.length} bytes]` : raw.toString('utf8');
}

function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length === 1 ? all[0]! : all;
  }
  return out;
}
