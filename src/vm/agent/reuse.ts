// A data disk made from a base image this tool built (docs/architecture.md, Disk layout; docs/vm-script.md,
// Build): mounted without formatting, checked, grown; its snapshots handed back to a fresh containerd without
// copying a byte; only the missing layers fetched; the snapshots no image of this build needs removed at the end.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAIN_ID_PATTERN, LAYOUT, parseSnapshotsMetadata, SNAPSHOT_DIR_PATTERN, TOOL, type DiskInfo } from '../contract.js';
import type { Containerd } from './containerd.js';
import { lastLine, type Ctx } from './context.js';
import type { Credentials } from './credentials.js';
import { BASE_MOUNT_OPTIONS, type DataDisk } from './disk.js';
import { Fail, humanBytes } from './errors.js';
import { nextChain, platformEntry } from './record.js';
import { normalizeRef, pullFailure, repositoryOf } from './pull.js';

function notOurs(why: string): Fail {
  return new Fail(`the data disk made from the base image does not hold gke-disk-image-builder's layout: ${why}`);
}

export interface BaseLayout {
  /** chainID → snapshots/<N>/fs on the base disk */
  dir: Map<string, string>;
  /** chainID → the base's checksum, when it stored them */
  sum: Map<string, string>;
  /** chainID → its parent ("" for a bottom layer) */
  parent: Map<string, string>;
  /** the base's chains, parents before children */
  order: string[];
  summary: string;
}

/** Reads and checks the base disk's snapshots.metadata and gdib.json (mounted at `mnt`). */
export function readBaseLayout(mnt: string): BaseLayout {
  const infoFile = join(mnt, LAYOUT.info);
  if (!existsSync(infoFile)) throw notOurs(`no ${LAYOUT.info} at its root`);
  let info: Partial<DiskInfo> & { images?: unknown };
  try {
    info = JSON.parse(readFileSync(infoFile, 'utf8')) as typeof info;
  } catch {
    throw notOurs(`${LAYOUT.info} is not JSON`);
  }
  const tool = info && typeof info === 'object' && typeof info.tool === 'string' ? info.tool : '';
  if (tool !== TOOL) throw notOurs(`${LAYOUT.info} names tool '${tool.slice(0, 60).replace(/[^\x20-\x7e]/g, '')}'`);
  const listFile = join(mnt, LAYOUT.snapshotsMetadata);
  if (!existsSync(listFile)) throw notOurs(`no ${LAYOUT.snapshotsMetadata} at its root`);
  if (!existsSync(join(mnt, LAYOUT.snapshotsDir))) throw notOurs('no snapshots directory');
  if (existsSync(join(mnt, LAYOUT.reusedDir))) throw notOurs(`it still has a ${LAYOUT.reusedDir} directory`);
  const entries = parseSnapshotsMetadata(readFileSync(listFile, 'utf8'));
  if (!Array.isArray(entries)) throw notOurs(`${LAYOUT.snapshotsMetadata} line ${entries.badLine} is malformed`);
  const dir = new Map<string, string>();
  const sum = new Map<string, string>();
  for (const [k, e] of entries.entries()) {
    if (e.checksum !== undefined && !/^[0-9a-f]{32}$/.test(e.checksum))
      throw notOurs(`${LAYOUT.snapshotsMetadata} line ${k + 1} is malformed`);
    if (!existsSync(join(mnt, e.dir))) throw notOurs(`${LAYOUT.snapshotsMetadata} lists ${e.dir}, which is missing`);
    dir.set(e.chainId, e.dir);
    if (e.checksum) sum.set(e.chainId, e.checksum);
  }
  if (dir.size === 0) throw notOurs(`${LAYOUT.snapshotsMetadata} lists no snapshot`);
  const parent = new Map<string, string>();
  const order: string[] = [];
  const images = Array.isArray(info.images) ? (info.images as { layers?: { chainID?: unknown }[] }[]) : [];
  for (const img of images) {
    const chains = (Array.isArray(img?.layers) ? img.layers : []).map((l) => (typeof l?.chainID === 'string' ? l.chainID : ''));
    for (const [k, chain] of chains.entries()) {
      if (parent.has(chain)) continue;
      if (!dir.has(chain)) throw notOurs(`${LAYOUT.info} lists snapshot ${chain.slice(0, 80)}, which ${LAYOUT.snapshotsMetadata} does not`);
      parent.set(chain, k > 0 ? (chains[k - 1] ?? '') : '');
      order.push(chain);
    }
  }
  if (order.length !== dir.size)
    throw notOurs(`${LAYOUT.info} describes ${order.length} snapshot(s), ${LAYOUT.snapshotsMetadata} lists ${dir.size}`);
  const summary = `base disk: ${order.length} snapshot(s) of ${images.length} image(s), built ${String(info.builtAt ?? '?')} by version ${String(info.version ?? '?')}`;
  return { dir, sum, parent, order, summary };
}

export class Reuse {
  base: BaseLayout | undefined;
  /** chainIDs handed back to containerd, parents first, and where each is now */
  readonly reused: string[] = [];
  readonly reusedAt = new Map<string, string>();

  constructor(
    private readonly ctx: Ctx,
    private readonly disk: DataDisk,
  ) {}

  get baseSums(): ReadonlyMap<string, string> {
    return this.base?.sum ?? new Map();
  }

  /** Mounts the base disk, checks its layout, grows it and sets its snapshots aside for the fresh containerd. */
  async mountBase(deviceName: string): Promise<void> {
    const { ctx, disk } = this;
    await disk.claim(deviceName);
    const why = await disk.mount(BASE_MOUNT_OPTIONS, 'ext4');
    if (why !== undefined) throw notOurs(`it holds no ext4 filesystem that mounts (${why})`);
    ctx.step.set("checking the base image's disk");
    this.base = readBaseLayout(disk.mnt);
    ctx.report.log(this.base.summary);
    await disk.grow();
    // This build writes its own metadata files; until then the disk must not look like a finished one.
    for (const f of [LAYOUT.info, LAYOUT.snapshotsMetadata, LAYOUT.imagesMetadata, LAYOUT.snapshotterDb])
      rmSync(join(disk.mnt, f), { force: true });
    try {
      renameSync(join(disk.mnt, LAYOUT.snapshotsDir), join(disk.mnt, LAYOUT.reusedDir));
    } catch {
      throw new Fail("cannot set the base image's snapshots aside");
    }
  }

  /**
   * Hands the base's snapshots back to containerd, parents first: each becomes an active snapshot on its parent whose
   * empty fs directory is swapped (a rename) for the old one, then is committed under its chain ID (a GC root).
   */
  async restore(ctrd: Containerd): Promise<void> {
    const { ctx, disk } = this;
    const base = this.base;
    if (!base) return;
    ctx.step.set("reusing the base image's snapshots");
    const started = Date.now();
    let k = 0;
    for (const chain of base.order) {
      k++;
      const parent = base.parent.get(chain) ?? '';
      const key = `gdib-reuse-${k}`;
      const old = join(disk.mnt, LAYOUT.reusedDir, (base.dir.get(chain) ?? '').replace(/^snapshots\//, ''));
      const out = await ctrd.ctrOk(
        ['snapshots', '--snapshotter', 'overlayfs', 'prepare', '--mounts', key, ...(parent ? [parent] : [])],
        `containerd refused to take back snapshot ${chain} of the base image`,
      );
      let dir: string;
      try {
        const m = (JSON.parse(out) as { Type?: string; Source?: string; Options?: string[] }[])[0];
        dir = m?.Type === 'bind' ? (m.Source ?? '') : ((m?.Options ?? []).find((o) => o.startsWith('upperdir='))?.slice(9) ?? '');
      } catch {
        dir = '';
      }
      if (dir.startsWith(`${disk.mnt}/`)) dir = dir.slice(disk.mnt.length + 1);
      if (!SNAPSHOT_DIR_PATTERN.test(dir) || !existsSync(join(disk.mnt, dir)))
        throw new Fail(`containerd put reused snapshot ${chain} in '${dir}'`);
      try {
        rmdirSync(join(disk.mnt, dir));
        renameSync(old, join(disk.mnt, dir));
      } catch {
        throw new Fail(`cannot move ${base.dir.get(chain) ?? ''} of the base image to ${dir}`);
      }
      await ctrd.ctrOk(
        ['snapshots', '--snapshotter', 'overlayfs', 'commit', chain, key],
        `containerd could not commit reused snapshot ${chain}`,
      );
      this.reused.push(chain);
      this.reusedAt.set(chain, dir);
    }
    ctx.report.log(`reused ${this.reused.length} snapshot(s) of the base image in ${Math.round((Date.now() - started) / 1000)} s`);
  }

  /**
   * Before an image is pulled onto a reused disk: ctr 1.6's pull downloads every layer before it unpacks, even one
   * whose chain is already a snapshot, so each such layer gets a placeholder in the content store (a sparse file of
   * the blob's size, which content_sharing_policy "shared" adopts without reading it). Unpacking, which finds the
   * chain, never reads a placeholder; were one read, decompression or the diffID check would fail the pull.
   */
  async seed(
    ctrd: Containerd,
    i: number,
    ref: string,
    platform: string,
    hostsDir: string,
    creds: Credentials | undefined,
    scrub: (s: string) => string,
  ): Promise<void> {
    const { ctx } = this;
    const full = normalizeRef(ref);
    const repo = repositoryOf(full);
    ctx.step.set(`reading the manifest of ${ref}`);
    const log: string[] = [];
    const tmp = join(ctx.env.workDir, `seed-${i}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const fetchObject = async (object: string, want?: { digest: string; size: number }): Promise<Buffer> => {
      const out = join(tmp, 'object');
      const res = await ctx.sys.run('ctr', ctrd.ctrArgs(['content', 'fetch-object', '--hosts-dir', hostsDir, '--', object]), {
        env: { PATH: ctx.env.path },
        stdoutFile: out,
      });
      log.push(...scrub(res.stderr).split('\n'));
      const fail = () =>
        new Fail(
          pullFailure({
            ref,
            platform,
            lines: log,
            ...(creds ? { creds } : {}),
            mountDir: ctx.env.mountDir,
            dataDiskSize: 0,
            bootDiskAvail: 0,
          }),
        );
      if (res.code !== 0) throw fail();
      const data = readFileSync(out);
      if (want) {
        const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
        if (got !== want.digest || data.length !== want.size) {
          log.push(`ctr: ${object}: the registry sent ${data.length} bytes with digest ${got}`);
          throw fail();
        }
      }
      return data;
    };
    let doc = JSON.parse((await fetchObject(full)).toString('utf8')) as {
      manifests?: { digest?: string; size?: number }[];
      config?: { digest?: string; size?: number };
      layers?: { digest?: string; size?: number }[];
    };
    for (let k = 0; k < 3 && Array.isArray(doc.manifests); k++) {
      const digest = platformEntry(doc, platform);
      if (!digest) throw new Fail(`image ${ref} has no ${platform} variant (--platform)`);
      const size = doc.manifests.find((m) => m.digest === digest)?.size ?? 0;
      doc = JSON.parse((await fetchObject(`${repo}@${digest}`, { digest, size })).toString('utf8')) as typeof doc;
    }
    const cfgDigest = doc.config?.digest;
    if (!cfgDigest) throw new Fail(`${ref}: its manifest is not an image manifest`);
    const config = JSON.parse(
      (await fetchObject(`${repo}@${cfgDigest}`, { digest: cfgDigest, size: doc.config?.size ?? 0 })).toString('utf8'),
    ) as {
      rootfs?: { diff_ids?: string[] };
    };
    const diffs = config.rootfs?.diff_ids ?? [];
    const layers = doc.layers ?? [];
    if (diffs.length !== layers.length) throw new Fail(`${ref}: its config lists ${diffs.length} layers, its manifest ${layers.length}`);
    const ls = await ctrd.ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls']);
    const have = new Set(
      ls.stdout
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/)[0] ?? ''),
    );
    mkdirSync(ctrd.blobs, { recursive: true });
    let chain = '';
    let seeded = 0;
    let bytes = 0;
    for (const [k, diff] of diffs.entries()) {
      chain = nextChain(chain, diff);
      if (!have.has(chain)) break;
      const layer = layers[k];
      if (!layer?.digest || !CHAIN_ID_PATTERN.test(layer.digest) || !Number.isSafeInteger(layer.size))
        throw new Fail(`${ref}: layer ${k + 1} has a malformed descriptor`);
      const file = join(ctrd.blobs, layer.digest.slice(7));
      if (!existsSync(file)) {
        writeFileSync(file, '');
        truncateSync(file, layer.size ?? 0);
      }
      seeded++;
      bytes += layer.size ?? 0;
    }
    rmSync(tmp, { recursive: true, force: true });
    ctx.report.log(`${ref}: ${seeded} of ${diffs.length} layer(s) already on the disk, ${humanBytes(bytes)} not to fetch`);
  }

  /** Removes the reused snapshots no image of this build needs, children first, and the set-aside directory. */
  async removeUnused(ctrd: Containerd, needed: ReadonlySet<string>): Promise<void> {
    const { ctx, disk } = this;
    if (!this.base) return;
    ctx.step.set('removing the snapshots no image needs');
    const removed: string[] = [];
    for (const chain of [...this.reused].reverse()) {
      if (needed.has(chain)) continue;
      await ctrd.ctrOk(
        ['snapshots', '--snapshotter', 'overlayfs', 'rm', chain],
        `cannot remove snapshot ${chain}, which no image of this build needs`,
      );
      removed.push(this.reusedAt.get(chain) ?? '');
    }
    // containerd deletes a removed snapshot's directory when it collects garbage: now, and wait for it.
    const lease = await ctrd.ctr(['leases', 'create', '--id', 'gdib-collect']);
    const del = lease.code === 0 ? await ctrd.ctr(['leases', 'delete', '--sync', 'gdib-collect']) : lease;
    if (del.code !== 0) throw new Fail(`containerd's garbage collection failed: ${lastLine(del.stderr)}`);
    for (const dir of removed) {
      if (existsSync(join(disk.mnt, dir.replace(/\/fs$/, ''))))
        throw new Fail(`containerd left the directory of a removed snapshot: ${dir.replace(/\/fs$/, '')}`);
    }
    rmSync(join(disk.mnt, LAYOUT.reusedDir), { recursive: true, force: true });
    ctx.report.log(
      `kept ${this.reused.length - removed.length} reused snapshot(s), removed ${removed.length} that no image of this build needs`,
    );
  }
}
