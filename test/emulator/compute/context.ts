/**
 * What the compute handlers share: the state, operations, the VM controller, options, and
 * the lookups that answer 404 in GCE's words when a project, zone or catalog entry is missing.
 */
import { notFound } from '../errors.js';
import type { OperationManager } from '../operations.js';
import type { EmulatorState, Zone } from '../state.js';
import type { VmController } from '../vm.js';
import { compileFilter, page } from './filter.js';
import { link } from './urls.js';

export interface ComputeDeps {
  state: EmulatorState;
  ops: OperationManager;
  vm: VmController;
  now: () => number;
  /** Serial console window per instance, bytes. */
  serialWindowBytes: number;
  /** How long `operations.wait` holds an operation that will not finish before answering it RUNNING. */
  operationWaitMs: number;
}

export function requireProject(deps: ComputeDeps, project: string): void {
  if (!deps.state.projects.has(project)) throw notFound(`projects/${project}`);
}

export function requireZone(deps: ComputeDeps, project: string, zone: string): Zone {
  requireProject(deps, project);
  const z = deps.state.zones.get(zone);
  if (!z) throw notFound(`projects/${project}/zones/${zone}`);
  return z;
}

export function requireRegion(deps: ComputeDeps, project: string, region: string): void {
  requireProject(deps, project);
  if (![...deps.state.zones.values()].some((z) => z.region === region)) throw notFound(`projects/${project}/regions/${region}`);
}

/** A `compute#<kind>List` body with filter and paging applied. */
export function listBody(
  kind: string,
  idPath: string,
  resources: Record<string, unknown>[],
  query: URLSearchParams,
): Record<string, unknown> {
  const keep = compileFilter(query.get('filter'));
  const { items, nextPageToken } = page(resources.filter(keep), query);
  return {
    kind: `compute#${kind}List`,
    id: idPath,
    ...(items.length > 0 ? { items } : {}),
    selfLink: link(idPath),
    ...(nextPageToken ? { nextPageToken } : {}),
  };
}

/**
 * A `compute#<kind>AggregatedList` body: every zone of the catalog, with a warning where empty; a zone of
 * `state.unreachableZones` has the `UNREACHABLE` warning ("A given scope cannot be reached", GCE's Warning codes)
 * instead of its resources.
 */
export function aggregatedBody(
  deps: ComputeDeps,
  kind: string,
  collection: string,
  project: string,
  byZone: (zone: string) => Record<string, unknown>[],
  query: URLSearchParams,
): Record<string, unknown> {
  const keep = compileFilter(query.get('filter'));
  const items: Record<string, unknown> = {};
  for (const zone of [...deps.state.zones.keys()].sort()) {
    const scope = `zones/${zone}`;
    if (deps.state.unreachableZones.has(zone)) {
      items[scope] = {
        warning: {
          code: 'UNREACHABLE',
          data: [{ key: 'scope', value: scope }],
          message: `Scope '${scope}' is unreachable; its resources are not in this list.`,
        },
      };
      continue;
    }
    const found = byZone(zone).filter(keep);
    items[scope] =
      found.length > 0
        ? { [collection]: found }
        : {
            warning: {
              code: 'NO_RESULTS_ON_PAGE',
              data: [{ key: 'scope', value: scope }],
              message: `There are no results for scope '${scope}' on this page.`,
            },
          };
  }
  return {
    kind: `compute#${kind}AggregatedList`,
    id: `projects/${project}/aggregated/${collection}`,
    items,
    selfLink: link(`projects/${project}/aggregated/${collection}`),
  };
}
