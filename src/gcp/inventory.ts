// Finds and deletes the temporary disks and VMs this tool labelled (docs/architecture.md, Temporary resources), in one zone or in all zones —
// what `cleanup` needs after a build was SIGKILLed. Only resources that carry the tool's labels *and* its naming
// pattern (<gdib-job>-<gdib-run>-disk or -vm, the VM's boot disk being named as the VM) are ever touched: the API
// filter selects by label, and every result is checked again here, so a resource someone labelled by copying
// ours, or named like ours without the labels, is left alone.
import type { Clients } from './clients.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import type { ComputeApi } from './types.js';

export interface ManagedResource {
  kind: 'vm' | 'disk';
  zone: string;
  name: string;
  createdAt: number;
  labels: Record<string, string>;
}

const FILTER = 'labels.gdib-managed = "true"';
const NO_GAX_RETRY = { maxRetries: 0 };
type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const RUN_ID = /^[a-z0-9]{6}$/;

/** Whether a disk or VM is one a build of this tool created: its labels, and its name made from them. */
export function isManaged(kind: ManagedResource['kind'], name: string, labels: Record<string, string> | null | undefined): boolean {
  const run = labels?.['gdib-run'];
  const job = labels?.['gdib-job'];
  if (labels?.['gdib-managed'] !== 'true' || !run || !job || !RUN_ID.test(run)) return false;
  const prefix = `${job}-${run}-`;
  return kind === 'vm' ? name === `${prefix}vm` : name === `${prefix}disk` || name === `${prefix}vm`;
}

export class Inventory {
  constructor(
    private readonly clients: Clients,
    private readonly project: string,
    private readonly retry: RetryPolicy,
    /** The compute adapter of a zone: deleting goes through it, as a build's cleanup does. */
    private readonly computeIn: (zone: string) => ComputeApi,
    private readonly hooks?: RetryHooks,
  ) {}

  async list(zone: string | undefined, signal: AbortSignal): Promise<ManagedResource[]> {
    const [disks, instances] = await Promise.all([
      this.collect('DisksClient', 'disks', 'disk', zone, signal),
      this.collect('InstancesClient', 'instances', 'vm', zone, signal),
    ]);
    return [...instances, ...disks].filter((r) => isManaged(r.kind, r.name, r.labels));
  }

  private async collect(
    client: 'DisksClient' | 'InstancesClient',
    field: 'disks' | 'instances',
    kind: ManagedResource['kind'],
    zone: string | undefined,
    signal: AbortSignal,
  ): Promise<ManagedResource[]> {
    const c: Any = await this.clients.compute(client);
    const toResource = (r: Any, z: string): ManagedResource => ({
      kind,
      zone: z,
      name: r.name,
      createdAt: Date.parse(r.creationTimestamp ?? ''),
      labels: r.labels ?? {},
    });
    return withRetry(
      `${field}.${zone ? 'list' : 'aggregatedList'}`,
      async () => {
        const out: ManagedResource[] = [];
        if (zone) {
          for await (const r of c.listAsync({ project: this.project, zone, filter: FILTER }, NO_GAX_RETRY)) out.push(toResource(r, zone));
        } else {
          for await (const [scope, list] of c.aggregatedListAsync({ project: this.project, filter: FILTER }, NO_GAX_RETRY)) {
            const z = String(scope).replace(/^zones\//, '');
            for (const r of list?.[field] ?? []) out.push(toResource(r, z));
          }
        }
        return out;
      },
      signal,
      this.retry,
      this.hooks,
    );
  }

  /** Deletes one resource and waits; a 404 counts as done. */
  async delete(r: ManagedResource, signal: AbortSignal): Promise<void> {
    const compute = this.computeIn(r.zone);
    await (r.kind === 'vm' ? compute.deleteInstance(r.name, signal) : compute.deleteDisk(r.name, signal));
  }
}
