/**
 * A local GCP emulator for integration tests: Compute Engine v1 REST, the Cloud Storage JSON
 * API and an OAuth token endpoint on one port of 127.0.0.1, spoken to by the real client
 * libraries. See SPEC.md in this directory for its behaviour, and clients.ts for how to point
 * the clients at it.
 */
import type { AddressInfo } from 'node:net';
import { registerCatalog } from './compute/catalog.js';
import type { ComputeDeps } from './compute/context.js';
import { registerDisks } from './compute/disks.js';
import { registerImages } from './compute/images.js';
import { registerGuest } from './compute/instance-guest.js';
import { registerInstances } from './compute/instances.js';
import { registerOperations } from './compute/operations-routes.js';
import { FaultInjector } from './faults.js';
import { OperationManager } from './operations.js';
import { Router } from './router.js';
import { seed, type EmulatorOptions } from './seed.js';
import { createEmulatorServer, type RecordedRequest } from './server.js';
import { EmulatorState } from './state.js';
import { registerBuckets } from './storage/buckets.js';
import { registerObjects, writeObject, type ObjectDeps } from './storage/objects.js';
import { registerUploads } from './storage/uploads.js';
import { registerIam, ServiceAccounts } from './iam.js';
import { GkeService, registerGke } from './gke.js';
import { ProjectApis, registerProjectApis } from './project-apis.js';
import { KUBE_CALLS } from './calls.js';
import { KmsAccess, registerKms } from './kms.js';
import { registerSecretManager, SecretStore } from './secret-manager.js';
import { TokenEndpoint, type ServiceAccountKeyFile, type ServiceAccountKeyOptions } from './token-endpoint.js';
import { TokenStore } from './tokens.js';
import { VmController } from './vm.js';

export type { IamBinding, LogEntry, ProjectApis } from './project-apis.js';
export type { ClusterSeed, EmuCluster, GkeService, NodePoolSeed } from './gke.js';
export type { AllowlistSeed, ComputeClassSeed, KubeObjects, KubeResource, PodSeed } from './kubernetes.js';
export { CALLS, COMPUTE_CALLS, OPERATION_CALLS, STORAGE_CALLS, type CallName } from './calls.js';
export type { FaultAction, FaultHandle, FaultInjector, FaultMatch, FaultRule, FiredFault } from './faults.js';
export type { EmulatorOptions } from './seed.js';
export type { RecordedRequest } from './server.js';
export type { EmulatorState, LedgerEntry } from './state.js';
export type { ServiceAccountKeyFile, ServiceAccountKeyOptions } from './token-endpoint.js';
export type { DiskContentHandler, DiskContentHolder, VmBehaviourOptions, VmContext, VmController, VmHook, VmInstanceView } from './vm.js';
export { line as serialLine, vmScripts, type VmStep } from './vm-scripts.js';

export interface Leftovers {
  disks: string[];
  instances: string[];
  images: string[];
}

export interface Emulator {
  /** `http://127.0.0.1:PORT/compute/v1/` */
  computeEndpoint: string;
  /** `http://127.0.0.1:PORT` */
  storageHost: string;
  /** `http://127.0.0.1:PORT/token` */
  tokenUri: string;
  port: number;
  state: EmulatorState;
  /** Stores an object as an upload would (a new generation each time), without a request. */
  putObject(bucket: string, name: string, data: Buffer | string, contentType?: string): void;
  requests: RecordedRequest[];
  faults: FaultInjector;
  /** The service accounts IAM knows (`iam.serviceAccounts.get`); `denied` makes lookups 403. */
  serviceAccounts: ServiceAccounts;
  /** Cloud KMS (`cloudkms.cryptoKeys.get`): `denied` makes lookups 403; the keys are `state.cryptoKeys`. */
  kms: KmsAccess;
  /** Secret Manager's secrets (`secretmanager.*`): `add`, `deny`, `disable`. */
  secrets: SecretStore;
  /** GKE clusters (`container.*`), each with its own Kubernetes API: `await gke.addCluster(seed)`. */
  gke: GkeService;
  /** Service Usage, Resource Manager (project, IAM policy) and Cloud Logging entries. */
  projectApis: ProjectApis;
  vm: VmController;
  /** The call names this emulator routes (all of CALLS). */
  calls: readonly string[];
  createServiceAccountKey(opts?: ServiceAccountKeyOptions): { keyFile: ServiceAccountKeyFile };
  acceptToken(token: string): void;
  /** Finish every operation nobody polled (GCE would finish them in time). */
  settle(): void;
  /** Disks, instances and images (`project/zone/name`, `project/name`) still present, seeded ones excepted. */
  leftovers(): Leftovers;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const now = opts.clock ?? Date.now;
  const state = new EmulatorState();
  seed(state, opts, now());
  const closing = new AbortController();
  const tokens = new TokenStore();
  for (const t of opts.acceptTokens ?? []) tokens.accept(t);
  const faults = new FaultInjector(now);
  const ops = new OperationManager(state, now);
  const vm = new VmController(state, opts.vmStepMs ?? 5);
  const requests: RecordedRequest[] = [];
  let host = '';
  const tokenEndpoint = new TokenEndpoint(state, tokens, () => `${host}/token`, now);

  const router = new Router();
  const compute: ComputeDeps = {
    state,
    ops,
    vm,
    now,
    serialWindowBytes: opts.serialWindowBytes ?? 1024 * 1024,
    operationWaitMs: opts.operationWaitMs ?? 20,
  };
  for (const register of [registerCatalog, registerImages, registerDisks, registerInstances, registerGuest, registerOperations]) {
    register(router, compute);
  }
  const storage: ObjectDeps = { state, now, host: () => host };
  registerBuckets(router, state);
  registerObjects(router, storage);
  registerUploads(router, storage);
  router.add('POST', '/token', 'oauth.token', tokenEndpoint.handle, { auth: false });
  const serviceAccounts = new ServiceAccounts();
  registerIam(router, serviceAccounts);
  const kms = new KmsAccess();
  registerKms(router, state, kms);
  const secrets = new SecretStore();
  registerSecretManager(router, secrets);

  const serverDeps = { faults, tokens, requests, closing: closing.signal, requireAuth: opts.requireAuth ?? true, now };
  const gke = new GkeService(serverDeps);
  registerGke(router, gke);
  const projectApis = new ProjectApis();
  registerProjectApis(router, state, projectApis);

  const server = createEmulatorServer({ router, ...serverDeps });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  host = `http://127.0.0.1:${port}`;

  return {
    computeEndpoint: `${host}/compute/v1/`,
    storageHost: host,
    tokenUri: `${host}/token`,
    port,
    state,
    putObject: (bucket, name, data, contentType = 'application/octet-stream') =>
      void writeObject(storage, bucket, name, typeof data === 'string' ? Buffer.from(data) : data, contentType),
    requests,
    faults,
    serviceAccounts,
    kms,
    secrets,
    gke,
    projectApis,
    vm,
    calls: [...new Set([...router.callNames(), ...KUBE_CALLS])],
    createServiceAccountKey: (o) => tokenEndpoint.createKey(o),
    acceptToken: (t) => tokens.accept(t),
    settle: () => ops.settle(),
    leftovers: () => ({
      disks: [...state.disks.values()].filter((d) => !d.seeded).map((d) => `${d.project}/${d.zone}/${d.name}`),
      instances: [...state.instances.values()].filter((i) => !i.seeded).map((i) => `${i.project}/${i.zone}/${i.name}`),
      images: [...state.images.values()].filter((i) => !i.seeded).map((i) => `${i.project}/${i.name}`),
    }),
    close: async () => {
      closing.abort();
      for (const instance of state.instances.values()) instance.vm.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, gke.close()]);
    },
  };
}
