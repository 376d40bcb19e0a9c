/**
 * A small Kubernetes API for one emulated GKE cluster, over HTTPS on 127.0.0.1 with the emulator's TLS identity (the
 * cluster's CA): the cluster-scoped `node.gke.io/v1` GCPResourceAllowlists and `cloud.google.com/v1` ComputeClasses,
 * and pods by namespace, as `List` objects (`apiVersion`, `kind`, `metadata.resourceVersion`, `items`). It takes the
 * caller's Google access token, as GKE does: the emulator's accepted tokens. Errors are Kubernetes `Status` objects.
 * A resource type the cluster does not serve answers 404 "the server could not find the requested resource".
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Router, type Reply } from './router.js';
import { requestHandler, type ServerDeps } from './server.js';
import { tlsIdentity } from './tls.js';

export interface AllowlistSeed {
  name: string;
  patterns: string[];
}

export interface ComputeClassSeed {
  name: string;
  /** `spec.nodePoolAutoCreation.enabled` (default true). */
  autoCreation?: boolean;
  /** One priority's `storage.secondaryBootDisks`. */
  secondaryBootDisks?: Array<{ diskImageName: string; project?: string; mode?: string }>;
}

export interface PodSeed {
  /** Default `default`. */
  namespace?: string;
  name: string;
  containers: Array<{ name: string; image: string }>;
  initContainers?: Array<{ name: string; image: string }>;
  nodeSelector?: Record<string, string>;
  /** `status.containerStatuses[].imageID` per container name. */
  imageIds?: Record<string, string>;
}

export type KubeResource = 'gcpresourceallowlists' | 'computeclasses' | 'pods';

export interface KubeObjects {
  /** undefined: the cluster does not serve the resource type. */
  allowlists: AllowlistSeed[] | undefined;
  computeClasses: ComputeClassSeed[] | undefined;
  pods: PodSeed[];
  /** Resource types the caller may not list (403 Forbidden, as RBAC answers). */
  forbidden: Set<KubeResource>;
}

function status(code: number, reason: string, message: string): Reply {
  return { status: code, json: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code } };
}

const absent = (): Reply => status(404, 'NotFound', 'the server could not find the requested resource');
const forbidden = (resource: string, group: string, scope: string): Reply =>
  status(
    403,
    'Forbidden',
    `${resource}${group ? `.${group}` : ''} is forbidden: User "caller" cannot list resource "${resource}" in API group "${group}" ${scope}`,
  );

function list(apiVersion: string, kind: string, items: object[]): Reply {
  return { json: { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: '1000' }, items } };
}

export function kubernetesRouter(objects: KubeObjects): Router {
  const router = new Router();
  router.add('GET', '/apis/node.gke.io/v1/gcpresourceallowlists', 'k8s.gcpresourceallowlists.list', () => {
    if (!objects.allowlists) return absent();
    if (objects.forbidden.has('gcpresourceallowlists')) return forbidden('gcpresourceallowlists', 'node.gke.io', 'at the cluster scope');
    return list(
      'node.gke.io/v1',
      'GCPResourceAllowlist',
      objects.allowlists.map((a) => ({
        apiVersion: 'node.gke.io/v1',
        kind: 'GCPResourceAllowlist',
        metadata: { name: a.name },
        spec: { allowedResourcePatterns: a.patterns },
      })),
    );
  });
  router.add('GET', '/apis/cloud.google.com/v1/computeclasses', 'k8s.computeclasses.list', () => {
    if (!objects.computeClasses) return absent();
    if (objects.forbidden.has('computeclasses')) return forbidden('computeclasses', 'cloud.google.com', 'at the cluster scope');
    return list(
      'cloud.google.com/v1',
      'ComputeClass',
      objects.computeClasses.map((c) => ({
        apiVersion: 'cloud.google.com/v1',
        kind: 'ComputeClass',
        metadata: { name: c.name },
        spec: {
          priorities: [{ machineFamily: 'n2', ...(c.secondaryBootDisks ? { storage: { secondaryBootDisks: c.secondaryBootDisks } } : {}) }],
          nodePoolAutoCreation: { enabled: c.autoCreation ?? true },
        },
      })),
    );
  });
  router.add('GET', '/api/v1/namespaces/:namespace/pods', 'k8s.pods.list', ({ params }) => {
    const ns = params['namespace']!;
    if (objects.forbidden.has('pods')) return forbidden('pods', '', `in the namespace "${ns}"`);
    return list(
      'v1',
      'Pod',
      objects.pods
        .filter((p) => (p.namespace ?? 'default') === ns)
        .map((p) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: p.name, namespace: ns },
          spec: {
            containers: p.containers,
            ...(p.initContainers ? { initContainers: p.initContainers } : {}),
            ...(p.nodeSelector ? { nodeSelector: p.nodeSelector } : {}),
          },
          status: {
            phase: 'Running',
            containerStatuses: p.containers.map((c) => ({
              name: c.name,
              image: c.image,
              ...(p.imageIds?.[c.name] ? { imageID: p.imageIds[c.name] } : {}),
            })),
          },
        })),
    );
  });
  return router;
}

/** Starts the Kubernetes API of one cluster; its CA is the certificate it serves. */
export async function startKubernetesApi(
  objects: KubeObjects,
  deps: Omit<ServerDeps, 'router'>,
): Promise<{ server: Server; port: number; ca: string }> {
  const tls = await tlsIdentity();
  const server = createServer(
    { key: tls.key, cert: tls.cert },
    requestHandler({ ...deps, router: kubernetesRouter(objects), unauthenticated: () => status(401, 'Unauthorized', 'Unauthorized') }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, ca: tls.cert };
}
