// Follows the status the startup script reports (docs/architecture.md, VM status) — from guest attributes and serial
// lines alike — emitting phase and progress events, timing each phase, and keeping the first terminal state and error seen.
import type { BuildContext } from './context.js';
import type { StatusLine } from './serial-log.js';

export class VmStatus {
  private phase?: string;
  private phaseStartedAt = 0;
  outcome?: 'succeeded' | 'failed';
  error?: string;

  constructor(private readonly ctx: BuildContext) {}

  apply(s: StatusLine): void {
    if (s.error) this.error ??= s.error;
    if (s.phase && s.phase !== this.phase) {
      this.finishPhase();
      this.phase = s.phase;
      this.phaseStartedAt = Date.now();
      this.ctx.emit({ type: 'vm-phase', phase: s.phase, ...(s.progress ? { progress: s.progress } : {}) });
    } else if (s.progress) {
      this.ctx.emit({ type: 'vm-progress', progress: s.progress });
    }
    if ((s.state === 'succeeded' || s.state === 'failed') && !this.outcome) this.outcome = s.state;
  }

  /** Closes the timing of the current phase (at the end of the run). */
  finishPhase(): void {
    if (!this.phase) return;
    const phases = this.ctx.state.vmPhases;
    phases[this.phase] = (phases[this.phase] ?? 0) + (Date.now() - this.phaseStartedAt);
    this.phase = undefined;
  }
}

export function asState(v: string | undefined): StatusLine['state'] {
  return v === 'running' || v === 'succeeded' || v === 'failed' ? v : undefined;
}
