// The project-level reads of `doctor`, with the caller's token and no client library (each is one or two small JSON
// requests through src/gcp/rest.ts and the retry policy): whether a service is enabled (Service Usage v1), a
// project's number and IAM policy (Resource Manager v1), and log entries (Cloud Logging v2 entries:list).
// CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE, _CLOUDRESOURCEMANAGER and _LOGGING point them elsewhere
// (docs/architecture.md, Test seams).
import type { TokenProvider } from './auth.js';
import type { RetryHooks, RetryPolicy } from './retry.js';
import { getJson, postJson, type RestClient } from './rest.js';

export interface IamBinding {
  role: string;
  members: string[];
  condition?: { title?: string; expression?: string };
}

export interface LogEntry {
  timestamp?: string;
  resource?: { type?: string; labels?: Record<string, string> };
  textPayload?: string;
  jsonPayload?: Record<string, unknown>;
}

/** What doctor needs of these APIs (unit tests pass a fake). */
export interface ProjectReadsApi {
  /** ENABLED, DISABLED (or STATE_UNSPECIFIED) of `service` in the project. */
  serviceState(project: string, service: string, signal: AbortSignal): Promise<string>;
  projectNumber(project: string, signal: AbortSignal): Promise<string>;
  iamBindings(project: string, signal: AbortSignal): Promise<IamBinding[]>;
  /** Entries of the project that match `filter`, oldest first, at most `max`. */
  logEntries(project: string, filter: string, max: number, signal: AbortSignal): Promise<LogEntry[]>;
}

export interface ProjectReadsEndpoints {
  serviceUsage: string;
  resourceManager: string;
  logging: string;
}

export function projectReadsEndpoints(env: Record<string, string | undefined>): ProjectReadsEndpoints {
  return {
    serviceUsage: env.CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE || 'https://serviceusage.googleapis.com/',
    resourceManager: env.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER || 'https://cloudresourcemanager.googleapis.com/',
    logging: env.CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING || 'https://logging.googleapis.com/',
  };
}

const base = (endpoint: string) => endpoint.replace(/\/+$/, '');

export class ProjectReads implements ProjectReadsApi {
  private readonly rest: RestClient;
  constructor(
    tokens: TokenProvider,
    private readonly endpoints: ProjectReadsEndpoints,
    retry: RetryPolicy,
    hooks: RetryHooks = {},
  ) {
    this.rest = { tokens, retry, hooks };
  }

  async serviceState(project: string, service: string, signal: AbortSignal): Promise<string> {
    const url = `${base(this.endpoints.serviceUsage)}/v1/projects/${encodeURIComponent(project)}/services/${encodeURIComponent(service)}`;
    const body = (await getJson(this.rest, 'serviceusage.services.get', url, signal)) as { state?: string };
    return body.state ?? 'STATE_UNSPECIFIED';
  }

  async projectNumber(project: string, signal: AbortSignal): Promise<string> {
    const url = `${base(this.endpoints.resourceManager)}/v1/projects/${encodeURIComponent(project)}`;
    const body = (await getJson(this.rest, 'cloudresourcemanager.projects.get', url, signal)) as { projectNumber?: string };
    if (!body.projectNumber) throw new Error(`Resource Manager gave no number for project ${project}`);
    return body.projectNumber;
  }

  async iamBindings(project: string, signal: AbortSignal): Promise<IamBinding[]> {
    const url = `${base(this.endpoints.resourceManager)}/v1/projects/${encodeURIComponent(project)}:getIamPolicy`;
    // Version 3: conditional bindings come back with their conditions (a lower version would hide them).
    const body = (await postJson(
      this.rest,
      'cloudresourcemanager.projects.getIamPolicy',
      url,
      { options: { requestedPolicyVersion: 3 } },
      signal,
    )) as {
      bindings?: IamBinding[];
    };
    return body.bindings ?? [];
  }

  async logEntries(project: string, filter: string, max: number, signal: AbortSignal): Promise<LogEntry[]> {
    const url = `${base(this.endpoints.logging)}/v2/entries:list`;
    const out: LogEntry[] = [];
    let pageToken: string | undefined;
    do {
      const body = (await postJson(
        this.rest,
        'logging.entries.list',
        url,
        { resourceNames: [`projects/${project}`], filter, orderBy: 'timestamp asc', pageSize: 1000, ...(pageToken ? { pageToken } : {}) },
        signal,
      )) as { entries?: LogEntry[]; nextPageToken?: string };
      out.push(...(body.entries ?? []));
      pageToken = body.nextPageToken || undefined;
    } while (pageToken && out.length < max);
    return out.slice(0, max);
  }
}
