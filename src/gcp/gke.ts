// Reads GKE clusters and node pools (container.googleapis.com v1) with the caller's token: what `doctor` checks and
// what `prune` needs to know of the images clusters use. No client library: three GETs through the retry policy
// (src/gcp/rest.ts). @google-cloud/container weighs 18 MB and takes 0.6 s to load and construct; these reads need
// neither its gRPC stack nor its types (docs/architecture.md, Cluster reads). CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER
// points it elsewhere (docs/architecture.md, Test seams).
import type { TokenProvider } from './auth.js';
import { ApiError } from './errors.js';
import type { RetryHooks, RetryPolicy } from './retry.js';
import { getJson } from './rest.js';

/** A disk GKE attaches to each node of a pool, made from `diskImage` (`projects/P/global/images/I`). */
export interface SecondaryBootDisk {
  /** CONTAINER_IMAGE_CACHE for a container image cache; MODE_UNSPECIFIED (or absent) for a plain data disk. */
  mode?: string;
  diskImage?: string;
}

export interface NodePoolInfo {
  name: string;
  /** The pool's Kubernetes version, e.g. 1.30.2-gke.1587003. */
  version?: string;
  /** COS_CONTAINERD, UBUNTU_CONTAINERD, ... */
  imageType?: string;
  /** The nodes' service account: an email, or `default` (the project's Compute Engine default service account). */
  serviceAccount?: string;
  /** Image streaming (`config.gcfsConfig.enabled`). */
  gcfsEnabled: boolean;
  secondaryBootDisks: SecondaryBootDisk[];
  /** Created by node auto-provisioning (or a ComputeClass), not by a user. */
  autoprovisioned: boolean;
  status?: string;
}

export interface ClusterInfo {
  project: string;
  location: string;
  name: string;
  /** `projects/P/locations/L/clusters/C` */
  path: string;
  autopilot: boolean;
  masterVersion?: string;
  nodeVersion?: string;
  /** Where the cluster's Kubernetes API answers (an address, maybe with a port), HTTPS. */
  endpoint?: string;
  /** The cluster's CA certificate, PEM (GKE gives it base64-encoded; decoded here). */
  caCertificate?: string;
  nodePools: NodePoolInfo[];
  /** Node auto-provisioning: whether it is on, and the defaults of the pools it creates. */
  autoprovisioning: { enabled: boolean; imageType?: string; serviceAccount?: string };
  /** Image streaming for pools created from now on (`nodePoolDefaults.nodeConfigDefaults.gcfsConfig.enabled`). */
  defaultGcfsEnabled: boolean;
}

/** The cluster list GKE gave is missing some zones (its `missingZones`). */
export class IncompleteListError extends Error {
  override name = 'IncompleteListError';
}

/** What doctor and prune need of GKE (unit tests pass a fake). */
export interface GkeApi {
  /** Every cluster of the project, in all locations. */
  listClusters(project: string, signal: AbortSignal): Promise<ClusterInfo[]>;
  /** The cluster `projects/P/locations/L/clusters/C`, or undefined when it does not exist. */
  getCluster(path: string, signal: AbortSignal): Promise<ClusterInfo | undefined>;
  /** The node pools of the cluster `projects/P/locations/L/clusters/C`. */
  listNodePools(path: string, signal: AbortSignal): Promise<NodePoolInfo[]>;
}

interface RawNodePool {
  name?: string;
  version?: string;
  status?: string;
  config?: {
    imageType?: string;
    serviceAccount?: string;
    gcfsConfig?: { enabled?: boolean };
    secondaryBootDisks?: Array<{ mode?: string; diskImage?: string }>;
  };
  autoscaling?: { autoprovisioned?: boolean };
}

interface RawCluster {
  name?: string;
  location?: string;
  selfLink?: string;
  endpoint?: string;
  currentMasterVersion?: string;
  currentNodeVersion?: string;
  masterAuth?: { clusterCaCertificate?: string };
  autopilot?: { enabled?: boolean };
  nodePools?: RawNodePool[];
  autoscaling?: {
    enableNodeAutoprovisioning?: boolean;
    autoprovisioningNodePoolDefaults?: { imageType?: string; serviceAccount?: string };
  };
  nodePoolDefaults?: { nodeConfigDefaults?: { gcfsConfig?: { enabled?: boolean } } };
}

export function nodePoolOf(raw: RawNodePool): NodePoolInfo {
  const c = raw.config ?? {};
  return {
    name: raw.name ?? '',
    ...(raw.version ? { version: raw.version } : {}),
    ...(c.imageType ? { imageType: c.imageType } : {}),
    ...(c.serviceAccount ? { serviceAccount: c.serviceAccount } : {}),
    gcfsEnabled: c.gcfsConfig?.enabled === true,
    secondaryBootDisks: (c.secondaryBootDisks ?? []).map((d) => ({
      ...(d.mode ? { mode: d.mode } : {}),
      ...(d.diskImage ? { diskImage: d.diskImage } : {}),
    })),
    autoprovisioned: raw.autoscaling?.autoprovisioned === true,
    ...(raw.status ? { status: raw.status } : {}),
  };
}

export function clusterOf(project: string, raw: RawCluster): ClusterInfo {
  const location = raw.location ?? '';
  const name = raw.name ?? '';
  const ca = raw.masterAuth?.clusterCaCertificate;
  const nap = raw.autoscaling?.autoprovisioningNodePoolDefaults ?? {};
  return {
    project,
    location,
    name,
    path: `projects/${project}/locations/${location}/clusters/${name}`,
    autopilot: raw.autopilot?.enabled === true,
    ...(raw.currentMasterVersion ? { masterVersion: raw.currentMasterVersion } : {}),
    ...(raw.currentNodeVersion ? { nodeVersion: raw.currentNodeVersion } : {}),
    ...(raw.endpoint ? { endpoint: raw.endpoint } : {}),
    ...(ca ? { caCertificate: Buffer.from(ca, 'base64').toString('utf8') } : {}),
    nodePools: (raw.nodePools ?? []).map(nodePoolOf),
    autoprovisioning: {
      enabled: raw.autoscaling?.enableNodeAutoprovisioning === true,
      ...(nap.imageType ? { imageType: nap.imageType } : {}),
      ...(nap.serviceAccount ? { serviceAccount: nap.serviceAccount } : {}),
    },
    defaultGcfsEnabled: raw.nodePoolDefaults?.nodeConfigDefaults?.gcfsConfig?.enabled === true,
  };
}

/** `projects/P/locations/L/clusters/C` → its parts, or undefined when the path has another shape. */
export function parseClusterPath(path: string): { project: string; location: string; name: string } | undefined {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/.exec(path);
  return m ? { project: m[1]!, location: m[2]!, name: m[3]! } : undefined;
}

export class Gke implements GkeApi {
  constructor(
    private readonly tokens: TokenProvider,
    private readonly endpoint: string,
    private readonly retry: RetryPolicy,
    private readonly hooks: RetryHooks = {},
  ) {}

  async listClusters(project: string, signal: AbortSignal): Promise<ClusterInfo[]> {
    const body = (await this.get('container.projects.locations.clusters.list', `projects/${project}/locations/-/clusters`, signal)) as {
      clusters?: RawCluster[];
      missingZones?: string[];
    };
    // GKE lists what it could reach: zones it could not are named in missingZones, and the clusters there are
    // absent from the list. A partial list is no answer to "which clusters are there" (prune must not take it
    // for one), so it is an error naming the zones.
    const missing = (body.missingZones ?? []).filter((z) => typeof z === 'string' && z !== '');
    if (missing.length > 0) throw new IncompleteListError(`GKE could not list the clusters in ${missing.join(', ')}`);
    return (body.clusters ?? []).map((c) => clusterOf(project, c));
  }

  async getCluster(path: string, signal: AbortSignal): Promise<ClusterInfo | undefined> {
    const parts = parseClusterPath(path);
    if (!parts) throw new Error(`not a cluster path: ${path}`);
    try {
      return clusterOf(parts.project, (await this.get('container.projects.locations.clusters.get', path, signal)) as RawCluster);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async listNodePools(path: string, signal: AbortSignal): Promise<NodePoolInfo[]> {
    const body = (await this.get('container.projects.locations.clusters.nodePools.list', `${path}/nodePools`, signal)) as {
      nodePools?: RawNodePool[];
    };
    return (body.nodePools ?? []).map(nodePoolOf);
  }

  private get(call: string, name: string, signal: AbortSignal): Promise<unknown> {
    const url = `${this.endpoint.replace(/\/+$/, '')}/v1/${name.split('/').map(encodeURIComponent).join('/')}`;
    return getJson({ tokens: this.tokens, retry: this.retry, hooks: this.hooks }, call, url, signal);
  }
}

export function containerEndpoint(env: Record<string, string | undefined>): string {
  return env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER || 'https://container.googleapis.com/';
}
