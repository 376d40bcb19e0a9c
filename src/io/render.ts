// Renders the core's events for a person, on stderr: one line per fact, serial output indented under "vm |".
import type { BuildEvent } from '../builder/events.js';
import { formatMs } from '../errors.js';

export interface TextSink {
  write(text: string): void;
}

export function createRenderer(err: TextSink, opts: { timestamps: boolean; start?: number }): (e: BuildEvent) => void {
  const start = opts.start ?? Date.now();
  const line = (text: string) => {
    const prefix = opts.timestamps ? `[${new Date().toISOString()}] ` : `[${clock(Date.now() - start)}] `;
    err.write(`${prefix}${text}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'run-started':
        return line(`${e.mode === 'verify' ? 'Verifying' : 'Building'} (run ${e.runId}); logs: ${e.logs}`);
      case 'step-started':
        return line(`${e.title}…`);
      case 'step-finished':
        return undefined;
      case 'resource-created':
        return line(`  created ${e.kind} ${e.name}`);
      case 'resource-deleted':
        return line(`  deleted ${e.kind} ${e.name}`);
      case 'vm-phase':
        return line(`VM: ${e.phase}${e.progress ? ` (${e.progress})` : ''}`);
      case 'vm-progress':
        return line(`VM: ${e.progress}`);
      case 'serial':
        return err.write(`  vm | ${e.line}\n`);
      case 'serial-gap':
        return line(`warning: ${e.lostBytes} bytes of serial output were lost (the VM wrote faster than GCE keeps)`);
      case 'warning':
        return line(`warning: ${e.message}`);
      case 'retry':
        return line(`  retrying ${e.call} (${e.cause}) in ${formatMs(e.delayMs)}`);
      case 'cleanup-started':
        return line(`Cleaning up: ${e.resources.join(', ')}`);
      case 'cleanup-failed':
        return line(`error: could not delete ${e.kind} ${e.name}: ${e.error}\n  Delete it by hand: ${e.command}`);
      case 'result':
        return line(`${e.result.state} in ${formatMs(Date.parse(e.result.finishedAt) - Date.parse(e.result.startedAt))}`);
    }
  };
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
