// A fast in-memory Cloud for unit tests of the step runner. Integration tests use the real client libraries
// against the emulator instead; this fake only keeps the same contract (ComputeApi/StorageApi).
import { createHash } from 'node:crypto';
import type { BuildEvent } from '../../src/builder/events.js';
import { runBuild, type BuildOutcome } from '../../src/builder/index.js';
import type { RunPlan } from '../../src/config/types.js';
import { DEFAULT_RETRY } from '../../src/gcp/retry.js';
import { Redactor } from '../../src/io/redact.js';
import { ApiError } from '../../src/gcp/errors.js';
import type {
  Cloud,
  ComputeApi,
  DataSourcesApi,
  DeleteOutcome,
  DiskSpec,
  ImageSpec,
  InstanceSpec,
  SerialChunk,
  StorageApi,
} from '../../src/gcp/types.js';
import type { IamApi } from '../../src/gcp/iam.js';
import type { KmsApi } from '../../src/gcp/kms.js';
import type { SecretManagerApi } from '../../src/gcp/secret-manager.js';
import type { ImageRegistry } from '../../src/registry/client.js';
import { parseRegistrySecret } from '../../src/registry/secret-format.js';
import { MD } from '../../src/vm/contract.js';
import { echoNonce } from '../emulator/vm-scripts.js';

export interface FakeVm {
  serial: string;
  attributes: Record<string, string>;
}

export class FakeCloud implements Cloud {
  disks = new Map<string, DiskSpec & { attachedTo?: string }>();
  instances = new Map<string, InstanceSpec & { vm: FakeVm }>();
  images = new Map<string, ImageSpec | { name: string; diskSizeGb?: number }>();
  objects = new Map<string, string>();
  /** What images.deprecate set, by image name. */
  deprecations = new Map<string, import('../../src/gcp/types.js').DeprecationStatus>();
  calls: string[] = [];
  /** Make a call fail (or hang) the next time: name → error factory or 'hang'. */
  failures = new Map<string, (() => Error) | 'hang'>();
  /** Service accounts that do not exist (every other one does). */
  missingServiceAccounts = new Set<string>();
  /** --spot: how many of the next VMs GCE preempts as soon as they start (they stop and never report). */
  preemptNext = 0;
  /** The VMs preempted so far. */
  preempted = new Set<string>();
  /** What the VM does once created. */
  onVmStart: (vm: FakeVm) => void = (vm) => {
    vm.serial += 'gdib: state=running\ngdib: phase=pulling\ngdib: state=succeeded\n';
    vm.attributes.state = 'succeeded';
  };

  private async enter(call: string): Promise<void> {
    this.calls.push(call);
    const f = this.failures.get(call);
    if (!f) return;
    this.failures.delete(call);
    if (f === 'hang') return new Promise(() => undefined);
    throw f();
  }

  private notFound(call: string): ApiError {
    return new ApiError({ status: 404, reason: 'notFound', message: 'not found' }, call);
  }

  compute: ComputeApi = {
    getProject: async () => this.enter('projects.get'),
    getZone: async () => this.enter('zones.get'),
    getImage: async (name) => {
      await this.enter('images.get');
      const i = this.images.get(name);
      return i ? { name, diskSizeGb: (i as { diskSizeGb?: number }).diskSizeGb } : undefined;
    },
    listImagesOfFamily: async (family) => {
      await this.enter('images.list');
      return [...this.images.entries()]
        .map(([name, i]) => ({ name, ...(i as { family?: string; description?: string }), status: 'READY' }))
        .filter((i) => i.family === family)
        .map(({ name, family: f, description, status }) => ({ name, family: f, description, status }));
    },
    machineTypeExists: async () => (await this.enter('machineTypes.get'), true),
    diskTypeExists: async () => (await this.enter('diskTypes.get'), true),
    networkExists: async () => (await this.enter('networks.get'), true),
    subnetExists: async () => (await this.enter('subnetworks.get'), true),
    insertDisk: async (spec) => {
      await this.enter('disks.insert');
      this.disks.set(spec.name, { ...spec });
    },
    deleteDisk: async (name): Promise<DeleteOutcome> => {
      await this.enter('disks.delete');
      return this.disks.delete(name) ? 'deleted' : 'not-found';
    },
    insertInstance: async (spec) => {
      await this.enter('instances.insert');
      const vm: FakeVm = { serial: '', attributes: {} };
      this.instances.set(spec.name, { ...spec, vm });
      const disk = this.disks.get(spec.dataDisk);
      if (disk) disk.attachedTo = spec.name;
      if (spec.spot && this.preemptNext > 0) {
        this.preemptNext--;
        this.preempted.add(spec.name);
        return;
      }
      this.preempted.delete(spec.name);
      this.onVmStart(vm);
    },
    deleteInstance: async (name): Promise<DeleteOutcome> => {
      await this.enter('instances.delete');
      for (const d of this.disks.values()) if (d.attachedTo === name) d.attachedTo = undefined;
      return this.instances.delete(name) ? 'deleted' : 'not-found';
    },
    detachDisk: async (instance) => {
      await this.enter('instances.detachDisk');
      for (const d of this.disks.values()) if (d.attachedTo === instance) d.attachedTo = undefined;
    },
    insertImage: async (spec) => {
      await this.enter('images.insert');
      this.images.set(spec.name, spec);
      return {};
    },
    deleteImage: async (name): Promise<DeleteOutcome> => {
      await this.enter('images.delete');
      return this.images.delete(name) ? 'deleted' : 'not-found';
    },
    deprecateImage: async (name, status) => {
      await this.enter('images.deprecate');
      if (!this.images.has(name)) throw this.notFound('images.deprecate');
      this.deprecations.set(name, status);
    },
    getSerialPortOutput: async (instance, start): Promise<SerialChunk> => {
      await this.enter('instances.getSerialPortOutput');
      const i = this.instances.get(instance);
      if (!i) throw this.notFound('instances.getSerialPortOutput');
      // The VM echoes the run's status nonce on its status lines, as the agent does (complete lines only).
      const nonce = i.metadata.find((m) => m.key === MD.statusNonce)?.value;
      const end = i.vm.serial.lastIndexOf('\n') + 1;
      const buf = Buffer.from(echoNonce(i.vm.serial.slice(0, end), nonce) + i.vm.serial.slice(end));
      return { contents: buf.subarray(start).toString(), start, next: buf.length };
    },
    getInstance: async (name) => {
      await this.enter('instances.get');
      if (!this.instances.has(name)) return undefined;
      return { status: this.preempted.has(name) ? 'TERMINATED' : 'RUNNING', id: `id-${name}` };
    },
    wasPreempted: async (name) => (await this.enter('zoneOperations.list'), this.preempted.has(name)),
    getGuestAttributes: async (instance) => {
      await this.enter('instances.getGuestAttributes');
      const i = this.instances.get(instance);
      if (!i) throw this.notFound('instances.getGuestAttributes');
      return Object.keys(i.vm.attributes).length ? { ...i.vm.attributes } : undefined;
    },
  };

  storage: StorageApi = {
    testBucketPermissions: async (_b, permissions) => (await this.enter('storage.buckets.testIamPermissions'), [...permissions]),
    writeObject: async (bucket, name, data) => {
      await this.enter('storage.objects.insert');
      this.objects.set(`${bucket}/${name}`, data);
    },
    uploadFile: async (bucket, name, path, onProgress) => {
      await this.enter('storage.objects.insert');
      this.objects.set(`${bucket}/${name}`, `<file ${path}>`);
      onProgress(1);
    },
    deleteObject: async (bucket, name) => {
      await this.enter('storage.objects.delete');
      return this.objects.delete(`${bucket}/${name}`) ? 'deleted' : 'not-found';
    },
  };

  /** Credentials that always give a token (tests of refused credentials replace it). */
  accessToken = (): Promise<string> => Promise.resolve('fake-access-token');

  /** Secrets by version name (`projects/P/secrets/S/versions/V`); a missing one is a 404. */
  readonly secrets = new Map<string, string>();

  secretManager: SecretManagerApi = {
    registryCredentials: (name, host) => {
      const value = this.secrets.get(name);
      if (value === undefined)
        return Promise.reject(
          new ApiError({ status: 404, message: `Secret Version [${name}] not found.` }, 'secretmanager.versions.access'),
        );
      return Promise.resolve(parseRegistrySecret(host, value));
    },
    secretExists: (secret) => Promise.resolve([...this.secrets.keys()].some((k) => k.startsWith(`${secret}/versions/`))),
    secretText: (name) => {
      const value = this.secrets.get(name);
      if (value === undefined)
        return Promise.reject(
          new ApiError({ status: 404, message: `Secret Version [${name}] not found.` }, 'secretmanager.versions.access'),
        );
      return Promise.resolve(value.trim());
    },
  };

  /** Data sources by `gs://BUCKET/PATH` or `hf://REPO`: the files each lists (a missing key is an error). */
  readonly dataFiles = new Map<string, { size: number; generation?: string }[]>();

  dataSources: DataSourcesApi = {
    resolve: (source, index) => {
      const key = source.kind === 'gcs' ? `gs://${source.bucket}/${source.path}` : `hf://${source.repo}`;
      const files = this.dataFiles.get(key);
      if (!files) return Promise.reject(new Error(`${key}: no such source`));
      return Promise.resolve({
        source: source.kind === 'hf' ? { ...source, revision: 'c'.repeat(40) } : { ...source, prefix: true },
        files: files.map((f, i) => ({
          source: index,
          name: `${source.kind === 'gcs' ? source.path : ''}/f${i}`,
          path: `${source.dest}/f${i}`,
          size: f.size,
          checksum: { size: true as const },
          ...(f.generation ? { generation: f.generation } : {}),
        })),
      });
    },
  };

  iam: IamApi = {
    serviceAccountExists: (email) => Promise.resolve(!this.missingServiceAccounts.has(email)),
  };

  kms: KmsApi = {
    getCryptoKey: () => Promise.resolve({ purpose: 'ENCRYPT_DECRYPT', primaryState: 'ENABLED' }),
  };

  /** Answers from memory, never the network: each image is one non-empty layer, its digest derived from its name. */
  registry: ImageRegistry = {
    manifest: (ref, reference) => {
      const name = `${ref.registry}/${ref.repository}:${reference}`;
      const digest = `sha256:${createHash('sha256').update(name).digest('hex')}`;
      return Promise.resolve({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        body: { schemaVersion: 2, layers: [{ digest: `sha256:${'1'.repeat(64)}`, size: 1_000_000 }] },
      });
    },
    blob: () => Promise.resolve(Buffer.alloc(0)),
  };
}

/** A build of `plan` run on `cloud` as the CLI runs it, retries cut short; `emit` sees its events. */
export function runOnFakeCloud(cloud: FakeCloud, plan: RunPlan, emit: (e: BuildEvent) => void = () => undefined): Promise<BuildOutcome> {
  return runBuild(plan, {
    cloud,
    emit,
    redactor: new Redactor(),
    signal: new AbortController().signal,
    tuning: { retry: { ...DEFAULT_RETRY, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } },
    runId: 'abc123',
  });
}
