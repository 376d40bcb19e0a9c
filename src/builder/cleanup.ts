// Resources to delete, in reverse order of registration. A step registers a resource *before* sending its insert,
// so an interrupt in the middle of an insert cannot leak it; a 404 on delete counts as done.
import type { DeleteOutcome } from '../gcp/types.js';
import type { ResourceKind } from './events.js';

export interface Tracked {
  kind: ResourceKind;
  name: string;
  /** The command a user runs to delete it by hand. */
  command: string;
  remove: (signal: AbortSignal) => Promise<DeleteOutcome>;
}

export interface CleanupFailure extends Tracked {
  error: string;
}

export class CleanupRegistry {
  private readonly items: Tracked[] = [];
  private readonly running = new Set<Tracked>();

  register(item: Tracked): Tracked {
    this.items.push(item);
    return item;
  }

  /** The step deleted (or deliberately kept) the resource itself: nothing left to clean up. */
  release(item: Tracked): void {
    const i = this.items.indexOf(item);
    if (i >= 0) this.items.splice(i, 1);
  }

  pending(): readonly Tracked[] {
    return [...this.items];
  }

  /** What is being deleted right now (for a second Ctrl-C). */
  inProgress(): readonly Tracked[] {
    return [...this.running];
  }

  /** Deletes everything still registered, newest first; returns what could not be deleted. */
  async runAll(signal: AbortSignal, onDeleted: (t: Tracked) => void): Promise<CleanupFailure[]> {
    const failures: CleanupFailure[] = [];
    while (this.items.length > 0) {
      const item = this.items.pop()!;
      this.running.add(item);
      try {
        await item.remove(signal);
        onDeleted(item);
      } catch (err) {
        failures.push({ ...item, error: (err as Error).message ?? String(err) });
      } finally {
        this.running.delete(item);
      }
    }
    return failures;
  }
}
