// What a build writes at the disk's root (docs/architecture.md, Disk layout): snapshots.metadata, images.metadata
// (containerd's image listing) and gdib.json, from what each pull left in containerd's content store.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSnapshotsMetadata, LAYOUT, SNAPSHOT_DIR_PATTERN, TOOL, type DiskImage, type DiskInfo } from '../contract.js';
import type { Containerd } from './containerd.js';
import type { Ctx } from './context.js';
import { Fail } from './errors.js';
import { normalizeRef } from './pull.js';

/** The chain ID of a layer with diffID `diff` on top of chain `parent` ("" for a bottom layer). */
export function nextChain(parent: string, diff: string): string {
  return parent === '' ? diff : `sha256:${createHash('sha256').update(`${parent} ${diff}`).digest('hex')}`;
}

/** The digest of the entry of an image index for `platform` (os/arch[/variant]); a variant match is preferred. */
export function platformEntry(
  index: { manifests?: { digest?: string; platform?: { os?: string; architecture?: string; variant?: string } }[] },
  platform: string,
): string | undefined {
  const [os, arch, variant = ''] = platform.split('/');
  const m = (index.manifests ?? []).filter((e) => e.platform?.os === os && e.platform?.architecture === arch);
  const pick = m.find((e) => variant === '' || (e.platform?.variant ?? '') === variant) ?? m[0];
  return pick?.digest;
}

export class Recorder {
  /** chainID → snapshots/<N>/fs, and the distinct chains in the order the images list them. */
  readonly snapshotDir = new Map<string, string>();
  readonly chains: string[] = [];
  readonly images: DiskImage[] = [];
  private readonly builtStarted = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  constructor(
    private readonly ctx: Ctx,
    private readonly ctrd: Containerd,
    private readonly platform: string,
  ) {}

  private blob(digest: string, what: string): unknown {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Fail(what);
    try {
      return JSON.parse(readFileSync(join(this.ctrd.blobs, digest.slice(7)), 'utf8'));
    } catch {
      throw new Fail(what);
    }
  }

  /**
   * Labels a snapshot as a GC root and learns where the snapshotter keeps it, in one call (`ctr snapshots label`
   * prints the labels, the directory among them). Nothing is mounted, so nothing can be collected from under us.
   */
  async locate(chain: string): Promise<string> {
    const res = await this.ctrd.ctr(['snapshots', 'label', chain, `containerd.io/gc.root=${this.builtStarted}`]);
    if (res.code !== 0) throw new Fail(`snapshot ${chain} is missing from containerd`);
    let dir = '';
    for (const label of res.stdout.trim().split(',')) {
      if (label.startsWith('containerd.io/snapshot/overlay.upperdir=')) dir = label.slice(label.indexOf('=') + 1);
    }
    const rel = dir.startsWith(`${this.ctx.env.mountDir}/`) ? dir.slice(this.ctx.env.mountDir.length + 1) : dir;
    if (!SNAPSHOT_DIR_PATTERN.test(rel)) throw new Fail(`snapshot ${chain} is not a directory on the data disk ('${rel}')`);
    this.snapshotDir.set(chain, rel);
    this.chains.push(chain);
    return rel;
  }

  /** Records a pulled image: its manifest for the platform, its layers' chain IDs and snapshot directories. */
  async describe(ref: string, target: string, top: string): Promise<string[]> {
    const before = this.chains.length;
    let digest = target;
    type Manifest = { config?: { digest?: string }; layers?: { mediaType?: string; size?: number }[] };
    let manifest: Manifest | undefined;
    for (let k = 0; k < 3 && manifest === undefined; k++) {
      const doc = this.blob(digest, `cannot read ${digest} of ${ref} from containerd`) as { manifests?: unknown };
      if (Array.isArray(doc.manifests)) {
        const entry = platformEntry(doc as never, this.platform);
        if (!entry) throw new Fail(`${ref} has no ${this.platform} image`);
        digest = entry;
      } else manifest = doc as Manifest;
    }
    if (!manifest) throw new Fail(`cannot read ${digest} of ${ref} from containerd`);
    const config = this.blob(manifest.config?.digest ?? '', `cannot read the config of ${ref}`) as { rootfs?: { diff_ids?: string[] } };
    const diffs = config.rootfs?.diff_ids ?? [];
    const layers = manifest.layers ?? [];
    if (diffs.length !== layers.length) throw new Fail(`${ref}: its config lists ${diffs.length} layers, its manifest ${layers.length}`);
    let chain = '';
    const rows: DiskImage['layers'] = [];
    for (const [i, diff] of diffs.entries()) {
      chain = nextChain(chain, diff);
      const dir = this.snapshotDir.get(chain) ?? (await this.locate(chain));
      rows.push({
        diffID: diff,
        chainID: chain,
        snapshot: dir,
        mediaType: layers[i]?.mediaType ?? '',
        size: layers[i]?.size ?? 0,
        unpackedSize: null,
      });
    }
    if (chain !== top) throw new Fail(`${ref}: the layers of its ${this.platform} manifest (${digest}) are not what containerd unpacked`);
    this.images.push({
      reference: ref,
      resolved: normalizeRef(ref),
      digest: target,
      manifestDigest: digest,
      platform: this.platform,
      layers: rows,
    });
    return this.chains.slice(before);
  }

  /** snapshots.metadata, images.metadata and gdib.json at the disk's root. */
  async write(runId: string, version: string, checksums: ReadonlyMap<string, string> | undefined): Promise<void> {
    const mnt = this.ctx.env.mountDir;
    const entries = this.chains.map((c) => ({
      chainId: c,
      dir: this.snapshotDir.get(c) ?? '',
      ...(checksums ? { checksum: checksums.get(c) ?? '' } : {}),
    }));
    writeFileSync(join(mnt, LAYOUT.snapshotsMetadata), formatSnapshotsMetadata(entries));
    writeFileSync(join(mnt, LAYOUT.imagesMetadata), await this.ctrd.ctrOk(['images', 'ls'], 'listing the images failed'));
    // Bytes each snapshot takes on the disk, from the snapshotter (`KEY SIZE INODES` lines).
    const usage = await this.ctrd.ctrOk(['snapshots', 'usage', '-b'], 'reading the snapshot sizes failed');
    const sizes = new Map<string, number>();
    for (const line of usage.split('\n')) {
      const [key = '', size = ''] = line.trim().split(/\s+/);
      if (key.startsWith('sha256:')) sizes.set(key, Number(size));
    }
    const info: DiskInfo = {
      tool: TOOL,
      version,
      runId,
      builtAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      platform: this.platform,
      checksums: checksums !== undefined,
      images: this.images.map((img) => ({ ...img, layers: img.layers.map((l) => ({ ...l, unpackedSize: sizes.get(l.chainID) ?? null })) })),
    };
    writeFileSync(join(mnt, LAYOUT.info), `${JSON.stringify(info, null, 2)}\n`);
    this.ctx.report.log('snapshots.metadata:');
    for (const e of entries) this.ctx.report.log(`  ${e.chainId} ${e.dir}${e.checksum ? ` ${e.checksum}` : ''}`);
  }
}
