// Node prints every process warning on stderr. The Google auth libraries emit some while they look for a GCE
// metadata server (MetadataLookupWarning: "received unexpected error ... code = EAI_AGAIN" when the network is
// down), which tell a user of the CLI nothing and land in the middle of its output. The CLI takes the warnings
// over: they are held until a build's diagnostic log takes them (build.log, and stderr with --log-level).

export interface WarningEmitter {
  on(event: 'warning', listener: (w: Error) => void): unknown;
  removeAllListeners(event: 'warning'): unknown;
}

/** Held before a log takes them: a bound, so a warning emitted in a loop cannot grow memory. */
const MAX_HELD = 50;

export class ProcessWarnings {
  private held: Error[] = [];
  private sink?: (w: Error) => void;

  /** Removes Node's printer of warnings (its only default 'warning' listener) and receives them instead. */
  static takeOver(proc: WarningEmitter): ProcessWarnings {
    const warnings = new ProcessWarnings();
    proc.removeAllListeners('warning');
    proc.on('warning', (w) => warnings.receive(w));
    return warnings;
  }

  receive(w: Error): void {
    if (this.sink) this.sink(w);
    else if (this.held.length < MAX_HELD) this.held.push(w);
  }

  /** Sends the held warnings, then each new one, to `sink` until the returned function is called. */
  drainTo(sink: (w: Error) => void): () => void {
    this.sink = sink;
    for (const w of this.held.splice(0)) sink(w);
    return () => {
      if (this.sink === sink) this.sink = undefined;
    };
  }
}
