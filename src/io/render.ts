// Renders the core's events. Humans get stderr: on a terminal a live status line (phase, elapsed time, progress)
// kept below the scrolling serial log; elsewhere (CI, pipes) plain timestamped lines. --quiet keeps warnings,
// errors and the result. --json puts versioned events on stdout, one per line, the last one the result.
import type { BuildEvent } from '../builder/events.js';
import { formatMs } from '../errors.js';
import { sanitizeLine, sanitizeText } from './sanitize.js';

export interface TextSink {
  write(text: string): void;
}

export const JSON_VERSION = 1;

export interface RenderOptions {
  /** stderr is a terminal and not CI: draw the live status line. */
  live: boolean;
  quiet: boolean;
  /** Also write every event as JSON to `out`. */
  json?: TextSink;
  start?: number;
  now?: () => number;
}

export interface Renderer {
  (e: BuildEvent): void;
  /** Stops the status line's clock and erases it. */
  close(): void;
}

export function createRenderer(err: TextSink, opts: RenderOptions): Renderer {
  const now = opts.now ?? Date.now;
  const start = opts.start ?? now();
  let status = '';
  let statusShown = false;
  const stamp = () => (opts.live ? `[${clock(now() - start)}] ` : `${new Date(now()).toISOString()} `);
  const clearStatus = () => {
    if (statusShown) err.write('\r\x1b[2K');
    statusShown = false;
  };
  const drawStatus = () => {
    if (!opts.live || !status) return;
    err.write(`\r\x1b[2K${sanitizeLine(status)} · ${clock(now() - start)}`);
    statusShown = true;
  };
  const print = (text: string, important = false) => {
    if (opts.quiet && !important) return;
    clearStatus();
    // Events carry text from the VM's console, registries and APIs: its control characters are escaped here, the
    // one place the renderer writes text (its own escape sequences, for the status line, are written above).
    err.write(`${sanitizeText(text)}\n`);
    drawStatus();
  };
  const line = (text: string, important = false) => print(`${stamp()}${text}`, important);
  const setStatus = (s: string) => {
    status = s;
    if (!opts.quiet) drawStatus();
  };
  const timer = opts.live && !opts.quiet ? setInterval(drawStatus, 1000) : undefined;
  timer?.unref();

  const render = ((e: BuildEvent) => {
    opts.json?.write(`${JSON.stringify({ v: JSON_VERSION, time: new Date(now()).toISOString(), ...e })}\n`);
    switch (e.type) {
      case 'run-started':
        return line(`${e.mode === 'verify' ? 'Verifying' : 'Building'} (run ${e.runId})${e.logs ? `; logs: ${e.logs}` : ''}`);
      case 'step-started':
        setStatus(e.title);
        return line(`${e.title}…`);
      case 'step-finished':
        return undefined;
      case 'resource-created':
        return line(`  created ${e.kind} ${e.name}`);
      case 'resource-deleted':
        return line(`  deleted ${e.kind} ${e.name}`);
      case 'vm-phase':
        setStatus(`VM: ${e.phase}${e.progress ? ` (${e.progress})` : ''}`);
        return opts.live ? undefined : line(`VM: ${e.phase}${e.progress ? ` (${e.progress})` : ''}`);
      case 'vm-progress':
        setStatus(`${status.replace(/ \(.*\)$/, '')} (${e.progress})`);
        return opts.live ? undefined : line(`VM: ${e.progress}`);
      case 'serial':
        return print(`  vm | ${sanitizeLine(e.line)}`);
      case 'serial-gap':
        return line(`warning: ${e.lostBytes} bytes of serial output were lost (the VM wrote faster than GCE keeps)`, true);
      case 'warning':
        return line(`warning: ${e.message}`, true);
      case 'note':
        return line(e.message, true);
      case 'retry':
        return line(`  retrying ${e.call} (${e.cause}) in ${formatMs(e.delayMs)}`);
      case 'cleanup-started':
        setStatus('Cleaning up');
        return line(`Cleaning up: ${e.resources.join(', ')}`);
      case 'cleanup-failed':
        return line(`error: could not delete ${e.kind} ${e.name}: ${e.error}\n  Delete it by hand: ${e.command}`, true);
      case 'plan':
        return line(`Would create: ${e.resources.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
      case 'kept':
        return line(
          `Kept for debugging (--keep-on-failure): ${e.resources.map((r) => `${r.kind} ${r.name}`).join(', ')}\n  Reach the VM:  ${e.hints.join('\n                 ')}\n  Delete them:   ${e.resources.map((r) => r.command).join('\n                 ')}`,
          true,
        );
      case 'result':
        status = '';
        return line(`${e.result.state} in ${formatMs(Date.parse(e.result.finishedAt) - Date.parse(e.result.startedAt))}`);
    }
  }) as Renderer;
  render.close = () => {
    if (timer) clearInterval(timer);
    clearStatus();
  };
  return render;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
