// OCI / Docker image reference grammar (distribution/reference), anchored; a tag or a digest is required.
const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domain = `${host}(?::[0-9]+)?`;
const name = `(?:(${domain})/)?(${pathComponent}(?:/${pathComponent})*)`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^${name}(?::(${tag}))?(?:@(${digest}))?$`);

export interface ImageReference {
  /** Registry host (with port), as written or implied: docker.io when the reference names none. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** Parses a reference; returns a reason string when it is invalid. */
export function parseImageReference(text: string): ImageReference | string {
  if (text.length === 0) return 'is empty';
  if (text.length > 4096) return 'is too long';
  const m = REFERENCE.exec(text);
  if (!m) return 'is not a valid image reference (expected e.g. registry/repo:tag or registry/repo@sha256:...)';
  const [, rawDomain, path, refTag, refDigest] = m;
  if ((rawDomain ?? '').length + 1 + (path ?? '').length > 255) return 'has a repository name longer than 255 characters';
  if (!refTag && !refDigest) return 'needs a tag or a digest (e.g. :1.2.3 or @sha256:...)';
  if (refDigest?.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(refDigest)) {
    return 'has an invalid sha256 digest (expected 64 lowercase hex characters)';
  }
  // A first component without a dot, colon or "localhost" is a Docker Hub path, not a registry.
  const isRegistry = rawDomain !== undefined && (/[.:]/.test(rawDomain) || rawDomain === 'localhost' || rawDomain.startsWith('['));
  const registry = isRegistry ? rawDomain : 'docker.io';
  const repository = isRegistry ? path! : rawDomain ? `${rawDomain}/${path}` : path!;
  if (!isRegistry && /[A-Z]/.test(rawDomain ?? '')) return 'has uppercase letters in its repository name';
  return { registry, repository, ...(refTag ? { tag: refTag } : {}), ...(refDigest ? { digest: refDigest } : {}) };
}
