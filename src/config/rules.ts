// GCE and GCS naming rules, shared by the schema. Each check returns undefined when fine, else what is expected.
import { parseGoDuration, parseLifetime } from './duration.js';
import { bucketProblem, parseGcsPath } from './gcs-path.js';
import { parseDataSource } from '../vm/data-sources.js';
import { parseImageReference } from './reference.js';
export const GCE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function gceName(value: string, max: number): string | undefined {
  if (!GCE_NAME.test(value) || value.length > max) {
    return `expected 1-${max} characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`;
  }
  return undefined;
}

// GKE labels every node that has the image as a CONTAINER_IMAGE_CACHE secondary boot disk with
// PREFIX/gke-secondary-boot-disk-IMAGE=CONTAINER_IMAGE_CACHE.PROJECT, and Autopilot pods select their nodes by it.
// The name after the slash is at most 63 characters, which leaves 39 for the image name: a longer name builds an
// image whose nodes GKE cannot label.
const GKE_NODE_LABEL_PREFIX = 'cloud.google.com.node-restriction.kubernetes.io';
const GKE_NODE_LABEL_NAME = 'gke-secondary-boot-disk-';
const K8S_LABEL_NAME_MAX = 63;
const BUILD_IMAGE_NAME_MAX = K8S_LABEL_NAME_MAX - GKE_NODE_LABEL_NAME.length;

export function gkeNodeLabel(project: string, image: string): { key: string; value: string } {
  return { key: `${GKE_NODE_LABEL_PREFIX}/${GKE_NODE_LABEL_NAME}${image}`, value: `CONTAINER_IMAGE_CACHE.${project}` };
}

/** The further limit on the image name of a build (the GCE name rules are gceName's). */
export function fitsNodeLabel(image: string): string | undefined {
  if (image.length <= BUILD_IMAGE_NAME_MAX) return undefined;
  return `at most ${BUILD_IMAGE_NAME_MAX} characters for builds (got ${image.length}): GKE labels the nodes that use the image ${GKE_NODE_LABEL_PREFIX}/${GKE_NODE_LABEL_NAME}NAME, and a label name allows at most ${K8S_LABEL_NAME_MAX} characters after the "/"`;
}

// Project IDs: 6-30 characters, optionally domain-scoped ("example.com:my-project").
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export function projectId(value: string): string | undefined {
  return PROJECT_ID.test(value) ? undefined : 'expected a project ID (6-30 lowercase letters, digits and hyphens, e.g. my-project-123)';
}

const ZONE = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;
export function zone(value: string): string | undefined {
  return ZONE.test(value) ? undefined : 'expected a zone such as us-central1-a';
}

export function regionOf(zoneName: string): string {
  return zoneName.replace(/-[a-z]$/, '');
}

// GCE labels: keys start with a lowercase letter; keys and values use lowercase letters, digits, "_" and "-", ≤63.
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
export function label(text: string): { key: string; value: string } | string {
  const eq = text.indexOf('=');
  if (eq < 0) return `"${clip(text)}" is not KEY=VALUE`;
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (!LABEL_KEY.test(key))
    return `key "${clip(key)}" must start with a lowercase letter and use only lowercase letters, digits, "_" and "-" (at most 63)`;
  if (!LABEL_VALUE.test(value)) return `value "${clip(value)}" may use only lowercase letters, digits, "_" and "-" (at most 63)`;
  return { key, value };
}

// gs://bucket[/prefix], by Cloud Storage's naming rules (src/config/gcs-path.ts).
export const gcsPath = parseGcsPath;

const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;
export function serviceAccount(value: string): string | undefined {
  return value === 'default' || EMAIL.test(value) ? undefined : 'expected "default" or a service account email';
}

/** A short name, or a resource path of the given kind (projects/P/global/networks/N, or a full URL). */
export function resourceRef(value: string, pathPattern: RegExp, what: string): string | undefined {
  if (GCE_NAME.test(value) && value.length <= 63) return undefined;
  const path = value.replace(/^https:\/\/(www|compute)\.googleapis\.com\/compute\/v1\//, '');
  return pathPattern.test(path) ? undefined : `expected a ${what} name or resource path`;
}
/** A GKE cluster as the GKE API names it: `projects/P/locations/L/clusters/C`. */
export const CLUSTER_PATH = /^projects\/[a-z][a-z0-9.:-]*\/locations\/[a-z][a-z0-9-]*\/clusters\/[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const clusterPath = (v: string): string | undefined =>
  CLUSTER_PATH.test(v) ? undefined : 'expected projects/PROJECT/locations/LOCATION/clusters/NAME';

export interface ClusterRef {
  project: string;
  location: string;
  name: string;
  /** projects/P/locations/L/clusters/C */
  path: string;
}

/** The parts of a path clusterPath accepted. */
export function clusterOf(path: string): ClusterRef {
  const [, project, , location, , name] = path.split('/') as [string, string, string, string, string, string];
  return { project, location, name, path };
}

export const NETWORK_PATH = /^projects\/[a-z][a-z0-9.:-]*\/global\/networks\/[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const SUBNET_PATH = /^projects\/[a-z][a-z0-9.:-]*\/regions\/[a-z]+-[a-z]+[0-9]+\/subnetworks\/[a-z]([-a-z0-9]*[a-z0-9])?$/;

const LOCATION = /^[a-z]+(?:-[a-z]+[0-9]+)?$/;
export function storageLocation(value: string): string | undefined {
  return LOCATION.test(value) && value.length <= 30 ? undefined : 'expected a multi-region (us, eu, asia) or region (us-central1)';
}

const PLATFORM = /^linux\/(?:amd64|arm64(?:\/v8)?|arm\/v[5-7]|386|ppc64le|s390x|riscv64)$/;
export function platform(value: string): string | undefined {
  return PLATFORM.test(value) ? undefined : 'expected linux/ARCH, e.g. linux/amd64 or linux/arm64';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export function k8sNamespace(value: string): string | undefined {
  return DNS_LABEL.test(value) && value.length <= 63
    ? undefined
    : 'expected a Kubernetes namespace (lowercase letters, digits and "-", at most 63)';
}

/** A path as shown in an error line: as is, or JSON-quoted when it holds control characters. */
export function shownPath(path: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

/** Quotes user text safely inside an error line: one line, bounded. */
export function clip(text: string, max = 60): string {
  const oneLine = JSON.stringify(text).slice(1, -1);
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

// Checks of single flag values, in the shape the flag declarations take (undefined when fine).

export const labelCheck = (v: string): string | undefined => {
  const r = label(v);
  return typeof r === 'string' ? r : undefined;
};

export const gcsPathCheck = (v: string): string | undefined => {
  const r = gcsPath(v);
  return typeof r === 'string' ? r : undefined;
};

export const imageRef = (v: string): string | undefined => {
  const r = parseImageReference(v);
  return typeof r === 'string' ? `"${clip(v)}" ${r}` : undefined;
};

/** --timeout: a Go duration from 1s to a week. */
export const stepTimeout = (v: string): string | undefined => {
  const ms = parseGoDuration(v);
  if (ms === undefined) return `"${clip(v)}" is not a duration (expected e.g. 90s, 20m, 1h30m)`;
  if (ms < 1000) return 'must be at least 1s';
  if (ms > 7 * 24 * 3_600_000) return 'must be at most 168h';
  return undefined;
};

/** --pull-stall-timeout in seconds: a whole number, or a Go duration of whole seconds; 1 s to a week. */
export function pullStallSeconds(v: string): number | string {
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : parseGoDuration(v);
  if (ms === undefined) return `"${clip(v)}" is neither a whole number of seconds nor a duration (expected e.g. 300, 90s or 5m)`;
  if (ms % 1000 !== 0) return `"${clip(v)}" is not a whole number of seconds`;
  if (ms < 1000) return 'must be at least 1 second';
  if (ms > 7 * 24 * 3_600_000) return 'must be at most 168h';
  return ms / 1000;
}

export const pullStallTimeout = (v: string): string | undefined => {
  const r = pullStallSeconds(v);
  return typeof r === 'string' ? r : undefined;
};

export const PULL_AUTH_MODES = ['None', 'ServiceAccountToken', 'Auto'] as const;
export const pullAuth = (v: string): string | undefined =>
  (PULL_AUTH_MODES as readonly string[]).includes(v) ? undefined : 'expected None, ServiceAccountToken or Auto';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'off'] as const;
export const logLevel = (v: string): string | undefined =>
  (LOG_LEVELS as readonly string[]).includes(v) ? undefined : 'expected trace, debug, info, warn, error or off';

export function bootImage(v: string): string | undefined {
  const path = v.replace(/^https:\/\/(www|compute)\.googleapis\.com\/compute\/v1\//, '');
  return /^projects\/[a-z][a-z0-9.:-]*\/global\/images\/(family\/)?[a-z]([-a-z0-9]*[a-z0-9])?$/.test(path)
    ? undefined
    : 'expected projects/PROJECT/global/images/NAME or projects/PROJECT/global/images/family/FAMILY';
}

const IMAGE_PATH = /^projects\/([a-z][a-z0-9.:-]*)\/global\/images\/([a-z]([-a-z0-9]*[a-z0-9])?)$/;
const COMPUTE_URL = /^https:\/\/(www|compute)\.googleapis\.com\/compute\/v1\//;

/** --base-image: an image name (in --project-name), its resource path or URL — never a family. */
export function baseImage(v: string): string | undefined {
  if (/\/images\/family\//.test(v))
    return 'expected an image, not a family: name the image, or use --incremental for the newest of --image-family-name';
  if (GCE_NAME.test(v) && v.length <= 63) return undefined;
  return IMAGE_PATH.test(v.replace(COMPUTE_URL, ''))
    ? undefined
    : 'expected projects/PROJECT/global/images/NAME (or its https://compute.googleapis.com/compute/v1/ URL, or a NAME in --project-name)';
}

/** The project and name of a --base-image that passed `baseImage`. */
export function imageRefOf(v: string, project: string): { project: string; name: string } {
  const m = IMAGE_PATH.exec(v.replace(COMPUTE_URL, ''));
  return m ? { project: m[1]!, name: m[2]! } : { project, name: v };
}

/** --output: GCE imports a gzip-compressed tar holding disk.raw. */
export function archiveOutput(v: string): string | undefined {
  if (!v) return 'expected a file path, e.g. disk.tar.gz';
  return /\.(tar\.gz|tgz)$/.test(v) ? undefined : 'expected a .tar.gz file (GCE imports a gzip-compressed tar holding disk.raw)';
}

/** --older-than: a Go duration, 0 for all. */
export const olderThan = (v: string): string | undefined =>
  (parseGoDuration(v) ?? -1) >= 0 ? undefined : 'expected a duration such as 1h, 30m or 0';

/** An image lifetime (--deprecate-after, --min-age, ...): Go duration syntax plus days, more than zero. */
export const lifetime = (v: string): string | undefined =>
  (parseLifetime(v) ?? 0) > 0 ? undefined : 'expected a positive duration such as 30d, 12h or 1d12h (Go duration syntax, plus d for days)';

/** --kms-key: a Cloud KMS key's resource name (not a key version: GCE encrypts with the key's primary version). */
export const KMS_KEY =
  /^projects\/([a-z][a-z0-9.:-]*[a-z0-9])\/locations\/([a-z0-9-]+)\/keyRings\/([A-Za-z0-9_-]{1,63})\/cryptoKeys\/([A-Za-z0-9_-]{1,63})$/;
export const kmsKey = (v: string): string | undefined =>
  KMS_KEY.test(v) ? undefined : 'expected projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY';

/** The location of a --kms-key (global, a region such as us-central1, or a multi-region such as us). */
export function kmsKeyLocation(key: string): string {
  return KMS_KEY.exec(key)?.[2] ?? '';
}

// Cloud KMS multi-regions whose regions share a prefix (docs/architecture.md, Temporary resources). The dual- and
// multi-regions with other names (nam4, eur5, ...) are not known here: preflight says it could not check them.
const KMS_MULTI_REGIONS: Readonly<Record<string, string>> = { us: 'us-', europe: 'europe-', asia: 'asia-' };

/**
 * Whether a key in `location` may encrypt disks in `region`: a global key, a key in the region itself, or one in a
 * multi-region that contains the region. undefined: a location this tool cannot judge.
 */
export function kmsLocationFits(location: string, region: string): boolean | undefined {
  if (location === 'global' || location === region) return true;
  const prefix = KMS_MULTI_REGIONS[location];
  if (prefix) return region.startsWith(prefix);
  if (/^[a-z]+-[a-z]+[0-9]+$/.test(location)) return false;
  return undefined;
}
/** A registry whose credentials the VM reads from Secret Manager, and the secret version that holds them. */
export interface RegistrySecret {
  /** Registry host, with its port if any, as in the image references (docker.io for Docker Hub). */
  host: string;
  /** `projects/P/secrets/NAME/versions/V` (V defaults to `latest`). */
  secretVersion: string;
}

// A registry host as the image references write it: DNS labels (or localhost, or an IPv4 address), an optional port.
const REGISTRY_HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/;
// Secret Manager names: a project ID or number, a secret ID of letters, digits, "_" and "-" (at most 255), a version
// number or "latest".
const SECRET_PATH = /^projects\/([a-z0-9][a-z0-9.:-]{0,62})\/secrets\/([A-Za-z0-9_-]{1,255})(?:\/versions\/(latest|[1-9][0-9]{0,18}))?$/;

/** --registry-secret: HOST=projects/P/secrets/NAME[/versions/V], the version `latest` when omitted. */
export function registrySecret(text: string): RegistrySecret | string {
  const eq = text.indexOf('=');
  if (eq < 0) return `"${clip(text)}" is not HOST=projects/PROJECT/secrets/NAME[/versions/VERSION]`;
  const host = text.slice(0, eq);
  const path = text.slice(eq + 1);
  const port = /:([0-9]+)$/.exec(host)?.[1];
  if (!REGISTRY_HOST.test(host) || host.length > 255 || (port !== undefined && (Number(port) > 65535 || Number(port) === 0)))
    return `"${clip(host)}" is not a registry host (expected e.g. ghcr.io, registry.example.com:5000, or docker.io for Docker Hub)`;
  const m = SECRET_PATH.exec(path);
  if (!m)
    return `"${clip(path)}" is not a secret (expected projects/PROJECT/secrets/NAME or projects/PROJECT/secrets/NAME/versions/VERSION, VERSION a number or latest)`;
  return { host, secretVersion: `projects/${m[1]}/secrets/${m[2]}/versions/${m[3] ?? 'latest'}` };
}

/** --hf-token-secret: projects/P/secrets/NAME[/versions/V] → the version name (`latest` when omitted). */
export function secretVersion(text: string): string | { problem: string } {
  const m = SECRET_PATH.exec(text);
  if (!m)
    return {
      problem: `"${clip(text)}" is not a secret (expected projects/PROJECT/secrets/NAME or projects/PROJECT/secrets/NAME/versions/VERSION, VERSION a number or latest)`,
    };
  return `projects/${m[1]}/secrets/${m[2]}/versions/${m[3] ?? 'latest'}`;
}

export const secretVersionCheck = (v: string): string | undefined => {
  const r = secretVersion(v);
  return typeof r === 'string' ? undefined : r.problem;
};

/** --data-source: SOURCE[=DEST] (src/vm/data-sources.ts, shared with the VM agent). */
export const dataSourceCheck = (v: string): string | undefined => {
  const r = parseDataSource(v);
  if (typeof r === 'string') return r.replace(`'${v}'`, `'${clip(v)}'`);
  return r.kind === 'gcs' ? bucketProblem(r.bucket) : undefined;
};

export const registrySecretCheck = (v: string): string | undefined => {
  const r = registrySecret(v);
  return typeof r === 'string' ? r : undefined;
};
