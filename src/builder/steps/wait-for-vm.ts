// Waits for the VM's outcome (docs/architecture.md, VM status): guest attributes at most once per interval (GCE allows 10 queries a
// minute per VM), the serial console streamed throughout and used as the fallback. Guest attributes decide whenever
// they can be read; a serial status line counts only as a whole line carrying the run's nonce, and while attributes
// can be read it only hastens their next read. The serial log in GCS is rewritten while the VM runs.
import { BuildError } from '../../errors.js';
import { ApiError } from '../../gcp/errors.js';
import { isTransient } from '../../gcp/retry.js';
import { deadline, sleep } from '../../io/abort.js';
import type { BuildContext } from '../context.js';
import { parseStatusLine } from '../serial-log.js';
import { asState, VmStatus } from '../vm-status.js';
import type { VmRun } from '../../config/types.js';
import type { Step } from './step.js';
import { PreemptionWatch } from '../preemption.js';

export const waitForVm: Step<VmRun> = {
  name: 'wait-vm',
  title: 'Waiting for the VM to pull and unpack the images',
  writes: ['vmOutcome', 'vmPhases', 'preemptions', 'tracked'],
  async run(ctx, signal) {
    const w = new VmWatcher(ctx);
    try {
      await w.watch(signal);
    } finally {
      // Not awaited either: the final copy is written with build.log and result.json at the end of the run.
      void ctx.logsUploader?.uploadSerial(deadline(ctx.tuning.logUploadTimeoutMs)).catch(() => undefined);
    }
  },
};

/** Reads of the console after the outcome, at most, waiting for its line to appear there too. */
const FINAL_SERIAL_READS = 4;
/**
 * Reads of guest attributes that still show no outcome after the console (with the run's nonce) did, before the
 * console's is taken: the script could not write them (it says so on the console), though they can be read.
 */
const UNCONFIRMED_ATTRIBUTE_READS = 3;

class VmWatcher {
  private readonly status: VmStatus;
  /** --spot: the VM's status, read on its own interval, tells a preemption (docs/architecture.md, Temporary resources). */
  private readonly preemption: PreemptionWatch;
  private attributesUsable = true;
  private serialFailures = 0;
  /** The outcome the console has shown (`gdib: state=succeeded|failed nonce=…`), with the error it gave. */
  private consoleOutcome?: { state: 'succeeded' | 'failed'; error?: string };
  /** Attribute reads since the console showed its outcome. */
  private readsSinceConsoleOutcome = 0;
  private nextAttributes = 0;
  /** The first error line of the console (`gdib: error=… nonce=…`). */
  private consoleError?: string;

  constructor(private readonly ctx: BuildContext) {
    this.status = new VmStatus(ctx);
    this.preemption = new PreemptionWatch(ctx);
  }

  /** Whether the VM's status is read (--spot): the one source that tells a preemption. */
  private get watchesStatus(): boolean {
    const c = this.ctx.config;
    return (c.kind === 'vm-build' || c.kind === 'vm-verify') && c.spot;
  }

  private get outcome() {
    return this.status.outcome;
  }

  async watch(signal: AbortSignal): Promise<void> {
    const { tuning } = this.ctx;
    let serialInterval = tuning.serialMinIntervalMs;
    let nextSerial = 0;
    let nextStatus = 0;
    let nextUpload = Date.now() + tuning.serialUploadIntervalMs;
    while (!this.outcome) {
      const now = Date.now();
      if (this.watchesStatus && now >= nextStatus) {
        await this.preemption.check(signal);
        nextStatus = Date.now() + tuning.instanceStatusIntervalMs;
      }
      if (now >= nextSerial) {
        const bytes = await this.readSerial(signal);
        // Sooner while output flows; back off while the VM is quiet (but faster when it is our only source).
        const max = this.attributesUsable ? tuning.serialMaxIntervalMs : tuning.serialMinIntervalMs;
        serialInterval = bytes > 0 ? tuning.serialMinIntervalMs : Math.min(max, serialInterval * 2);
        nextSerial = Date.now() + serialInterval;
      }
      if (!this.outcome && this.attributesUsable && Date.now() >= this.nextAttributes) {
        await this.readAttributes(signal);
        // Timed from the answer, not the request, so a slow answer followed by a fast one cannot bunch two reads.
        this.nextAttributes = Date.now() + tuning.guestAttributesIntervalMs;
      }
      if (Date.now() >= nextUpload) {
        nextUpload = Date.now() + tuning.serialUploadIntervalMs;
        // Not awaited: a slow or stuck GCS write must never hold up following the VM (writes are serialized).
        void this.ctx.logsUploader
          ?.uploadSerial(deadline(Math.max(tuning.serialUploadIntervalMs * 4, 10_000), signal))
          .catch((err: Error) => this.ctx.emit({ type: 'warning', message: `could not write the serial log to GCS: ${err.message}` }));
      }
      if (this.outcome) break;
      const wake = Math.min(
        nextSerial,
        this.attributesUsable ? this.nextAttributes : Infinity,
        this.watchesStatus ? nextStatus : Infinity,
        nextUpload,
      );
      await sleep(Math.max(0, wake - Date.now()), signal);
    }
    // The lines around the outcome (the error, the last summaries) are worth one more read. The script sets the
    // guest attribute before it prints the line, so the console may lag by a moment: a few more reads, a short
    // while apart, until the outcome line itself is there (only when the console answers).
    for (let i = 0; i < FINAL_SERIAL_READS && !this.consoleOutcome; i++) {
      if (i > 0) await sleep(this.ctx.tuning.serialSettleMs, signal);
      const failures = this.serialFailures;
      await this.readSerial(signal).catch(() => 0);
      if (this.serialFailures > failures) break;
    }
    for (const line of this.ctx.serial.flush()) this.onLine(line);
    // The attributes' outcome came without a reason: the console's, if it gave one.
    if (this.outcome === 'failed') this.status.apply({ error: this.consoleError });
    this.status.finishPhase();
    if (this.outcome === 'failed') {
      // A preempted VM's script is stopped, and may report that as its failure.
      await this.preemption.check(signal);
      this.ctx.state.vmOutcome = { state: 'failed', error: this.status.error };
      throw new BuildError(
        `the VM reported failure: ${this.status.error ?? `no reason given; see ${this.ctx.names.logs?.url ?? ''}serial-port-1.log`}`,
        'wait-vm',
      );
    }
    this.ctx.state.vmOutcome = { state: 'succeeded' };
  }

  private async readSerial(signal: AbortSignal): Promise<number> {
    try {
      const r = await this.ctx.serial.read(this.ctx.cloud.compute, this.ctx.names.vm, signal);
      this.serialFailures = 0;
      if (r.lostBytes > 0) this.ctx.emit({ type: 'serial-gap', lostBytes: r.lostBytes });
      for (const line of r.lines) this.onLine(line);
      return r.bytes;
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof ApiError && err.status === 404) {
        await this.preemption.check(signal);
        throw new BuildError(`the VM ${this.ctx.names.vm} no longer exists (deleted by someone else?)`, 'wait-vm');
      }
      this.serialFailures++;
      this.ctx.emit({ type: 'warning', message: `could not read the serial console: ${(err as Error).message}` });
      if (!this.attributesUsable && this.serialFailures >= 3)
        throw new BuildError(
          `cannot follow the VM: neither guest attributes nor the serial console can be read (${(err as Error).message})`,
          'wait-vm',
        );
      return 0;
    }
  }

  private async readAttributes(signal: AbortSignal): Promise<void> {
    let attrs: Record<string, string> | undefined;
    try {
      attrs = await this.ctx.cloud.compute.getGuestAttributes(this.ctx.names.vm, 'gdib', signal);
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof ApiError && !isTransient(err.info)) {
        this.attributesUsable = false;
        this.ctx.emit({
          type: 'warning',
          message: `guest attributes are unavailable (${err.message}); following the serial console instead`,
        });
        // The console is the one source now: what it already reported decides.
        this.status.apply({ error: this.consoleError, state: this.consoleOutcome?.state });
      }
      return;
    }
    if (attrs) this.status.apply({ state: asState(attrs.state), phase: attrs.phase, progress: attrs.progress, error: attrs.error });
    if (this.consoleOutcome && !this.outcome && ++this.readsSinceConsoleOutcome >= UNCONFIRMED_ATTRIBUTE_READS) {
      this.ctx.emit({
        type: 'warning',
        message: `the VM reported ${this.consoleOutcome.state} on its serial console, but its guest attributes still do not; taking the console's report`,
      });
      this.status.apply(this.consoleOutcome);
    }
  }

  private onLine(line: string): void {
    this.ctx.emit({ type: 'serial', line });
    const s = parseStatusLine(line, this.ctx.names.statusNonce);
    if (!s) return;
    if (s.error !== undefined) this.consoleError ??= s.error;
    if (s.state === 'succeeded' || s.state === 'failed') {
      if (!this.consoleOutcome) {
        this.consoleOutcome = { state: s.state, ...(this.consoleError !== undefined ? { error: this.consoleError } : {}) };
        // Guest attributes decide; the console only says when to read them next (now).
        if (this.attributesUsable) this.nextAttributes = 0;
      }
      if (this.attributesUsable) return;
    }
    // Phases and progress are shown from either source; a state and an error decide only when the console is the one source.
    this.status.apply(this.attributesUsable ? { phase: s.phase, progress: s.progress } : s);
  }
}
