// What flows between the steps of a run (docs/architecture.md, Workflow): each step declares the state
// it reads and writes, and a list in which a step reads what no earlier step writes is refused when it is built,
// before any step runs.
import { RUN_OWNED_STATE, type StateKey } from './context.js';

/** What `checkStepFlow` needs of a step in a list (its reads resolved for the run). */
export interface StepFlow {
  name: string;
  reads?: readonly StateKey[];
  writes?: readonly StateKey[];
  skippedWhenUnchanged?: boolean;
  alongside?: boolean;
}

/**
 * Throws when a step reads a field that no earlier step is sure to have written: none writes it, or only a step that
 * --if-changed may skip (and the reader is not skipped with it), or only one that runs alongside (it may not have
 * finished). A programming error, not the user's: it names the step and the field.
 */
export function checkStepFlow(steps: readonly StepFlow[]): void {
  const always = new Set<StateKey>(RUN_OWNED_STATE);
  const unlessUnchanged = new Set<StateKey>();
  const alongside = new Set<StateKey>();
  for (const step of steps) {
    for (const key of step.reads ?? []) {
      if (always.has(key) || (step.skippedWhenUnchanged && unlessUnchanged.has(key))) continue;
      const why = unlessUnchanged.has(key)
        ? 'only a step that --if-changed may skip writes it before'
        : alongside.has(key)
          ? 'only a step running alongside writes it before, and it may not have finished'
          : 'no step before it writes it';
      throw new Error(`step "${step.name}" reads state.${key}, but ${why} (steps: ${steps.map((s) => s.name).join(', ')})`);
    }
    const into = step.alongside ? alongside : step.skippedWhenUnchanged ? unlessUnchanged : always;
    for (const key of step.writes ?? []) into.add(key);
  }
}
