// Process warnings are taken from Node's printer and held until a build's diagnostic log takes them.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProcessWarnings } from '../../src/io/warnings.js';

describe('ProcessWarnings', () => {
  it("replaces Node's printer, holds warnings until a log takes them, then passes each new one on", () => {
    const proc = new EventEmitter();
    const printed: Error[] = [];
    proc.on('warning', (w: Error) => printed.push(w)); // stands for Node's default printer
    const warnings = ProcessWarnings.takeOver(proc);
    const early = Object.assign(new Error('received unexpected error'), { name: 'MetadataLookupWarning' });
    proc.emit('warning', early);
    const logged: Error[] = [];
    const stop = warnings.drainTo((w) => logged.push(w));
    const late = new Error('later');
    proc.emit('warning', late);
    stop();
    proc.emit('warning', new Error('after the build'));
    expect(printed).toEqual([]);
    expect(logged).toEqual([early, late]);
  });
});
