// Builds the real Cloud (compute + storage adapters) for a config. Loaded lazily by the CLI after validation.
import type { Run } from '../config/types.js';
import type { TokenProvider } from './auth.js';
import { Clients, endpointsFromEnv } from './clients.js';
import { GoogleCompute } from './compute.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { GoogleStorage } from './storage.js';
import { RegistryClient } from '../registry/client.js';
import { Iam, iamEndpoint } from './iam.js';
import type { Cloud } from './types.js';

export interface CloudOptions {
  env: Record<string, string | undefined>;
  /** The credentials, found by the caller (findCredentials, or createTokenProvider where none may be needed). */
  tokens: TokenProvider;
  retry: RetryPolicy;
  hooks?: RetryHooks;
  onRequest?: (call: string) => void;
  insertSettleMs?: number;
}

/** Where the compute adapter works. A run with no project (a local bake to a file) never calls compute. */
function computeTarget(run: Run): { project: string; zone: string; region: string } {
  switch (run.kind) {
    case 'vm-build':
    case 'vm-verify':
      return { project: run.projectName, zone: run.zone, region: run.region };
    case 'local-build':
      return { project: run.projectName, zone: '', region: '' };
    case 'local-archive':
    case 'local-verify':
      return { project: '', zone: '', region: '' };
  }
}

export function createCloud(run: Run, o: CloudOptions): Cloud {
  const { tokens } = o;
  const clients = new Clients(tokens, endpointsFromEnv(o.env));
  return {
    compute: new GoogleCompute(clients, { ...computeTarget(run), retry: o.retry, hooks: o.hooks, onRequest: o.onRequest, insertSettleMs: o.insertSettleMs }),
    storage: new GoogleStorage(clients, o.retry, o.hooks),
    // The caller's Google token is offered only to Google's registries (gcr.io, *.pkg.dev).
    iam: new Iam(tokens, iamEndpoint(o.env), o.retry),
    accessToken: async (signal = new AbortController().signal) => (await withRetry('oauth2.token', () => tokens.getToken(signal), signal, o.retry, o.hooks)).token,
    registry: new RegistryClient(async () => (await tokens.getToken().catch(() => undefined))?.token),
  };
}
