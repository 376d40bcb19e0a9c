// docs/benchmarks.md §7, "Time model on GCE": a fresh build against an incremental rebuild (--incremental,
// --base-image) in which one top layer of about 5 % of the bytes changed, phase by phase, on real GCP. It starts from
// the §6 model of a build (buildModel) and changes only the phases that an incremental build changes; every changed
// figure is computed from §5/§6 rates or stated as an assumption.
import type { BuildModel, Phase, ReportInput } from './report.js';
import { buildModel } from './report.js';
import { table } from './stats.js';
import { INCREMENTAL_END, INCREMENTAL_START } from './incremental.js';

/** Share of the unpacked (and fetched) bytes that changed: one top layer of about 5 %. */
const CHANGED = 0.05;
/** Assumed: creating a disk from an image of ~10 GB used (GCE restores it in the background) vs 5 s for a blank one. */
const DISK_FROM_IMAGE_SEC = 15;
/** Estimates of small on-VM steps of an incremental build (metadata only, no bulk data). */
const REUSE_SEC = 1;
const REMOVE_SEC = 1;
/** Listing the family to pick the base (--incremental without --if-changed, which lists it anyway). */
const CHOOSE_SEC = 0.3;

const f0 = (v: number) => v.toFixed(0);
const f1 = (v: number) => v.toFixed(1);
const secs = (v: number) => (v < 1 ? `${v.toFixed(2)} s` : `${f0(v)} s`);

interface Row {
  phase: string;
  fresh: number;
  /** Checksums of reused snapshots carried over from the base image's record. */
  carry: number;
  /** Checksums of every snapshot recomputed, so the old ones are read back from the disk. */
  recompute: number;
  basis: string;
}

/** The §6 phase of this tool whose name starts with `prefix` (a renamed phase fails the bench, not the figures). */
function ours(m: BuildModel, prefix: string): Phase {
  const p = m.phases.find((x) => x.phase.startsWith(prefix));
  if (!p) throw new Error(`the §6 model has no phase "${prefix}…"`);
  return p;
}

export function incrementalRows(m: BuildModel): Row[] {
  const { U, C, diskGb, pdSsdMiBs, checksumMBps } = m;
  const same = (prefix: string, basis = 'as §6'): Row => {
    const p = ours(m, prefix);
    return { phase: p.phase, fresh: p.ours, carry: p.ours, recompute: p.ours, basis };
  };
  const newU = U * CHANGED;
  const oldU = U - newU;
  const fetchFresh = ours(m, 'fetch the layers').ours;
  const unpackFresh = ours(m, 'unpack the layers').ours;
  const cksFresh = ours(m, 'checksums').ours;
  const writeFresh = ours(m, 'write the rest').ours;
  const diskSec = (gb: number) => (gb * 1024) / pdSsdMiBs;
  const unpackNew = unpackFresh * CHANGED;
  const cksNew = (newU * 1000) / checksumMBps;
  // Recomputed: the reused snapshots are no longer in the page cache (another VM wrote them), so they are read back
  // from the data disk; reading and hashing overlap, so the slower of the two bounds it.
  const cksOld = Math.max(diskSec(oldU), (oldU * 1000) / checksumMBps);
  const writeNew = Math.max(0, diskSec(newU) - (unpackNew + cksNew));
  return [
    same('start the CLI'),
    same('load the API clients'),
    same('preflight checks', 'as §6 (a --base-image is one more GET among them)'),
    same('resolve the container images'),
    {
      phase: 'choose the base image (--incremental)',
      fresh: 0,
      carry: CHOOSE_SEC,
      recompute: CHOOSE_SEC,
      basis:
        'estimate: one `images.list` of the family; none with `--if-changed` (its comparison lists the family already) or `--base-image`',
    },
    {
      phase: 'create the data disk (blank / from the base image)',
      fresh: ours(m, 'create the data disk').ours,
      carry: DISK_FROM_IMAGE_SEC,
      recompute: DISK_FROM_IMAGE_SEC,
      basis: `assumed: ${DISK_FROM_IMAGE_SEC} s from an image of ~${U} GB used (GCE restores the data behind the disk), against §6's 5 s for a blank disk`,
    },
    same('create the VM'),
    same('boot until'),
    same('install packages'),
    {
      phase: `format the data disk (${diskGb} GB) / mount it as it is`,
      fresh: ours(m, 'format the data disk').ours,
      carry: 0,
      recompute: 0,
      basis:
        'the disk already holds the file system; grown only when `--disk-size-gb` exceeds the base (online `resize2fs`: the new block groups only, not modelled here)',
    },
    {
      phase: "make the base's snapshots usable by containerd again",
      fresh: 0,
      carry: REUSE_SEC,
      recompute: REUSE_SEC,
      basis: 'estimate: metadata only (containerd reads its records of the reused snapshots, not their files)',
    },
    {
      phase: `fetch the layers (${f1(C)} GB compressed / only the changed ${f1(C * CHANGED)} GB)`,
      fresh: fetchFresh,
      carry: fetchFresh * CHANGED,
      recompute: fetchFresh * CHANGED,
      basis: `§6 rate, ${f0(CHANGED * 100)} % of the bytes`,
    },
    {
      phase: `unpack the layers (${U} GB / ${f1(newU)} GB)`,
      fresh: unpackFresh,
      carry: unpackNew,
      recompute: unpackNew,
      basis: `§6 rate, ${f0(CHANGED * 100)} % of the bytes`,
    },
    {
      phase: 'remove the snapshots no image of this build needs (the replaced layer)',
      fresh: 0,
      carry: REMOVE_SEC,
      recompute: REMOVE_SEC,
      basis: `estimate: unlinking ~${f1(newU)} GB of files is metadata work`,
    },
    {
      phase: `checksums (${U} GB / ${f1(newU)} GB new + ${f1(oldU)} GB reused)`,
      fresh: cksFresh,
      carry: cksNew,
      recompute: cksNew + cksOld,
      basis: `new snapshots: §6 rate (${f0(checksumMBps)} MB/s, page cache); reused ones recomputed: read back from the disk at ${f0(pdSsdMiBs)} MiB/s (${diskGb} GB pd-ssd), the bound`,
    },
    {
      phase: 'write the rest of the unpacked data to the data disk (sync before unmount)',
      fresh: writeFresh,
      carry: writeNew,
      recompute: writeNew,
      basis: `computed as §6, for the ${f1(newU)} GB written`,
    },
    same('notice that the VM is done'),
    same('detach the data disk'),
    same('delete the VM (alongside the image'),
    same(
      'create the image',
      `as §6 (assumed): an image holds every used block of the disk — ~${U} GB either way, not only what changed — and its creation time grows with them`,
    ),
    same('delete what is left'),
  ];
}

export function incrementalSection(r: ReportInput, detectionMedian: number): string[] {
  const m = buildModel(r, detectionMedian);
  const rows = incrementalRows(m);
  const sum = (pick: (x: Row) => number, upto?: string) => {
    let s = 0;
    for (const x of rows) {
      s += pick(x);
      if (upto && x.phase.startsWith(upto)) break;
    }
    return s;
  };
  const vmFrom = rows.findIndex((x) => x.phase.startsWith('boot until'));
  const vmTo = rows.findIndex((x) => x.phase.startsWith('write the rest'));
  const vm = (pick: (x: Row) => number) => rows.slice(vmFrom, vmTo + 1).reduce((a, x) => a + pick(x), 0);
  const cols: Array<[string, (x: Row) => number]> = [
    ['fresh', (x) => x.fresh],
    ['carry', (x) => x.carry],
    ['recompute', (x) => x.recompute],
  ];
  const totals = (name: string, f: (pick: (x: Row) => number) => number) => [name, ...cols.map(([, pick]) => secs(f(pick)))];
  const newU = m.U * CHANGED;
  return [
    '## 7. Incremental rebuilds',
    // The rig's measured figures go between these markers (bench/lib/incremental.ts writes them).
    '### Measured on the rig',
    `${INCREMENTAL_START}\n\n${INCREMENTAL_END}`,
    '### Time model on GCE',
    `The §6 build (${m.U} GB unpacked, ${f1(m.C)} GB fetched, a ${m.diskGb} GB pd-ssd data disk, n2-standard-16) built again after a release ` +
      `that changed one top layer of ${f0(CHANGED * 100)} % of the bytes: in full, and with \`--incremental\` (the data disk created from the ` +
      'previous image, so the VM fetches and unpacks only the changed layer). Two incremental columns, for the two ways to treat the checksums of the reused snapshots: ' +
      "**carried over** from the base image (trusting it; `verify` checks them) or **recomputed**. Phases the incremental build does not change are §6's.",
    table(
      ['phase', 'fresh build', 'incremental, checksums carried over', 'incremental, checksums recomputed', 'basis'],
      rows.map((x) => [x.phase, secs(x.fresh), secs(x.carry), secs(x.recompute), x.basis]),
      ['l', 'r', 'r', 'r', 'l'],
    ),
    table(
      ['', 'fresh build', 'incremental, carried over', 'incremental, recomputed'],
      [
        totals('VM at work (boot → done)', vm),
        totals('until the image exists', (pick) => sum(pick, 'create the image')),
        totals('until the build ends', (pick) => sum(pick)),
        ['fetched from registries', `${f1(m.C)} GB`, `${f1(m.C * CHANGED)} GB`, `${f1(m.C * CHANGED)} GB`],
        ['written to the data disk (unpacked bytes)', `${m.U} GB`, `${f1(newU)} GB`, `${f1(newU)} GB`],
        ['read back from the data disk', '0 GB', 'metadata only', `${f1(m.U - newU)} GB`],
      ],
      ['l', 'r', 'r', 'r'],
    ),
    '**Assumptions.** (1) Creating a disk from an image instead of a blank one: assumed ' +
      `${DISK_FROM_IMAGE_SEC} s against 5 s. (2) Reads of a disk restored from an image: GCE documents that a disk created from a standard ` +
      'snapshot "can immediately achieve its maximum performance and doesn\'t require pre-warming" ' +
      '([Restore from a snapshot](https://cloud.google.com/compute/docs/disks/restore-snapshot)); images are assumed to behave the same, so a ' +
      "reused block read back costs the disk's ordinary read rate. Were first reads slower (restored lazily, as EBS documents for its volumes), " +
      "only the recomputed column would grow: carrying the checksums over reads none of the old snapshots' data — the reuse touches " +
      "containerd's records and the directories it deletes, not the files of the layers it keeps. (3) Image creation: the image is made " +
      "from every used block of the disk, so it takes as long as a fresh build's (the §4 model's 300 s); it is the largest phase of both " +
      'builds, and no incremental build shortens it. For the same reason the blocks of the removed snapshots must be freed (trimmed) before ' +
      "the image is made, or each generation would carry its predecessors' garbage into the next image.",
    `**Reading the table.** An incremental rebuild saves the format (${secs(ours(m, 'format the data disk').ours)}), ${f0((1 - CHANGED) * 100)} % of the ` +
      'fetch and unpack, and — with checksums carried over — the checksum and write-back of the unchanged bytes: the VM works ' +
      `${secs(vm((x) => x.fresh) - vm((x) => x.carry))} less, which is also the VM time saved. Recomputing the checksums gives back ` +
      `${f0(((vm((x) => x.recompute) - vm((x) => x.carry)) / (vm((x) => x.fresh) - vm((x) => x.carry))) * 100)} % of that gain, ` +
      `because the ${f1(m.U - newU)} GB reused are no longer in any page cache and come back at the disk's rate. ` +
      'The end-to-end gain stays bounded by image creation, which is the same for both; it grows with the size of the images, since fetch and ' +
      'unpack grow with them while the small steps of reuse do not.',
  ];
}
