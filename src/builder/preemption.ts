// --spot (docs/architecture.md, Temporary resources): noticing that GCE preempted the build's VM, and what follows.
// A preempted Spot VM stops (instanceTerminationAction STOP, see src/gcp/bodies.ts): its status leaves RUNNING, and
// GCE records a compute.instances.preempted operation on it — which tells a preemption apart from someone stopping
// or deleting the VM. The data disk it was writing is worthless: both go, and the disk, the VM and the wait run
// again once, on fresh ones. A second preemption fails the build.
import { BuildError } from '../errors.js';
import type { BuildContext } from './context.js';
import { RunAgainFrom } from './runner.js';
import type { Tracked } from './cleanup.js';

/** Attempts a --spot build makes: the first, and one retry after a preemption. */
export const SPOT_ATTEMPTS = 2;

/** The statuses of a VM that no longer runs (GCE: STOPPING, then TERMINATED; SUSPENDED for a suspend). */
const NOT_RUNNING = new Set(['STOPPING', 'STOPPED', 'TERMINATED', 'SUSPENDING', 'SUSPENDED']);

export class PreemptionWatch {
  /** The id of the VM being watched (instances.get), which tells it apart from an earlier VM of the same name. */
  private id?: string;

  constructor(private readonly ctx: BuildContext) {}

  private get spot(): boolean {
    const c = this.ctx.config;
    return (c.kind === 'vm-build' || c.kind === 'vm-verify') && c.spot;
  }

  /**
   * Reads the VM's status; when it no longer runs (or is gone) and GCE preempted it, starts the retry (throws).
   * Does nothing without --spot.
   */
  async check(signal: AbortSignal): Promise<void> {
    if (!this.spot) return;
    const { compute } = this.ctx.cloud;
    const vm = await compute.getInstance(this.ctx.names.vm, signal);
    if (vm) this.id ||= vm.id;
    if (vm && !NOT_RUNNING.has(vm.status)) return;
    if (!this.id || !(await compute.wasPreempted(this.ctx.names.vm, this.id, signal))) return;
    await this.preempted(signal);
  }

  private async preempted(signal: AbortSignal): Promise<never> {
    const { ctx } = this;
    const n = (ctx.state.preemptions ?? 0) + 1;
    ctx.state.preemptions = n;
    const last = n >= SPOT_ATTEMPTS;
    ctx.emit({
      type: 'warning',
      message: last
        ? `GCE preempted the Spot VM ${ctx.names.vm} again (${n} preemptions); deleting it and its half-written data disk`
        : `GCE preempted the Spot VM ${ctx.names.vm}; deleting it and its half-written data disk, then retrying once on a fresh VM and data disk`,
    });
    // The VM first: the disk cannot be deleted while a VM (even a stopped one) holds it.
    await remove(ctx, ctx.state.tracked.vm, signal);
    await remove(ctx, ctx.state.tracked.disk, signal);
    ctx.state.tracked.vm = undefined;
    ctx.state.tracked.disk = undefined;
    if (last)
      throw new BuildError(
        `the Spot VM was preempted ${n} times (--spot): GCE needed the capacity back; run again later, in another zone, or without --spot`,
        'wait-vm',
      );
    ctx.serial.restart(`[gke-disk-image-builder: the VM was preempted; the output of the retry on a fresh VM follows]`);
    throw new RunAgainFrom('create-disk', `the Spot VM was preempted (attempt ${n} of ${SPOT_ATTEMPTS})`);
  }
}

/** Deletes a tracked resource now, and stops tracking it (a failure leaves it registered for cleanup). */
async function remove(ctx: BuildContext, t: Tracked | undefined, signal: AbortSignal): Promise<void> {
  if (!t || !ctx.cleanup.pending().includes(t)) return;
  await t.remove(signal);
  ctx.cleanup.release(t);
  ctx.emit({ type: 'resource-deleted', kind: t.kind, name: t.name });
}
