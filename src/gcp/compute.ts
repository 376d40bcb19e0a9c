// ComputeApi over @google-cloud/compute: every call retried by the one policy, every operation waited on and
// checked, inserts made idempotent with a requestId so a retried insert cannot create a second resource.
import { randomUUID } from 'node:crypto';
import type { Clients } from './clients.js';
import { deprecationBody, diskBody, imageBody, instanceBody } from './bodies.js';
import { ApiError, isAlreadyExists, isNotFound } from './errors.js';
import { waitForOperation, type OperationLike } from './operations.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { abortable, deadline } from '../io/abort.js';
import { regionOf } from '../config/rules.js';
import type {
  ComputeApi,
  DeleteOutcome,
  DeprecationStatus,
  DiskSpec,
  ImageInfo,
  ImageSpec,
  InstanceSpec,
  InstanceState,
  SerialChunk,
} from './types.js';

export interface ComputeOptions {
  /** Absent for a run that works in no project (a local bake to a file): it never calls compute. */
  project?: string;
  /** Absent for a command that works across zones (cleanup): it calls inZone() for each resource. */
  zone?: string;
  retry: RetryPolicy;
  hooks?: RetryHooks;
  /** Called for every request sent (for counting API usage). */
  onRequest?: (call: string) => void;
  /**
   * How long an interrupted insert may go on settling before its resource is deleted: the request or its operation
   * may still be in flight, and a delete sent before the resource exists would "succeed" with a 404 and leak it.
   */
  insertSettleMs: number;
}

interface Inflight {
  /** Resolves once the insert (and its operation) is over, however it ended. */
  done: Promise<unknown>;
  stop: AbortController;
}

/** Receives a function that waits on the insert's operation again (used by cleanup after a failed wait). */
type OnOperation = (waitAgain: (signal: AbortSignal) => Promise<void>) => void;

const NO_GAX_RETRY = { maxRetries: 0 };

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the generated client types add nothing here

export class GoogleCompute implements ComputeApi {
  private readonly inflight = new Map<string, Inflight>();

  constructor(
    private readonly clients: Clients,
    private readonly o: ComputeOptions,
  ) {}

  private call<T>(name: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return withRetry(
      name,
      () => {
        this.o.onRequest?.(name);
        return fn();
      },
      signal,
      this.o.retry,
      this.o.hooks,
    );
  }

  /** The same adapter in another zone (cleanup deletes what it finds wherever it is). */
  inZone(zone: string): GoogleCompute {
    return new GoogleCompute(this.clients, { ...this.o, zone });
  }

  private get project(): string {
    if (this.o.project === undefined) throw new Error('a call on a compute adapter made without a project');
    return this.o.project;
  }

  private get zone(): string {
    if (this.o.zone === undefined) throw new Error('a zonal call on a compute adapter made without a zone');
    return this.o.zone;
  }

  /** Sends a request that starts an operation and waits on it: zonal for disks and VMs, global for images. */
  private async operation(
    name: string,
    scope: 'zone' | 'global',
    send: () => Promise<Any>,
    signal: AbortSignal,
    onOperation?: OnOperation,
  ): Promise<void> {
    const [res] = await this.call<Any>(name, send, signal);
    const ops: Any = await this.clients.compute(scope === 'zone' ? 'ZoneOperationsClient' : 'GlobalOperationsClient');
    const where = scope === 'zone' ? { project: this.project, zone: this.zone } : { project: this.project };
    const waitOnce = (s: AbortSignal) => async (operation: string) =>
      (await this.call<Any>(`${scope}Operations.wait`, () => ops.wait({ ...where, operation }, NO_GAX_RETRY), s))[0];
    const first = res.latestResponse as OperationLike;
    onOperation?.((s) => waitForOperation(name, first, waitOnce(s), s).then(() => undefined));
    await waitForOperation(name, first, waitOnce(signal), signal);
  }

  private async exists(name: string, get: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    try {
      await this.call(name, get, signal);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async deleted(run: () => Promise<void>): Promise<DeleteOutcome> {
    try {
      await run();
      return 'deleted';
    } catch (err) {
      if (isNotFound(err)) return 'not-found';
      throw err;
    }
  }

  /**
   * Runs an insert and the wait on its operation so that they outlive an abort of the step: the step returns at
   * once, while the insert goes on settling (up to insertSettleMs) for the delete that cleanup will send.
   */
  private async tracked(
    key: string,
    run: (signal: AbortSignal, onOperation: OnOperation) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const stop = new AbortController();
    const settleMs = this.o.insertSettleMs;
    const onAbort = () => setTimeout(() => stop.abort(signal.reason), settleMs).unref();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    let waitAgain: ((s: AbortSignal) => Promise<void>) | undefined;
    const done = run(stop.signal, (w) => (waitAgain = w));
    // If waiting failed (a permanent error on the wait itself), the operation may still be creating the resource:
    // a delete now would 404 and leak it, so cleanup first waits for the operation once more.
    const settled = done.catch(() => waitAgain?.(stop.signal)).catch(() => undefined);
    this.inflight.set(key, { done: settled, stop });
    try {
      await abortable(done, signal);
      this.inflight.delete(key);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Before deleting: let an interrupted insert of the same resource finish (bounded), then stop following it. */
  private async settle(key: string, signal: AbortSignal): Promise<void> {
    const f = this.inflight.get(key);
    if (!f) return;
    // The limit is a deadline(): its timer is unref'd, so one left running after the insert is over holds nothing.
    const limit = deadline(this.o.insertSettleMs, signal);
    await Promise.race([f.done, new Promise((resolve) => limit.addEventListener('abort', resolve, { once: true }))]);
    f.stop.abort(new Error('superseded by delete'));
    this.inflight.delete(key);
  }

  async getProject(signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('ProjectsClient');
    await this.call('projects.get', () => c.get({ project: this.project }, NO_GAX_RETRY), signal);
  }

  async getZone(signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('ZonesClient');
    await this.call('zones.get', () => c.get({ project: this.project, zone: this.zone }, NO_GAX_RETRY), signal);
  }

  async getImage(image: string, signal: AbortSignal, project = this.project): Promise<ImageInfo | undefined> {
    const c: Any = await this.clients.compute('ImagesClient');
    try {
      const [img] = await this.call<Any>('images.get', () => c.get({ project, image }, NO_GAX_RETRY), signal);
      return imageInfo(img);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async listImagesOfFamily(family: string, signal: AbortSignal): Promise<ImageInfo[]> {
    const c: Any = await this.clients.compute('ImagesClient');
    const filter = `family = "${family}"`;
    return this.call(
      'images.list',
      async () => {
        const out: ImageInfo[] = [];
        // autoPaginate: false is what the async iterator does anyway; saying so spares a process warning.
        for await (const img of c.listAsync({ project: this.project, filter }, { ...NO_GAX_RETRY, autoPaginate: false }))
          out.push(imageInfo(img));
        // The filter is the API's; the family is checked again here.
        return out.filter((i) => i.family === family);
      },
      signal,
    );
  }

  async machineTypeExists(machineType: string, signal: AbortSignal): Promise<boolean> {
    const c: Any = await this.clients.compute('MachineTypesClient');
    return this.exists('machineTypes.get', () => c.get({ project: this.project, zone: this.zone, machineType }, NO_GAX_RETRY), signal);
  }

  async diskTypeExists(diskType: string, signal: AbortSignal): Promise<boolean> {
    const c: Any = await this.clients.compute('DiskTypesClient');
    return this.exists('diskTypes.get', () => c.get({ project: this.project, zone: this.zone, diskType }, NO_GAX_RETRY), signal);
  }

  async networkExists(ref: string, signal: AbortSignal): Promise<boolean> {
    const { project, name } = parseRef(ref, 'networks', this.project);
    const c: Any = await this.clients.compute('NetworksClient');
    return this.exists('networks.get', () => c.get({ project, network: name }, NO_GAX_RETRY), signal);
  }

  async subnetExists(ref: string, signal: AbortSignal): Promise<boolean> {
    const { project, name, region } = parseRef(ref, 'subnetworks', this.project);
    const c: Any = await this.clients.compute('SubnetworksClient');
    return this.exists(
      'subnetworks.get',
      () => c.get({ project, region: region ?? regionOf(this.zone), subnetwork: name }, NO_GAX_RETRY),
      signal,
    );
  }

  async insertDisk(spec: DiskSpec, signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('DisksClient');
    const project = this.project;
    const zone = this.zone;
    const requestId = randomUUID();
    const diskResource = diskBody(spec, project, zone);
    await this.tracked(
      `disk/${spec.name}`,
      (s, on) => this.operation('disks.insert', 'zone', () => c.insert({ project, zone, requestId, diskResource }, NO_GAX_RETRY), s, on),
      signal,
    );
  }

  async deleteDisk(disk: string, signal: AbortSignal): Promise<DeleteOutcome> {
    const c: Any = await this.clients.compute('DisksClient');
    const project = this.project;
    const zone = this.zone;
    await this.settle(`disk/${disk}`, signal);
    return this.deleted(() => this.operation('disks.delete', 'zone', () => c.delete({ project, zone, disk }, NO_GAX_RETRY), signal));
  }

  async insertInstance(spec: InstanceSpec, signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    const requestId = randomUUID();
    const instanceResource = instanceBody(spec, project, zone);
    await this.tracked(
      `vm/${spec.name}`,
      (s, on) =>
        this.operation('instances.insert', 'zone', () => c.insert({ project, zone, requestId, instanceResource }, NO_GAX_RETRY), s, on),
      signal,
    );
  }

  async deleteInstance(instance: string, signal: AbortSignal): Promise<DeleteOutcome> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    await this.settle(`vm/${instance}`, signal);
    return this.deleted(() =>
      this.operation('instances.delete', 'zone', () => c.delete({ project, zone, instance }, NO_GAX_RETRY), signal),
    );
  }

  async detachDisk(instance: string, deviceName: string, signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    await this.operation(
      'instances.detachDisk',
      'zone',
      () => c.detachDisk({ project, zone, instance, deviceName, requestId: randomUUID() }, NO_GAX_RETRY),
      signal,
    );
  }

  async insertImage(spec: ImageSpec, signal: AbortSignal): Promise<{ afterFailedWait?: string }> {
    const c: Any = await this.clients.compute('ImagesClient');
    const project = this.project;
    const imageResource = imageBody(spec, project);
    const requestId = randomUUID();
    const key = `image/${spec.name}`;
    try {
      await this.tracked(
        key,
        (s, on) => this.operation('images.insert', 'global', () => c.insert({ project, requestId, imageResource }, NO_GAX_RETRY), s, on),
        signal,
      );
      return {};
    } catch (err) {
      if (signal.aborted || isAlreadyExists(err)) throw err;
      // Waiting failed, not necessarily the image: the operation is followed once more (bounded, as before a delete),
      // and an image that is then READY with this spec's description was made by this insert.
      await this.settle(key, signal);
      const img = await this.getImage(spec.name, signal).catch(() => undefined);
      if (img?.status !== 'READY' || img.description !== spec.description) throw err;
      return { afterFailedWait: (err as Error).message };
    }
  }

  async deleteImage(image: string, signal: AbortSignal): Promise<DeleteOutcome> {
    const c: Any = await this.clients.compute('ImagesClient');
    await this.settle(`image/${image}`, signal);
    return this.deleted(() =>
      this.operation('images.delete', 'global', () => c.delete({ project: this.project, image }, NO_GAX_RETRY), signal),
    );
  }

  async deprecateImage(image: string, status: DeprecationStatus, signal: AbortSignal): Promise<void> {
    const c: Any = await this.clients.compute('ImagesClient');
    const project = this.project;
    const deprecationStatusResource = deprecationBody(status);
    // A requestId makes a retried call the same call.
    const requestId = randomUUID();
    await this.operation(
      'images.deprecate',
      'global',
      () => c.deprecate({ project, image, requestId, deprecationStatusResource }, NO_GAX_RETRY),
      signal,
    );
  }

  async getSerialPortOutput(instance: string, start: number, signal: AbortSignal): Promise<SerialChunk> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    const [out] = await this.call<Any>(
      'instances.getSerialPortOutput',
      () => c.getSerialPortOutput({ project, zone, instance, port: 1, start: String(start) }, NO_GAX_RETRY),
      signal,
    );
    return { contents: out.contents ?? '', start: Number(out.start ?? start), next: Number(out.next ?? start) };
  }

  async getInstance(instance: string, signal: AbortSignal): Promise<InstanceState | undefined> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    try {
      const [vm] = await this.call<Any>('instances.get', () => c.get({ project, zone, instance }, NO_GAX_RETRY), signal);
      return { status: String(vm.status ?? ''), id: String(vm.id ?? '') };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** GCE records a preemption as a zone operation of type compute.instances.preempted on the instance. */
  async wasPreempted(instance: string, id: string, signal: AbortSignal): Promise<boolean> {
    const ops: Any = await this.clients.compute('ZoneOperationsClient');
    const project = this.project;
    const zone = this.zone;
    const filter = `(operationType = "compute.instances.preempted") (targetId = "${id}")`;
    return this.call(
      'zoneOperations.list',
      async () => {
        for await (const op of ops.listAsync({ project, zone, filter }, { ...NO_GAX_RETRY, autoPaginate: false })) {
          // The filter is the API's; the operation is checked again here. The id tells this VM apart from an
          // earlier one of the same name (the retry after a preemption reuses the names).
          if (op.operationType !== 'compute.instances.preempted') continue;
          if (String(op.targetLink ?? '').endsWith(`/instances/${instance}`) && String(op.targetId ?? '') === id) return true;
        }
        return false;
      },
      signal,
    );
  }

  async getGuestAttributes(instance: string, namespace: string, signal: AbortSignal): Promise<Record<string, string> | undefined> {
    const c: Any = await this.clients.compute('InstancesClient');
    const project = this.project;
    const zone = this.zone;
    let res: Any;
    try {
      [res] = await this.call(
        'instances.getGuestAttributes',
        () => c.getGuestAttributes({ project, zone, instance, queryPath: `${namespace}/` }, NO_GAX_RETRY),
        signal,
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const out: Record<string, string> = {};
    for (const item of res?.queryValue?.items ?? []) if (item.namespace === namespace && item.key) out[item.key] = item.value ?? '';
    return out;
  }
}

function parseRef(
  ref: string,
  kind: 'networks' | 'subnetworks',
  defaultProject: string,
): { project: string; name: string; region?: string } {
  if (!ref.includes('/')) return { project: defaultProject, name: ref };
  const m = new RegExp(`projects/([^/]+)/(?:regions/([^/]+)|global)/${kind}/([^/]+)$`).exec(ref);
  if (!m) throw new ApiError({ message: `cannot parse ${ref}` }, `${kind}.get`);
  return { project: m[1]!, region: m[2], name: m[3]! };
}

function imageInfo(img: Any): ImageInfo {
  return {
    name: img.name,
    selfLink: img.selfLink ?? undefined,
    diskSizeGb: img.diskSizeGb ? Number(img.diskSizeGb) : undefined,
    status: img.status ?? undefined,
    family: img.family ?? undefined,
    description: img.description ?? undefined,
    creationTimestamp: img.creationTimestamp ?? undefined,
    ...(img.deprecated?.state ? { deprecated: deprecationOf(img.deprecated) } : {}),
  };
}

function deprecationOf(d: Any): DeprecationStatus {
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const out: DeprecationStatus = { state: d.state as DeprecationStatus['state'] };
  for (const k of ['replacement', 'deprecated', 'obsolete', 'deleted'] as const) {
    const v = text(d[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
