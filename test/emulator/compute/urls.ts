/**
 * Resource URLs as Compute Engine writes and reads them.
 *
 * GCE answers with selfLinks on https://www.googleapis.com/compute/v1/ whatever endpoint was
 * called (so a client must not follow selfLinks as request URLs), and accepts references as full
 * URLs (any host), partial paths starting at `projects/`, or paths relative to the request's
 * project (`zones/...`, `regions/...`, `global/...`). A bare name is rejected as malformed.
 */
import { invalid } from '../errors.js';

export const GCE_BASE = 'https://www.googleapis.com/compute/v1/';

export const link = (path: string): string => GCE_BASE + path;

export const zoneLink = (project: string, zone: string): string => link(`projects/${project}/zones/${zone}`);
export const regionLink = (project: string, region: string): string => link(`projects/${project}/regions/${region}`);
export const diskLink = (project: string, zone: string, name: string): string => link(`projects/${project}/zones/${zone}/disks/${name}`);
export const instanceLink = (project: string, zone: string, name: string): string =>
  link(`projects/${project}/zones/${zone}/instances/${name}`);
export const imageLink = (project: string, name: string): string => link(`projects/${project}/global/images/${name}`);
export const diskTypeLink = (project: string, zone: string, name: string): string =>
  link(`projects/${project}/zones/${zone}/diskTypes/${name}`);
export const machineTypeLink = (project: string, zone: string, name: string): string =>
  link(`projects/${project}/zones/${zone}/machineTypes/${name}`);

export interface ResourceRef {
  project: string;
  zone?: string;
  region?: string;
  /** `images`, `disks`, `diskTypes`, `machineTypes`, `networks`, `subnetworks`, ... */
  collection: string;
  name: string;
  /** Set for `global/images/family/<family>` references. */
  family?: string;
}

const SCOPED = /^(?:zones\/([^/]+)|regions\/([^/]+)|global)\/([A-Za-z]+)\/(family\/)?([^/]+)$/;

/** Parse a resource reference in any form GCE accepts; `field` names it in the error. */
export function parseRef(value: unknown, defaultProject: string, field: string): ResourceRef {
  if (typeof value !== 'string' || value === '') throw invalid(`Invalid value for field '${field}': '${String(value)}'.`);
  let rest = value.replace(/^https?:\/\/[^/]+\/compute\/(?:v1|beta|alpha)\//, '').replace(/^\//, '');
  let project = defaultProject;
  const projectMatch = /^projects\/([^/]+)\/(.*)$/.exec(rest);
  if (projectMatch) {
    project = projectMatch[1]!;
    rest = projectMatch[2]!;
  }
  const m = SCOPED.exec(rest);
  if (!m) throw invalid(`Invalid value for field '${field}': '${value}'. The URL is malformed.`);
  const [, zone, region, collection, family, name] = m;
  if (family && collection !== 'images') {
    throw invalid(`Invalid value for field '${field}': '${value}'. The URL is malformed.`);
  }
  return {
    project,
    ...(zone ? { zone } : {}),
    ...(region ? { region } : {}),
    collection: collection!,
    name: family ? '' : name!,
    ...(family ? { family: name! } : {}),
  };
}

/** Like parseRef, and checks the collection (and, for zonal refs, the zone). */
export function expectRef(value: unknown, defaultProject: string, field: string, collection: string, zone?: string): ResourceRef {
  const ref = parseRef(value, defaultProject, field);
  if (ref.collection !== collection) {
    throw invalid(`Invalid value for field '${field}': '${String(value)}'. Expected a ${collection} URL.`);
  }
  if (zone !== undefined && ref.zone !== undefined && ref.zone !== zone) {
    throw invalid(`Invalid value for field '${field}': '${String(value)}'. Must be in zone ${zone}.`);
  }
  return ref;
}

export const NAME_PATTERN = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkName(name: unknown, field = 'resource.name'): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalid(
      `Invalid value for field '${field}': '${String(name)}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
    );
  }
  return name;
}

/** GCE label rules: ≤64 labels; keys start with a lowercase letter; ≤63 chars of [a-z0-9_-]. */
export function checkLabels(labels: unknown, field = 'resource.labels'): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object') throw invalid(`Invalid value for field '${field}'.`);
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > 64) throw invalid(`Invalid value for field '${field}': at most 64 labels are allowed.`);
  for (const [k, v] of entries) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(k)) throw invalid(`Invalid value for field '${field}': label key '${k}' is invalid.`);
    if (typeof v !== 'string' || !/^[a-z0-9_-]{0,63}$/.test(v)) {
      throw invalid(`Invalid value for field '${field}': label value '${String(v)}' of key '${k}' is invalid.`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export const timestamp = (ms: number): string => new Date(ms).toISOString();
