// Finds and deletes the temporary disks and VMs this tool labelled (docs/architecture.md, Temporary resources), in one zone or in all zones —
// what `cleanup` needs after a build was SIGKILLed. Only resources that carry the tool's labels *and* its naming
// pattern (<gdib-job>-<gdib-run>-disk or -vm, the VM's boot disk being named as the VM) are ever touched: the API
// filter selects by label, and every result is checked again here, so a resource someone labelled by copying
// ours, or named like ours without the labels, is left alone. A zone the aggregated list could not read is named in
// the listing's `unreachable`, never taken for an empty zone.
import type { Clients } from './clients.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import type { ComputeApi } from './types.js';

export interface ManagedResource {
  kind: 'vm' | 'disk';
  zone: string;
  name: string;
  /** Epoch ms; NaN when the resource has no readable creation time. */
  createdAt: number;
  labels: Record<string, string>;
}

/** What a listing found, and the zones (or other scopes) it could not read: their resources are missing from it. */
export interface Listing {
  resources: ManagedResource[];
  unreachable: string[];
}

/**
 * The label with the latest time a run can still be working (docs/architecture.md, Temporary resources): UTC as
 * `yyyymmddthhmmssz` (a label value allows only lowercase letters, digits, `-` and `_`).
 */
export const DEADLINE_LABEL = 'gdib-deadline';

/** A deadline (epoch ms) as the label's value, rounded up to the second. */
export function formatDeadline(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000)
    .toISOString()
    .replace(/[-:]|\.\d+/g, '')
    .toLowerCase();
}

/** The deadline (epoch ms) a label's value names, or undefined when it names none. */
export function parseDeadline(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  return formatDeadline(ms) === value ? ms : undefined;
}

/**
 * The warning codes of an aggregated list's scope that mean its resources are missing: UNREACHABLE ("a given scope
 * cannot be reached") and PARTIAL_SUCCESS ("some results may be missing due to errors"). NO_RESULTS_ON_PAGE, an
 * empty scope, is not one.
 */
const INCOMPLETE = new Set(['UNREACHABLE', 'PARTIAL_SUCCESS']);

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

  async list(zone: string | undefined, signal: AbortSignal): Promise<Listing> {
    const [disks, instances] = await Promise.all([
      this.collect('DisksClient', 'disks', 'disk', zone, signal),
      this.collect('InstancesClient', 'instances', 'vm', zone, signal),
    ]);
    return {
      resources: [...instances.resources, ...disks.resources].filter((r) => isManaged(r.kind, r.name, r.labels)),
      unreachable: [...new Set([...instances.unreachable, ...disks.unreachable])].sort(),
    };
  }

  private async collect(
    client: 'DisksClient' | 'InstancesClient',
    field: 'disks' | 'instances',
    kind: ManagedResource['kind'],
    zone: string | undefined,
    signal: AbortSignal,
  ): Promise<Listing> {
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
        const out: Listing = { resources: [], unreachable: [] };
        if (zone) {
          // A zone that cannot be read fails this call: an error, not an empty list.
          for await (const r of c.listAsync({ project: this.project, zone, filter: FILTER }, NO_GAX_RETRY))
            out.resources.push(toResource(r, zone));
        } else {
          // Without returnPartialSuccess, so that a zone that could not be read is reported in its own scope (its
          // warning), where the client library shows it; the response's top-level `unreachables`, filled only with
          // returnPartialSuccess, is not passed on by the library's iterator.
          for await (const [scope, list] of c.aggregatedListAsync({ project: this.project, filter: FILTER }, NO_GAX_RETRY)) {
            const s = String(scope);
            const z = s.replace(/^zones\//, '');
            if (INCOMPLETE.has(String(list?.warning?.code ?? ''))) out.unreachable.push(z);
            // Builds make zonal disks and VMs only; a regional scope holds none of them.
            if (!s.startsWith('zones/')) continue;
            for (const r of list?.[field] ?? []) out.resources.push(toResource(r, z));
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
