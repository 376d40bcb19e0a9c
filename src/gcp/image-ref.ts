// Image references as GKE, Kubernetes objects and users write them (docs/architecture.md, Doctor; and Image
// lifetime, where prune reads them): one reader, so that prune (is this image in use?) and doctor (does this pool
// mount the image?) read them alike.

/** An image reference read: `project` may be an ID or, as a reference may name it, a project number. */
export interface ImageRef {
  project: string;
  name?: string;
  family?: string;
}

/**
 * What comes before `projects/`: a scheme and host (`https://compute.googleapis.com/`), a resource name's `//host/`
 * (`//compute.googleapis.com/`) or a host alone (`compute.googleapis.com/`), then the API version
 * (`compute/v1/`, beta, alpha).
 */
const HOST_PREFIX = /^(?:(?:https?:)?\/\/[^/]+\/|[-a-z0-9.]*googleapis\.com\/)(?=projects\/|compute\/)/;
const VERSION_PREFIX = /^compute\/(?:v1|beta|alpha)\//;

/**
 * The image a reference names, as `{project, name}`, or a family reference, or undefined. References are full URLs,
 * `//compute.googleapis.com/projects/...`, `compute.googleapis.com/projects/...`, `projects/P/global/images/NAME`,
 * `global/images/NAME` (in `project`), or a bare name (in `project`); P may be a project number.
 */
export function imageOf(ref: string, project: string): ImageRef | undefined {
  const path = ref.trim().replace(HOST_PREFIX, '').replace(VERSION_PREFIX, '');
  const m = /^(?:projects\/([^/]+)\/)?global\/images\/(?:family\/([a-z][-a-z0-9]*)|([a-z][-a-z0-9]*))$/.exec(path);
  if (m) return { project: m[1] ?? project, ...(m[2] ? { family: m[2] } : { name: m[3]! }) };
  return /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(path) ? { project, name: path } : undefined;
}

/**
 * `projects/P/global/images/I` of a reference naming one image (in `project` when it names none), or the reference
 * as given when it names a family or is in no known form (so that it equals no image's path).
 */
export function imagePathOf(ref: string, project: string): string {
  const r = imageOf(ref, project);
  return r?.name ? `projects/${r.project}/global/images/${r.name}` : ref;
}
