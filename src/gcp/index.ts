// The one composition root of the cloud adapters: every command (build, verify, cleanup) gets its Google
// clients, retry policy and credentials from here. Loaded lazily by the CLI after validation.
import type { TokenProvider } from './auth.js';
import { Clients, endpointsFromEnv } from './clients.js';
import { GoogleCompute } from './compute.js';
import { Inventory } from './inventory.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { GoogleStorage } from './storage.js';
import { RegistryClient } from '../registry/client.js';
import { Iam, iamEndpoint } from './iam.js';
import { Kms, kmsEndpoint } from './kms.js';
import { SecretManager, secretManagerEndpoint } from './secret-manager.js';
import { containerEndpoint, Gke, type ClusterInfo, type GkeApi } from './gke.js';
import { ProjectReads, projectReadsEndpoints, type ProjectReadsApi } from './project-reads.js';
import type { Redactor } from '../io/redact.js';
import type { KubeApi } from '../k8s/api.js';
import type { Cloud } from './types.js';

/** Where the adapters work. */
export interface CloudScope {
  /** Absent for a run that works in no project (a local bake to a file, a local verify). */
  project?: string;
  /** Absent for a command that works across zones (cleanup without --zone). */
  zone?: string;
}

export interface CloudOptions {
  env: Record<string, string | undefined>;
  /** The credentials, found by the caller (findCredentials, or createTokenProvider where none may be needed). */
  tokens: TokenProvider;
  retry: RetryPolicy;
  hooks?: RetryHooks;
  onRequest?: (call: string) => void;
  /** How long an interrupted insert may settle before its resource is deleted (Tuning.insertSettleMs). */
  insertSettleMs: number;
  /** Told every secret read from Secret Manager, so that none can be printed. */
  redactor?: Redactor;
}

/** The build's Cloud, and the inventory of what builds left behind (cleanup). */
export interface GoogleCloud extends Cloud {
  /** What builds left behind in the scope's project (cleanup). */
  inventory(): Inventory;
  /** GKE clusters and node pools (doctor, prune). */
  gke: GkeApi;
  /** Service Usage, Resource Manager and Cloud Logging reads (doctor). */
  projectReads: ProjectReadsApi;
  /** The Kubernetes API of a cluster read from `gke`, with the caller's token (loaded on first use). */
  kube(cluster: ClusterInfo): Promise<KubeApi>;
}

export function createCloud(scope: CloudScope, o: CloudOptions): GoogleCloud {
  const { tokens } = o;
  const clients = new Clients(tokens, endpointsFromEnv(o.env));
  const compute = new GoogleCompute(clients, {
    project: scope.project,
    zone: scope.zone,
    retry: o.retry,
    hooks: o.hooks,
    onRequest: o.onRequest,
    insertSettleMs: o.insertSettleMs,
  });
  return {
    compute,
    storage: new GoogleStorage(clients, o.retry, o.hooks),
    iam: new Iam(tokens, iamEndpoint(o.env), o.retry),
    kms: new Kms(tokens, kmsEndpoint(o.env), o.retry),
    secretManager: new SecretManager(tokens, secretManagerEndpoint(o.env), o.retry, o.hooks, o.redactor),
    accessToken: async (signal = new AbortController().signal) =>
      (await withRetry('oauth2.token', () => tokens.getToken(signal), signal, o.retry, o.hooks)).token,
    dataSources: {
      // The listing code the VM agent runs too (src/vm/data-sources.ts), with the caller's token for Cloud Storage.
      resolve: async (source, index, hfToken, signal) => {
        const { resolveDataSource } = await import('../vm/data-sources.js');
        const endpoints = endpointsFromEnv(o.env);
        return resolveDataSource(source, index, {
          token: async () => (await withRetry('oauth2.token', () => tokens.getToken(signal), signal, o.retry, o.hooks)).token,
          storageEndpoint: endpoints.storage ?? 'https://storage.googleapis.com',
          hfEndpoint: o.env.HF_ENDPOINT || 'https://huggingface.co',
          ...(hfToken !== undefined ? { hfToken } : {}),
          signal,
        });
      },
    },
    // The caller's Google token is offered only to Google's registries (gcr.io, *.pkg.dev).
    registry: new RegistryClient(async () => (await tokens.getToken().catch(() => undefined))?.token),
    projectReads: new ProjectReads(tokens, projectReadsEndpoints(o.env), o.retry, o.hooks),
    gke: new Gke(tokens, containerEndpoint(o.env), o.retry, o.hooks),
    kube: async (cluster) => {
      if (!cluster.endpoint || !cluster.caCertificate) throw new Error(`cluster ${cluster.path} has no endpoint or CA certificate`);
      const { KubeClient } = await import('../k8s/api.js');
      return new KubeClient({
        endpoint: cluster.endpoint,
        caCertificate: cluster.caCertificate,
        token: async (signal) => (await withRetry('oauth2.token', () => tokens.getToken(signal), signal, o.retry, o.hooks)).token,
      });
    },
    inventory: () => {
      if (scope.project === undefined) throw new Error('an inventory needs a project');
      return new Inventory(clients, scope.project, o.retry, (zone) => compute.inZone(zone), o.hooks);
    },
  };
}
