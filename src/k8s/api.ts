// Reads a GKE cluster's Kubernetes API — the objects `doctor` checks and `prune` looks at — with no kubectl: HTTPS to
// the cluster's `endpoint`, trusting only the cluster's CA (`masterAuth.clusterCaCertificate`), with the caller's
// Google access token as the bearer token (GKE accepts it, as gke-gcloud-auth-plugin relies on). The endpoint and CA
// come from the GKE API (src/gcp/gke.ts), which is the only seam (docs/architecture.md, Test seams).
// Node built-ins only.
import { request } from 'node:https';

export interface KubeTarget {
  /** The cluster's endpoint: an address, maybe with a port. */
  endpoint: string;
  /** PEM. */
  caCertificate: string;
  /** The bearer token, fetched per request (tokens expire). */
  token: (signal: AbortSignal) => Promise<string>;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

/** A Kubernetes API answer that is not a success: its HTTP status and the Status object's reason. */
export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly status: number,
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** `node.gke.io/v1` GCPResourceAllowlist: the GCP resources Autopilot nodes may use (secondary boot disk images). */
export interface ResourceAllowlist {
  name: string;
  /** Regular expressions, each matched against a whole resource path such as `projects/P/global/images/I`. */
  allowedResourcePatterns: string[];
}

/** A secondary boot disk a `cloud.google.com/v1` ComputeClass asks for, in one of its priorities. */
export interface ComputeClassDisk {
  diskImageName: string;
  project?: string;
  mode?: string;
}

export interface ComputeClassInfo {
  name: string;
  /** Node pools are created for it (`spec.nodePoolAutoCreation.enabled`). */
  autoCreation: boolean;
  secondaryBootDisks: ComputeClassDisk[];
}

export interface ContainerSpec {
  name: string;
  image: string;
}

export interface PodInfo {
  namespace: string;
  name: string;
  nodeSelector: Record<string, string>;
  containers: ContainerSpec[];
  initContainers: ContainerSpec[];
  /** What the kubelet ran, per container name: `imageID` (a reference with the digest pulled). */
  imageIds: Record<string, string>;
}

/** What doctor (and prune) read of a cluster's Kubernetes API; unit tests pass a fake. */
export interface KubeApi {
  /** The allowlists, or undefined when the cluster has no such resource type (no Autopilot / auto-provisioning). */
  listAllowlists(signal: AbortSignal): Promise<ResourceAllowlist[] | undefined>;
  /** The ComputeClasses, or undefined when the cluster has no such resource type. */
  listComputeClasses(signal: AbortSignal): Promise<ComputeClassInfo[] | undefined>;
  listPods(namespace: string, signal: AbortSignal): Promise<PodInfo[]>;
}

interface ObjectMeta {
  name?: string;
  namespace?: string;
}

interface RawPodSpec {
  nodeSelector?: Record<string, string>;
  containers?: Array<{ name?: string; image?: string }>;
  initContainers?: Array<{ name?: string; image?: string }>;
}

const containersOf = (list: Array<{ name?: string; image?: string }> | undefined): ContainerSpec[] =>
  (list ?? []).filter((c) => typeof c.image === 'string').map((c) => ({ name: c.name ?? '', image: c.image! }));

export class KubeClient implements KubeApi {
  constructor(private readonly target: KubeTarget) {}

  async listAllowlists(signal: AbortSignal): Promise<ResourceAllowlist[] | undefined> {
    const items = await this.listOrAbsent<{ metadata?: ObjectMeta; spec?: { allowedResourcePatterns?: string[] } }>(
      '/apis/node.gke.io/v1/gcpresourceallowlists',
      signal,
    );
    return items?.map((o) => ({ name: o.metadata?.name ?? '', allowedResourcePatterns: o.spec?.allowedResourcePatterns ?? [] }));
  }

  async listComputeClasses(signal: AbortSignal): Promise<ComputeClassInfo[] | undefined> {
    type Raw = {
      metadata?: ObjectMeta;
      spec?: {
        nodePoolAutoCreation?: { enabled?: boolean };
        priorities?: Array<{ storage?: { secondaryBootDisks?: Array<{ diskImageName?: string; project?: string; mode?: string }> } }>;
      };
    };
    const items = await this.listOrAbsent<Raw>('/apis/cloud.google.com/v1/computeclasses', signal);
    return items?.map((o) => ({
      name: o.metadata?.name ?? '',
      autoCreation: o.spec?.nodePoolAutoCreation?.enabled === true,
      secondaryBootDisks: (o.spec?.priorities ?? []).flatMap((p) =>
        (p.storage?.secondaryBootDisks ?? [])
          .filter((d) => typeof d.diskImageName === 'string')
          .map((d) => ({
            diskImageName: d.diskImageName!,
            ...(d.project ? { project: d.project } : {}),
            ...(d.mode ? { mode: d.mode } : {}),
          })),
      ),
    }));
  }

  async listPods(namespace: string, signal: AbortSignal): Promise<PodInfo[]> {
    type Raw = {
      metadata?: ObjectMeta;
      spec?: RawPodSpec;
      status?: {
        containerStatuses?: Array<{ name?: string; imageID?: string }>;
        initContainerStatuses?: Array<{ name?: string; imageID?: string }>;
      };
    };
    const items = await this.list<Raw>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, signal);
    return items.map((o) => ({
      namespace: o.metadata?.namespace ?? namespace,
      name: o.metadata?.name ?? '',
      nodeSelector: o.spec?.nodeSelector ?? {},
      containers: containersOf(o.spec?.containers),
      initContainers: containersOf(o.spec?.initContainers),
      imageIds: Object.fromEntries(
        [...(o.status?.containerStatuses ?? []), ...(o.status?.initContainerStatuses ?? [])]
          .filter((s) => s.name && s.imageID)
          .map((s) => [s.name!, s.imageID!]),
      ),
    }));
  }

  private async listOrAbsent<T>(path: string, signal: AbortSignal): Promise<T[] | undefined> {
    try {
      return await this.list<T>(path, signal);
    } catch (err) {
      // A resource type the cluster does not serve: 404 "the server could not find the requested resource".
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every item of a list, following `metadata.continue`. */
  private async list<T>(path: string, signal: AbortSignal): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined;
    do {
      const query = `?limit=500${next ? `&continue=${encodeURIComponent(next)}` : ''}`;
      const body = (await this.get(path + query, signal)) as { items?: T[]; metadata?: { continue?: string } };
      items.push(...(body.items ?? []));
      next = body.metadata?.continue || undefined;
    } while (next);
    return items;
  }

  private async get(path: string, signal: AbortSignal): Promise<unknown> {
    const token = await this.target.token(signal);
    const url = new URL(path, `https://${this.target.endpoint}`);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'GET',
          ca: this.target.caCertificate,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
          signal,
          timeout: this.target.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: { message?: string; reason?: string } | undefined;
            try {
              json = JSON.parse(text) as typeof json;
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300 && json) return resolve(json);
            reject(
              new KubeError(
                status,
                json?.reason,
                `Kubernetes API ${url.pathname}: HTTP ${status}${json?.message ? `: ${json.message}` : ''}`,
              ),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`Kubernetes API ${url.pathname}: no answer in time`)));
      req.on('error', reject);
      req.end();
    });
  }
}
