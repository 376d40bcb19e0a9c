// Loads the Google client libraries lazily and constructs each client once. Of @google-cloud/compute only the
// clients used are loaded, each from its own module: the package root loads every client of three API versions,
// which costs seconds (docs/architecture.md, Client library facts). Endpoints honour the seams of
// docs/architecture.md, Test seams: CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, STORAGE_EMULATOR_HOST.
import type { TokenProvider } from './auth.js';
import { useCompactDescription } from './compute-description.js';
import { storageAuthLibrary } from './storage-auth-library.js';
import { currentRequestSignal, linkSignals } from '../io/request-scope.js';

/** For the client class types only: the package root itself is never loaded. */
type ComputeModule = typeof import('@google-cloud/compute');

/**
 * The compute clients this tool uses, and the only ones `Clients.compute()` accepts: `npm run build` cuts the API
 * description down to their services (src/gcp/compute-description.ts).
 */
export const COMPUTE_CLIENTS = [
  'ProjectsClient',
  'ZonesClient',
  'ImagesClient',
  'MachineTypesClient',
  'DiskTypesClient',
  'NetworksClient',
  'SubnetworksClient',
  'DisksClient',
  'InstancesClient',
  'ZoneOperationsClient',
  'GlobalOperationsClient',
] as const satisfies ReadonlyArray<keyof ComputeModule & `${string}Client`>;
export type ComputeClientName = (typeof COMPUTE_CLIENTS)[number];

/** The module of one compute v1 client: `DiskTypesClient` → `…/build/src/v1/disk_types_client.js`. */
export function computeClientModule(name: ComputeClientName): string {
  const file = name
    .replace(/Client$/, '')
    .replace(/(?<!^)([A-Z])/g, '_$1')
    .toLowerCase();
  return `@google-cloud/compute/build/src/v1/${file}_client.js`;
}

/**
 * How each compute client module is loaded: one literal `import()` each, so that a bundler sees every module the
 * tool may load and makes each a chunk of its own, loaded when its client is first asked for (scripts/bundle.mjs).
 * `test/gcp/clients.test.ts` checks each path is `computeClientModule(name)`.
 */
export const COMPUTE_CLIENT_LOADERS: { readonly [K in ComputeClientName]: () => Promise<Record<string, unknown>> } = {
  ProjectsClient: () => import('@google-cloud/compute/build/src/v1/projects_client.js'),
  ZonesClient: () => import('@google-cloud/compute/build/src/v1/zones_client.js'),
  ImagesClient: () => import('@google-cloud/compute/build/src/v1/images_client.js'),
  MachineTypesClient: () => import('@google-cloud/compute/build/src/v1/machine_types_client.js'),
  DiskTypesClient: () => import('@google-cloud/compute/build/src/v1/disk_types_client.js'),
  NetworksClient: () => import('@google-cloud/compute/build/src/v1/networks_client.js'),
  SubnetworksClient: () => import('@google-cloud/compute/build/src/v1/subnetworks_client.js'),
  DisksClient: () => import('@google-cloud/compute/build/src/v1/disks_client.js'),
  InstancesClient: () => import('@google-cloud/compute/build/src/v1/instances_client.js'),
  ZoneOperationsClient: () => import('@google-cloud/compute/build/src/v1/zone_operations_client.js'),
  GlobalOperationsClient: () => import('@google-cloud/compute/build/src/v1/global_operations_client.js'),
};

export interface Endpoints {
  compute?: { host: string; port: number; protocol: 'http' | 'https' };
  /** Storage API root, e.g. http://127.0.0.1:8081 */
  storage?: string;
}

export function endpointsFromEnv(env: Record<string, string | undefined>): Endpoints {
  const out: Endpoints = {};
  const c = env.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE;
  if (c) {
    const u = new URL(c);
    const protocol = u.protocol === 'http:' ? 'http' : 'https';
    out.compute = { host: u.hostname, port: Number(u.port || (protocol === 'http' ? 80 : 443)), protocol };
  }
  const s = env.STORAGE_EMULATOR_HOST;
  if (s) out.storage = /^https?:\/\//.test(s) ? s.replace(/\/+$/, '') : `http://${s}`;
  return out;
}

type FetchInit = { signal?: AbortSignal | null } & Record<string, unknown>;
interface AuthClientLike {
  refreshHandler?: () => Promise<{ access_token: string; expiry_date: number }>;
  fetch?: (input: unknown, init?: FetchInit) => Promise<unknown>;
}

/** Wraps our token provider in an OAuth2Client of whichever google-auth-library copy a client library expects. */
function oauthClientFor(lib: { OAuth2Client: new () => unknown }, tokens: TokenProvider): unknown {
  const client = new lib.OAuth2Client() as AuthClientLike;
  client.refreshHandler = async () => {
    const t = await tokens.getToken();
    return { access_token: t.token, expiry_date: t.expiresAt };
  };
  tieRequestsToAttempts(client);
  return client;
}

/**
 * Every request the compute clients send goes through the auth client's fetch (google-gax's REST transport calls
 * it). Tie each to the signal of the retry attempt that sent it, so an abandoned attempt aborts its request
 * instead of leaving it in flight.
 */
function tieRequestsToAttempts(client: AuthClientLike): void {
  const original = client.fetch?.bind(client);
  if (!original) return;
  client.fetch = async (input, init) => {
    const attempt = currentRequestSignal();
    if (!attempt) return original(input, init);
    // The attempt's signal always aborts when the attempt is over, which also drops these listeners.
    return original(input, { ...init, signal: init?.signal ? linkSignals(init.signal, attempt) : attempt });
  };
}

export class Clients {
  private readonly computeClients = new Map<string, Promise<unknown>>();
  private storageClient?: Promise<import('@google-cloud/storage').Storage>;

  constructor(
    private readonly tokens: TokenProvider,
    private readonly endpoints: Endpoints,
  ) {}

  /** One instance per client class, e.g. compute('DisksClient'). */
  compute<K extends ComputeClientName>(name: K): Promise<InstanceType<Extract<ComputeModule[K], new (...a: never[]) => unknown>>> {
    let p = this.computeClients.get(name);
    if (!p) {
      p = (async () => {
        useCompactDescription();
        const [mod, gal] = await Promise.all([COMPUTE_CLIENT_LOADERS[name](), import('google-auth-library')]);
        const Ctor = mod[name] as new (opts: object) => unknown;
        if (typeof Ctor !== 'function') throw new Error(`${computeClientModule(name)} has no ${name}`);
        const ep = this.endpoints.compute;
        return new Ctor({
          authClient: oauthClientFor(gal, this.tokens),
          ...(ep ? { apiEndpoint: ep.host, port: ep.port, protocol: ep.protocol } : {}),
          fallback: true,
        });
      })();
      this.computeClients.set(name, p);
    }
    return p as never;
  }

  storage(): Promise<import('@google-cloud/storage').Storage> {
    this.storageClient ??= (async () => {
      const [{ Storage }, gal] = await Promise.all([import('@google-cloud/storage'), storageAuthLibrary()]);
      const storage = new Storage({
        authClient: oauthClientFor(gal, this.tokens) as never,
        ...(this.endpoints.storage ? { apiEndpoint: this.endpoints.storage, useAuthWithCustomEndpoint: true } : {}),
        retryOptions: { autoRetry: false },
      });
      // With STORAGE_EMULATOR_HOST in process.env, the library uses its raw value as the JSON API base URL
      // (no /storage/v1), while uploads go to <apiEndpoint>/upload/storage/v1. Make both the real API's paths.
      if (this.endpoints.storage) (storage as unknown as { baseUrl: string }).baseUrl = `${this.endpoints.storage}/storage/v1`;
      return storage;
    })();
    return this.storageClient;
  }
}
