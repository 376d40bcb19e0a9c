/**
 * The project-level reads `doctor` makes: Service Usage v1 `services.get`, Resource Manager v1 `projects.get` and
 * `projects.getIamPolicy`, and Cloud Logging v2 `entries.list`, in the shapes of Google's API descriptions. Tests set
 * what they hold: `emu.projectApis.enable(project, service)`, `.setIamPolicy(project, policy)`, `.deny…`, and
 * `emu.projectApis.logEntries` (LogEntry objects).
 */
import type { Router } from './router.js';
import type { EmulatorState } from './state.js';

export interface IamBinding {
  role: string;
  members: string[];
  condition?: { title?: string; expression: string };
}

export interface LogEntry {
  logName: string;
  resource: { type: string; labels: Record<string, string> };
  /** RFC 3339 */
  timestamp: string;
  textPayload?: string;
  jsonPayload?: Record<string, unknown>;
  insertId?: string;
}

export class ProjectApis {
  /** project ID → enabled service names. */
  readonly enabled = new Map<string, Set<string>>();
  readonly policies = new Map<string, { version: number; etag: string; bindings: IamBinding[] }>();
  /** Projects whose IAM policy the caller may not read (403). */
  readonly policyDenied = new Set<string>();
  /** Projects whose services the caller may not read (403). */
  readonly servicesDenied = new Set<string>();
  /** Every log entry of every project. */
  readonly logEntries: LogEntry[] = [];
  /** Set to make entries.list answer 403. */
  loggingDenied = false;

  enable(project: string, service: string): void {
    const s = this.enabled.get(project) ?? new Set();
    s.add(service);
    this.enabled.set(project, s);
  }

  setIamPolicy(project: string, bindings: IamBinding[]): void {
    this.policies.set(project, { version: bindings.some((b) => b.condition) ? 3 : 1, etag: 'BwYAAAAAAAA=', bindings });
  }
}

/** The gRPC-transcoded error shape these APIs answer with. */
function error(code: number, status: string, message: string) {
  return { status: code, json: { error: { code, message, status } } };
}

export function registerProjectApis(router: Router, state: EmulatorState, apis: ProjectApis): void {
  const projectOf = (idOrNumber: string) => [...state.projects.values()].find((p) => p.name === idOrNumber || p.number === idOrNumber);

  router.add('GET', '/v1/projects/:project/services/:service', 'serviceusage.services.get', ({ params }) => {
    const p = projectOf(params['project']!);
    if (!p || apis.servicesDenied.has(p.name))
      return error(403, 'PERMISSION_DENIED', `Permission denied to get service [${params['service']}]`);
    const service = params['service']!;
    return {
      json: {
        name: `projects/${p.number}/services/${service}`,
        parent: `projects/${p.number}`,
        config: { name: service, title: service },
        state: apis.enabled.get(p.name)?.has(service) ? 'ENABLED' : 'DISABLED',
      },
    };
  });

  router.add('GET', '/v1/projects/:project', 'cloudresourcemanager.projects.get', ({ params }) => {
    const p = projectOf(params['project']!);
    // As Resource Manager: a project the caller cannot see and one that does not exist answer alike.
    if (!p) return error(403, 'PERMISSION_DENIED', `The caller does not have permission`);
    return {
      json: { projectNumber: p.number, projectId: p.name, lifecycleState: 'ACTIVE', name: p.name, createTime: '2024-01-01T00:00:00Z' },
    };
  });

  // The method rides on the last segment: `projects/P:getIamPolicy`.
  router.add('POST', '/v1/projects/:resource', 'cloudresourcemanager.projects.getIamPolicy', ({ params }) => {
    const m = /^(.+):getIamPolicy$/.exec(params['resource']!);
    if (!m) return error(404, 'NOT_FOUND', `No such method: ${params['resource']}`);
    const p = projectOf(m[1]!);
    if (!p || apis.policyDenied.has(p.name)) return error(403, 'PERMISSION_DENIED', `The caller does not have permission`);
    return { json: apis.policies.get(p.name) ?? { version: 1, etag: 'ACAB', bindings: [] } };
  });

  router.add('POST', '/v2/entries:list', 'logging.entries.list', ({ body }) => {
    if (apis.loggingDenied) return error(403, 'PERMISSION_DENIED', `Permission 'logging.logEntries.list' denied`);
    const b = (body ?? {}) as { resourceNames?: string[]; filter?: string; pageSize?: number; pageToken?: string; orderBy?: string };
    if (!b.resourceNames?.length) return error(400, 'INVALID_ARGUMENT', 'resourceNames: at least one is required');
    const projects = new Set(b.resourceNames.map((r) => r.replace(/^projects\//, '')));
    let match: (e: LogEntry) => boolean;
    try {
      match = compileFilter(b.filter ?? '');
    } catch (e) {
      return error(400, 'INVALID_ARGUMENT', `Invalid filter: ${(e as Error).message}`);
    }
    const all = apis.logEntries
      .filter((e) => projects.has(e.logName.split('/')[1]!) && match(e))
      .sort((x, y) => (b.orderBy === 'timestamp desc' ? y.timestamp.localeCompare(x.timestamp) : x.timestamp.localeCompare(y.timestamp)));
    const size = Math.min(b.pageSize ?? 50, 1000);
    const start = Number(b.pageToken ?? 0);
    const page = all.slice(start, start + size);
    return { json: { entries: page, ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}) } };
  });
}

/**
 * The part of the Logging query language this emulator understands: terms joined by `AND` (or juxtaposed), each
 * `field = "v"`, `field : "v"` (contains), `field >= "v"` / `>` / `<=` / `<` (string order, as for timestamps), or a
 * bare `"text"` (any payload contains it). Anything else is 400.
 */
export function compileFilter(filter: string): (e: LogEntry) => boolean {
  const terms: Array<(e: LogEntry) => boolean> = [];
  const re = /\s*(?:(AND)\b|"((?:[^"\\]|\\.)*)"|([a-zA-Z_][\w.]*)\s*(>=|<=|=|:|>|<)\s*"((?:[^"\\]|\\.)*)")\s*/gy;
  const text = filter.trim();
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || re.lastIndex === at) throw new Error(`cannot parse at "${text.slice(at, at + 20)}"`);
    at = re.lastIndex;
    if (m[1]) continue;
    if (m[2] !== undefined) {
      const wanted = m[2].replace(/\\(.)/g, '$1');
      terms.push((e) => JSON.stringify([e.textPayload, e.jsonPayload]).includes(wanted));
      continue;
    }
    const field = m[3]!;
    const op = m[4]!;
    const value = m[5]!.replace(/\\(.)/g, '$1');
    terms.push((e) => {
      const v = field.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), e);
      if (typeof v !== 'string') return false;
      switch (op) {
        case '=':
          return v === value;
        case ':':
          return v.includes(value);
        case '>=':
          return v >= value;
        case '>':
          return v > value;
        case '<=':
          return v <= value;
        default:
          return v < value;
      }
    });
  }
  return (e) => terms.every((t) => t(e));
}
