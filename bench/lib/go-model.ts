// A model of the Go tool's on-VM work (its script/startup.sh), the baseline of the on-VM comparison (go-model.sh): the
// same steps in the same order, minus what both tools do alike outside the measured stage (installing packages,
// fetching a token). It formats the data disk with the same mkfs options; runs containerd with its root on the boot
// disk (the Debian package's /var/lib/containerd: the layers are unpacked there); pulls the images one after another;
// lists them into images.metadata; then for each committed snapshot makes a view, asks `ctr snapshot mount` where it
// lives, copies the directory to the data disk with `cp -r -p` and runs the md5 pipeline over the copy, one snapshot
// after another; removes the images; syncs and unmounts. Phases are marked with the product's `gdib: phase=` lines so
// the same harness times both.
import { readFileSync } from 'node:fs';
import type { Rig } from '../../test/rig/rig.js';
import { runMeasured, type OnVmRun, type RunOptions } from './on-vm.js';

const SCRIPT = readFileSync(new URL('./go-model.sh', import.meta.url), 'utf8');

/** Runs the model for `images` (pulled in this order) onto a fresh data disk, measured as the product's runs are. */
export function runGoModel(rig: Rig, label: string, images: string[], opts: RunOptions): Promise<OnVmRun> {
  return runMeasured(rig, label, SCRIPT, images, opts, (disk, runDir, work) => ({
    GDIB_DEVICE: disk.device,
    GDIB_MOUNT_DIR: `${runDir}/mnt`,
    GDIB_WORK_DIR: work,
    GDIB_HOSTS_DIR: rig.hostsDir,
  }));
}
