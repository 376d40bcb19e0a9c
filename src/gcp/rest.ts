// One authenticated JSON request through the retry policy, for the Google APIs the tool reads without a client library
// (IAM, Cloud KMS, Secret Manager, GKE, Service Usage, Resource Manager, Cloud Logging). Reads only: a GET, or a POST
// of a read method whose parameters travel in the body (getIamPolicy, entries:list), which is safe to retry. The request is tied to the retry attempt's signal (src/io/request-scope.ts), so an
// attempt given up on is aborted rather than left open; a failure carries its status and API reason for errorInfo.
import type { TokenProvider } from './auth.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { currentRequestSignal } from '../io/request-scope.js';

export interface RestClient {
  tokens: TokenProvider;
  retry: RetryPolicy;
  hooks?: RetryHooks;
}

/** GETs `url` as `call` and returns its JSON body (`{}` when the body is not JSON). */
export function getJson(client: RestClient, call: string, url: string, signal: AbortSignal): Promise<unknown> {
  return requestJson(client, call, url, signal);
}

/** POSTs `body` as JSON to `url` as `call` (a read method: retried as a GET is) and returns its JSON body. */
export function postJson(client: RestClient, call: string, url: string, body: unknown, signal: AbortSignal): Promise<unknown> {
  return requestJson(client, call, url, signal, body);
}

function requestJson(client: RestClient, call: string, url: string, signal: AbortSignal, body?: unknown): Promise<unknown> {
  return withRetry(
    call,
    async () => {
      const { token } = await client.tokens.getToken(signal);
      const res = await fetch(url, {
        ...(body === undefined
          ? { headers: { authorization: `Bearer ${token}` } }
          : {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify(body),
            }),
        signal: currentRequestSignal() ?? signal,
      });
      const text = await res.text();
      let json: { error?: { message?: string; status?: string; errors?: Array<{ reason?: string }> } } = {};
      try {
        json = JSON.parse(text) as typeof json;
      } catch {
        // an answer that is not JSON is reported by its status
      }
      if (res.ok) return json;
      const reason = json.error?.errors?.[0]?.reason ?? json.error?.status;
      throw Object.assign(new Error(json.error?.message ?? `HTTP ${res.status}`), {
        status: res.status,
        ...(reason ? { errors: [{ reason }] } : {}),
      });
    },
    signal,
    client.retry,
    client.hooks ?? {},
  );
}
