// Resolves each container image from the machine running the CLI, before any VM exists: the tag exists, the
// platform is in a multi-platform index, the manifest is not schema 1; warns about empty or duplicate layers
// (GKE image streaming, which secondary boot disks require, does not support them) and about a disk that looks
// too small. A registry this machine cannot reach is reported and skipped: the VM may well reach it.
import { parseImageReference, type ImageReference } from '../config/reference.js';
import { gunzipSync } from 'node:zlib';
import { mapWithLimit } from '../io/limit.js';
import { RegistryError, type Fetched, type ImageRegistry } from './client.js';

/** A gzip stream of an empty tar, which Docker used for metadata-only layers. */
const EMPTY_LAYER = 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
/** Unpacked size as a multiple of the compressed size, for a rough estimate (typical of gzip'd image layers). */
export const EXPANSION = 2.5;

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export interface ImageCheck {
  ref: string;
  /** Manifest digest of the platform's image, when resolved. */
  digest?: string;
  compressedBytes?: number;
  problems: string[];
  warnings: string[];
}

export async function checkImage(ref: string, platform: string, client: ImageRegistry, signal: AbortSignal): Promise<ImageCheck> {
  const out: ImageCheck = { ref, problems: [], warnings: [] };
  const parsed = parseImageReference(ref) as ImageReference;
  const [os, arch, variant] = platform.split('/');
  let m: Fetched;
  try {
    m = await client.manifest(parsed, parsed.digest ?? parsed.tag!, signal);
    if (INDEX_TYPES.has(m.mediaType) || Array.isArray(m.body.manifests)) {
      const list =
        (m.body.manifests as Array<{ digest: string; platform?: { os?: string; architecture?: string; variant?: string } }>) ?? [];
      const match = list.find(
        (e) => e.platform?.os === os && e.platform?.architecture === arch && (!variant || e.platform?.variant === variant),
      );
      if (!match) {
        const have = list
          .map((e) => e.platform && [e.platform.os, e.platform.architecture, e.platform.variant].filter(Boolean).join('/'))
          .filter((p) => p && !p.startsWith('unknown'));
        out.problems.push(
          `${ref} has no ${platform} image (it has: ${[...new Set(have)].join(', ') || 'none'}); choose another --platform or image`,
        );
        return out;
      }
      m = await client.manifest(parsed, match.digest, signal);
      m.digest ??= match.digest;
    }
  } catch (err) {
    if (signal.aborted) throw err;
    if (err instanceof RegistryError && err.refusedCredentials) {
      out.problems.push(`${ref}: ${err.message}; check the user name and password in the secret (--registry-secret)`);
      return out;
    }
    if (err instanceof RegistryError && (err.status === 404 || /MANIFEST_UNKNOWN|NAME_UNKNOWN/.test(err.message))) {
      out.problems.push(`${ref} does not exist in ${parsed.registry} (${err.message}); check the name and tag`);
    } else {
      out.warnings.push(`could not check ${ref} from this machine (${(err as Error).message}); the VM will try to pull it`);
    }
    return out;
  }
  if (m.body.schemaVersion === 1 || m.mediaType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    out.problems.push(`${ref} has a schema 1 manifest, which containerd no longer pulls; push it again with a current tool`);
    return out;
  }
  out.digest = m.digest;
  const layers = (m.body.layers as Array<{ digest: string; size?: number }>) ?? [];
  out.compressedBytes = layers.reduce((n, l) => n + (l.size ?? 0), 0);
  let empty = 0;
  for (const l of layers) if (await isEmptyLayer(l, parsed, client, signal)) empty++;
  if (empty > 0)
    out.warnings.push(
      `${ref} has ${empty} empty layer(s); GKE image streaming, which secondary boot disks need, does not support them, so pods may pull this image anyway`,
    );
  const dups = layers.length - new Set(layers.map((l) => l.digest)).size;
  if (dups > 0)
    out.warnings.push(
      `${ref} has ${dups} duplicate layer(s); GKE image streaming does not support them, so pods may pull this image anyway`,
    );
  return out;
}

/** A layer with no files: empty, the well-known empty gzip, or (for tiny blobs, fetched) a tar of zero blocks. */
async function isEmptyLayer(
  l: { digest: string; size?: number; mediaType?: string },
  ref: ImageReference,
  client: ImageRegistry,
  signal: AbortSignal,
): Promise<boolean> {
  if (l.size === 0 || l.digest === EMPTY_LAYER) return true;
  if ((l.size ?? Infinity) > 256) return false;
  try {
    const blob = await client.blob(ref, l.digest, signal);
    const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
    return tar.every((b) => b === 0);
  } catch {
    return false;
  }
}

/**
 * Images resolved at once: enough to hide a registry's latency, few enough that a long list neither floods a
 * registry (nor this machine's sockets) nor delays an interrupt behind hundreds of requests.
 */
export const RESOLVE_CONCURRENCY = 8;

export async function checkImages(
  refs: readonly string[],
  platform: string,
  diskSizeGb: number,
  client: ImageRegistry,
  signal: AbortSignal,
): Promise<{ checks: ImageCheck[]; warnings: string[]; problems: string[] }> {
  const checks = await mapWithLimit(refs, RESOLVE_CONCURRENCY, (r) => checkImage(r, platform, client, signal), signal);
  const warnings = checks.flatMap((c) => c.warnings);
  const problems = checks.flatMap((c) => c.problems);
  const compressed = checks.reduce((n, c) => n + (c.compressedBytes ?? 0), 0);
  const estimate = compressed * EXPANSION;
  if (estimate > diskSizeGb * 1e9 * 0.9) {
    warnings.push(
      `the images are ${(compressed / 1e9).toFixed(1)} GB compressed, roughly ${(estimate / 1e9).toFixed(1)} GB unpacked: --disk-size-gb=${diskSizeGb} may be too small`,
    );
  }
  return { checks, warnings, problems };
}
