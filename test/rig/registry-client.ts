// Reads an image back from a registry over the distribution API: manifest for a platform, config and
// uncompressed layers. The tests' ground truth comes from here, never from what the script wrote.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface RegistryImage {
  /** Digest of the platform's manifest. */
  manifestDigest: string;
  /** `rootfs.diff_ids` of the image config. */
  diffIds: string[];
  /** Each layer as an uncompressed tar, bottom first. */
  layers: Buffer[];
  /** The digest of each layer's blob in the registry, bottom first. */
  layerDigests: string[];
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `chainID(L1) = diffID(L1)`, `chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))` (OCI image spec). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

async function get(url: string, auth?: string): Promise<{ body: Buffer; digest: string }> {
  const res = await fetch(url, { headers: { Accept: ACCEPT, ...(auth ? { Authorization: auth } : {}) } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { body, digest: sha256(body) };
}

interface Descriptor {
  mediaType: string;
  digest: string;
  platform?: { os: string; architecture: string };
}

export async function fetchImage(
  host: string,
  repo: string,
  tag: string,
  platform: { os: string; architecture: string } = { os: 'linux', architecture: 'amd64' },
  basicAuth?: { user: string; password: string },
): Promise<RegistryImage> {
  const auth = basicAuth ? `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.password}`).toString('base64')}` : undefined;
  const base = `http://${host}/v2/${repo}`;
  let { body, digest } = await get(`${base}/manifests/${tag}`, auth);
  let doc = JSON.parse(body.toString()) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (doc.manifests) {
    const entry = doc.manifests.find((m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture);
    if (!entry) throw new Error(`${repo}:${tag} has no ${platform.os}/${platform.architecture} manifest`);
    ({ body, digest } = await get(`${base}/manifests/${entry.digest}`, auth));
    doc = JSON.parse(body.toString()) as typeof doc;
  }
  if (!doc.config || !doc.layers) throw new Error(`${repo}:${tag}: not an image manifest`);
  const config = JSON.parse((await get(`${base}/blobs/${doc.config.digest}`, auth)).body.toString()) as {
    rootfs: { diff_ids: string[] };
  };
  const layers: Buffer[] = [];
  for (const [i, layer] of doc.layers.entries()) {
    const blob = (await get(`${base}/blobs/${layer.digest}`, auth)).body;
    const tar = layer.mediaType.endsWith('gzip') ? gunzipSync(blob) : blob;
    if (sha256(tar) !== config.rootfs.diff_ids[i]) throw new Error(`${repo}:${tag}: layer ${i} does not match its diff_id`);
    layers.push(tar);
  }
  return { manifestDigest: digest, diffIds: config.rootfs.diff_ids, layers, layerDigests: doc.layers.map((l) => l.digest) };
}
