/**
 * GKE (container.googleapis.com v1): `clusters.list` (all locations with `-`), `clusters.get` and `nodePools.list`,
 * in the shapes of Google's API description (Cluster, NodePool, NodeConfig.secondaryBootDisks {diskImage, mode},
 * gcfsConfig, autopilot, autoscaling.autoprovisioningNodePoolDefaults). Each cluster added also gets its own small
 * Kubernetes API (kubernetes.ts) on an HTTPS port of 127.0.0.1: the cluster's `endpoint` names it and
 * `masterAuth.clusterCaCertificate` is its CA, as GKE gives them. Clusters are added by tests (`emu.gke.addCluster`);
 * a zone in `unreachableZones` is left out of clusters.list and named in its `missingZones`, as GKE does. A cluster
 * with `privateEndpoint` is a private cluster whose control plane answers on a private address only
 * (`privateClusterConfig.enablePrivateEndpoint`): its `endpoint` is an address nothing listens on from here.
 */
import type { Server } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Router } from './router.js';
import { startKubernetesApi, type KubeObjects } from './kubernetes.js';
import type { ServerDeps } from './server.js';

export interface NodePoolSeed {
  name: string;
  /** Default: the cluster's version. */
  version?: string;
  /** Default COS_CONTAINERD. */
  imageType?: string;
  /** Default `default`. */
  serviceAccount?: string;
  /** Image streaming (`config.gcfsConfig.enabled`); default false (true on Autopilot). */
  gcfs?: boolean;
  secondaryBootDisks?: Array<{ diskImage: string; mode?: string }>;
  /** Created by node auto-provisioning (`autoscaling.autoprovisioned`). */
  autoprovisioned?: boolean;
}

export interface ClusterSeed {
  /** Default test-project. */
  project?: string;
  /** Default us-central1. */
  location?: string;
  name: string;
  autopilot?: boolean;
  /** Master and node version; default 1.31.1-gke.1146000. */
  version?: string;
  nodePools?: NodePoolSeed[];
  /** Node auto-provisioning and its defaults (Autopilot: always on). */
  autoprovisioning?: { enabled: boolean; imageType?: string; serviceAccount?: string };
  /** `nodePoolDefaults.nodeConfigDefaults.gcfsConfig.enabled` (Autopilot: true). */
  defaultGcfs?: boolean;
  /** What its Kubernetes API holds (see kubernetes.ts). */
  kubernetes?: Partial<KubeObjects>;
  /** A private endpoint only: the Kubernetes API holds its objects but cannot be reached (connection refused). */
  privateEndpoint?: boolean;
}

export interface EmuCluster {
  project: string;
  location: string;
  name: string;
  autopilot: boolean;
  version: string;
  nodePools: Array<
    Required<Omit<NodePoolSeed, 'secondaryBootDisks'>> & { secondaryBootDisks: Array<{ diskImage: string; mode?: string }> }
  >;
  autoprovisioning: { enabled: boolean; imageType?: string; serviceAccount?: string };
  defaultGcfs: boolean;
  /** `127.0.0.1:PORT` */
  endpoint: string;
  /** The endpoint is private (`privateClusterConfig`) and unreachable from the caller. */
  privateEndpoint: boolean;
  /** The CA, PEM. */
  caCertificate: string;
  /** Live objects of its Kubernetes API; tests may edit them. */
  kube: KubeObjects;
}

export class GkeService {
  readonly clusters = new Map<string, EmuCluster>();
  /** Zones GKE could not reach: clusters.list names them in `missingZones` and leaves their clusters out. */
  readonly unreachableZones = new Set<string>();
  private readonly servers: Server[] = [];

  constructor(private readonly serverDeps: Omit<ServerDeps, 'router'>) {}

  /** Adds a cluster and starts its Kubernetes API. */
  async addCluster(seed: ClusterSeed): Promise<EmuCluster> {
    const autopilot = seed.autopilot ?? false;
    const version = seed.version ?? '1.31.1-gke.1146000';
    const nap = autopilot ? { enabled: true, ...seed.autoprovisioning } : (seed.autoprovisioning ?? { enabled: false });
    const kube: KubeObjects = {
      // Autopilot clusters and clusters with auto-provisioning serve the allowlist resource type (emulator choice).
      allowlists: seed.kubernetes?.allowlists ?? (autopilot || nap.enabled ? [] : undefined),
      computeClasses: seed.kubernetes?.computeClasses ?? [],
      pods: seed.kubernetes?.pods ?? [],
      forbidden: seed.kubernetes?.forbidden ?? new Set(),
    };
    const { server, port, ca } = await startKubernetesApi(kube, this.serverDeps);
    this.servers.push(server);
    const cluster: EmuCluster = {
      project: seed.project ?? 'test-project',
      location: seed.location ?? 'us-central1',
      name: seed.name,
      autopilot,
      version,
      nodePools: (seed.nodePools ?? []).map((p) => ({
        name: p.name,
        version: p.version ?? version,
        imageType: p.imageType ?? 'COS_CONTAINERD',
        serviceAccount: p.serviceAccount ?? 'default',
        gcfs: p.gcfs ?? autopilot,
        secondaryBootDisks: p.secondaryBootDisks ?? [],
        autoprovisioned: p.autoprovisioned ?? autopilot,
      })),
      autoprovisioning: nap,
      defaultGcfs: seed.defaultGcfs ?? autopilot,
      endpoint: `127.0.0.1:${seed.privateEndpoint ? await closedPort() : port}`,
      privateEndpoint: seed.privateEndpoint ?? false,
      caCertificate: ca,
      kube,
    };
    this.clusters.set(`projects/${cluster.project}/locations/${cluster.location}/clusters/${cluster.name}`, cluster);
    return cluster;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }
}

/** A port of 127.0.0.1 that was free a moment ago and is closed now: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const API = 'https://container.googleapis.com/v1';

function nodePoolJson(c: EmuCluster, p: EmuCluster['nodePools'][number]) {
  return {
    name: p.name,
    config: {
      machineType: 'e2-standard-4',
      diskSizeGb: 100,
      imageType: p.imageType,
      serviceAccount: p.serviceAccount,
      oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
      ...(p.gcfs ? { gcfsConfig: { enabled: true } } : {}),
      ...(p.secondaryBootDisks.length ? { secondaryBootDisks: p.secondaryBootDisks } : {}),
    },
    initialNodeCount: 1,
    autoscaling: p.autoprovisioned ? { enabled: true, autoprovisioned: true } : {},
    version: p.version,
    status: 'RUNNING',
    selfLink: `${API}/projects/${c.project}/locations/${c.location}/clusters/${c.name}/nodePools/${p.name}`,
  };
}

function clusterJson(c: EmuCluster) {
  return {
    name: c.name,
    location: c.location,
    selfLink: `${API}/projects/${c.project}/locations/${c.location}/clusters/${c.name}`,
    endpoint: c.endpoint,
    ...(c.privateEndpoint
      ? { privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: true, privateEndpoint: c.endpoint } }
      : {}),
    masterAuth: { clusterCaCertificate: Buffer.from(c.caCertificate).toString('base64') },
    initialClusterVersion: c.version,
    currentMasterVersion: c.version,
    currentNodeVersion: c.nodePools[0]?.version ?? c.version,
    status: 'RUNNING',
    ...(c.autopilot ? { autopilot: { enabled: true } } : {}),
    nodePools: c.nodePools.map((p) => nodePoolJson(c, p)),
    autoscaling: {
      ...(c.autoprovisioning.enabled ? { enableNodeAutoprovisioning: true } : {}),
      autoprovisioningNodePoolDefaults: {
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        ...(c.autoprovisioning.imageType ? { imageType: c.autoprovisioning.imageType } : {}),
        ...(c.autoprovisioning.serviceAccount ? { serviceAccount: c.autoprovisioning.serviceAccount } : {}),
      },
    },
    ...(c.defaultGcfs ? { nodePoolDefaults: { nodeConfigDefaults: { gcfsConfig: { enabled: true } } } } : {}),
  };
}

/** GKE's errors: the gRPC-transcoded shape, `{error: {code, message, status}}`. */
const notFound = (name: string) => ({ status: 404, json: { error: { code: 404, message: `Not found: ${name}.`, status: 'NOT_FOUND' } } });

export function registerGke(router: Router, gke: GkeService): void {
  const find = (p: Record<string, string>) =>
    gke.clusters.get(`projects/${p['project']}/locations/${p['location']}/clusters/${p['cluster']}`);
  router.add('GET', '/v1/projects/:project/locations/:location/clusters', 'container.projects.locations.clusters.list', ({ params }) => {
    const all = [...gke.clusters.values()].filter(
      (c) => c.project === params['project'] && (params['location'] === '-' || c.location === params['location']),
    );
    const missing = [...gke.unreachableZones].filter((z) => params['location'] === '-' || params['location'] === z);
    const seen = all.filter((c) => !missing.includes(c.location));
    return { json: { clusters: seen.map(clusterJson), ...(missing.length ? { missingZones: missing } : {}) } };
  });
  router.add(
    'GET',
    '/v1/projects/:project/locations/:location/clusters/:cluster',
    'container.projects.locations.clusters.get',
    ({ params }) => {
      const c = find(params);
      if (!c) return notFound(`projects/${params['project']}/locations/${params['location']}/clusters/${params['cluster']}`);
      return { json: clusterJson(c) };
    },
  );
  router.add(
    'GET',
    '/v1/projects/:project/locations/:location/clusters/:cluster/nodePools',
    'container.projects.locations.clusters.nodePools.list',
    ({ params }) => {
      const c = find(params);
      if (!c) return notFound(`projects/${params['project']}/locations/${params['location']}/clusters/${params['cluster']}`);
      return { json: { nodePools: c.nodePools.map((p) => nodePoolJson(c, p)) } };
    },
  );
}
