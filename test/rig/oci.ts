// Writes OCI image layouts (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) from
// layers described as tar entries, so the rig builds test images without docker. skopeo pushes them.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeTar, type TarEntry } from './tar.js';

export interface Layer {
  entries: TarEntry[];
  /** Store the layer uncompressed (`tar`) instead of `tar+gzip`. */
  uncompressed?: boolean;
}

export interface Platform {
  os: string;
  architecture: string;
}

export interface ImageSpec {
  layers: Layer[];
  platform?: Platform;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An OCI layout directory being filled with blobs. */
export class OciLayout {
  private readonly refs: Descriptor[] = [];

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  private blob(mediaType: string, data: Buffer): Descriptor {
    const digest = sha256(data);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  }

  private manifest(spec: ImageSpec): Descriptor {
    const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
    const diffIds: string[] = [];
    const layers = spec.layers.map((layer) => {
      const tar = writeTar(layer.entries);
      diffIds.push(sha256(tar));
      return layer.uncompressed ? this.blob(MEDIA.layerTar, tar) : this.blob(MEDIA.layerGzip, gzipSync(tar));
    });
    const config = this.blob(
      MEDIA.config,
      Buffer.from(JSON.stringify({ ...platform, config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })),
    );
    const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config, layers };
    return { ...this.blob(MEDIA.manifest, Buffer.from(JSON.stringify(manifest))), platform };
  }

  /** Adds a single-platform image under `tag`. */
  addImage(tag: string, spec: ImageSpec): void {
    const { platform: _platform, ...desc } = this.manifest(spec);
    this.refs.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }

  /** Adds a multi-platform image (an image index) under `tag`. */
  addIndex(tag: string, specs: ImageSpec[]): void {
    const manifests = specs.map((s) => this.manifest(s));
    const index = this.blob(MEDIA.index, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests })));
    this.refs.push({ ...index, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }

  /** Writes index.json; call once every image is added. */
  close(): void {
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: this.refs }));
  }
}
