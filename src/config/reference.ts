// The image reference grammar of distribution/reference (the one Docker and containerd parse), anchored, with
// what its regular expressions leave to the code checked here too: a port is at most 65535, an IPv6 address is
// one, a host label is at most 63 characters, the name at most 255, and a digest is one containerd verifies —
// sha256 with 64 lowercase hex characters or sha512 with 128. A tag or a digest is required.
import { isIPv6 } from 'node:net';

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[[a-fA-F0-9:.]+\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domain = `(${host})(?::([0-9]+))?`;
const name = `(?:(${domain})/)?(${pathComponent}(?:/${pathComponent})*)`;
const tag = '[\\w][\\w.-]{0,127}';
// The OCI digest grammar: algorithm ":" encoded. Which algorithms and lengths are allowed is checked below.
const digest = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';
const REFERENCE = new RegExp(`^${name}(?::(${tag}))?(?:@(${digest}))?$`);

/** The digest algorithms containerd verifies, and the length of their lowercase hex encoding. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** Longer than any reference the grammar allows (a 255-character name, a tag, a sha512 digest). */
const MAX_REFERENCE = 512;

export interface ImageReference {
  /** Registry host (with port), as written or implied: docker.io when the reference names none. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** What is wrong with a digest (`algorithm:hex`), or undefined. */
export function digestProblem(text: string): string | undefined {
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) return `has a digest of algorithm "${algorithm.slice(0, 20)}" (expected sha256 or sha512)`;
  if (!new RegExp(`^[0-9a-f]{${length}}$`).test(hex))
    return `has an invalid ${algorithm} digest (expected ${length} lowercase hex characters, got ${hex.length} characters)`;
  return undefined;
}

/** Parses a reference; returns a reason string when it is invalid. */
export function parseImageReference(text: string): ImageReference | string {
  if (text.length === 0) return 'is empty';
  if (text.length > MAX_REFERENCE) return `is too long (${text.length} characters; a reference has at most ${MAX_REFERENCE})`;
  const m = REFERENCE.exec(text);
  if (!m) return 'is not a valid image reference (expected e.g. registry/repo:tag or registry/repo@sha256:...)';
  const [, rawDomain, hostPart, port, path, refTag, refDigest] = m;
  if ((rawDomain ?? '').length + 1 + (path ?? '').length > 255) return 'has a repository name longer than 255 characters';
  if (!refTag && !refDigest) return 'needs a tag or a digest (e.g. :1.2.3 or @sha256:...)';
  if (refDigest) {
    const problem = digestProblem(refDigest);
    if (problem) return problem;
  }
  if (port !== undefined && (port.length > 5 || Number(port) > 65535 || Number(port) === 0))
    return `has an invalid registry port ${port.slice(0, 10)} (expected 1-65535)`;
  if (hostPart?.startsWith('[')) {
    if (!isIPv6(hostPart.slice(1, -1))) return `has an invalid IPv6 address ${hostPart.slice(0, 48)}`;
  } else if (hostPart?.split('.').some((label) => label.length > 63)) {
    return 'has a registry host with a label longer than 63 characters';
  }
  // A first component without a dot, colon or "localhost" is a Docker Hub path, not a registry.
  const isRegistry = rawDomain !== undefined && (/[.:]/.test(rawDomain) || rawDomain === 'localhost' || rawDomain.startsWith('['));
  const registry = isRegistry ? rawDomain : 'docker.io';
  const repository = isRegistry ? path! : rawDomain ? `${rawDomain}/${path}` : path!;
  if (!isRegistry && /[A-Z]/.test(rawDomain ?? '')) return 'has uppercase letters in its repository name';
  return { registry, repository, ...(refTag ? { tag: refTag } : {}), ...(refDigest ? { digest: refDigest } : {}) };
}
