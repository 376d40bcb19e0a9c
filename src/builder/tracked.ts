// The temporary disk and VM as cleanup items (docs/architecture.md, Workflow): registered before their
// insert is sent; the VM's console read a last time before it is deleted; kept with --keep-on-failure; the image
// released from cleanup once it exists.
import type { VmRun } from '../config/types.js';
import type { DeleteOutcome } from '../gcp/types.js';
import { deadline } from '../io/abort.js';
import type { Tracked } from './cleanup.js';
import type { BuildContext } from './context.js';
import { deleteCommand } from './specs.js';

/**
 * Registers a temporary resource for cleanup *before* its insert is sent — an interrupt during the insert cannot
 * leak it — then creates it.
 */
export async function createTracked(
  ctx: BuildContext<VmRun>,
  kind: 'disk' | 'vm',
  name: string,
  remove: (s: AbortSignal) => Promise<DeleteOutcome>,
  insert: () => Promise<void>,
): Promise<void> {
  ctx.state.tracked[kind] = ctx.cleanup.register({
    kind,
    name,
    command: deleteCommand(ctx.config.projectName, kind === 'vm' ? 'instances' : 'disks', name, ctx.config.zone),
    remove,
  });
  await insert();
  ctx.emit({ type: 'resource-created', kind, name });
}

/**
 * Best effort and bounded (tuning.lastConsoleReadMs): a console that does not answer must never hold up the
 * delete. What it returns is kept for serial-port-1.log, not printed.
 */
export async function lastConsoleRead(ctx: BuildContext, signal: AbortSignal): Promise<void> {
  try {
    await ctx.serial.read(ctx.cloud.compute, ctx.names.vm, deadline(ctx.tuning.lastConsoleReadMs, signal));
    for (const line of ctx.serial.flush()) ctx.log.debug({ line }, 'serial');
  } catch (err) {
    ctx.log.debug({ err: String((err as Error)?.message ?? err) }, 'last read of the serial console failed');
  }
}

/** --keep-on-failure: leave the VM and the disk for debugging; returns what was kept. */
export function keepForDebugging(ctx: BuildContext): Tracked[] {
  const h = ctx.state.tracked;
  const kept = [h.vm, h.disk].filter((t): t is Tracked => t !== undefined && ctx.cleanup.pending().includes(t));
  for (const t of kept) ctx.cleanup.release(t);
  return kept;
}

/** The image exists: it is the product, not a temporary resource. */
export function keepImage(ctx: BuildContext): void {
  const h = ctx.state.tracked.image;
  if (h) ctx.cleanup.release(h);
}
