// The metadata server (docs/architecture.md, VM metadata): the instance attributes the CLI wrote, and fresh access
// tokens of the VM's service account. Plain `fetch`, retried while the server is not reachable.
import { Fail } from './errors.js';

export class Metadata {
  constructor(
    /** `host[:port]` */
    readonly host: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  private async get(path: string): Promise<{ status: number; body: string; error?: string }> {
    let last = '';
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const res = await this.fetchFn(`http://${this.host}/computeMetadata/v1/instance/${path}`, {
          headers: { 'Metadata-Flavor': 'Google' },
          signal: AbortSignal.timeout(10_000),
        });
        const body = await res.text();
        if (res.status < 500) return { status: res.status, body };
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      }
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2000)));
    }
    return { status: 0, body: '', error: last };
  }

  /** Instance attribute `key`; `fallback` when it is absent (no fallback: absent is an error). */
  async attribute(key: string, fallback?: string): Promise<string> {
    const res = await this.get(`attributes/${key}`);
    if (res.status === 200) return res.body;
    if (res.status === 404 && fallback !== undefined) return fallback;
    throw new Fail(`cannot read metadata attribute ${key} from ${this.host} (${res.status === 0 ? res.error : `HTTP ${res.status}`})`);
  }

  /** A fresh access token of the VM's service account; never printed. */
  async token(): Promise<string> {
    const res = await this.get('service-accounts/default/token');
    if (res.status !== 200) throw new Error(res.status === 0 ? (res.error ?? 'no answer') : `HTTP ${res.status}`);
    let token: unknown;
    try {
      token = (JSON.parse(res.body) as { access_token?: unknown }).access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '') throw new Error('the token endpoint returned no access_token');
    return token;
  }
}
