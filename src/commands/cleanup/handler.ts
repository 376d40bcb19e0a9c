// The handler of `cleanup` (docs/architecture.md, Handlers and the host): its plan from the flags, then the run
// (loaded with `await import()`), stopped between calls by Ctrl-C or SIGTERM.
import type { RawFlags } from '../../config/flag.js';
import { failureExit, usageExit, withInterrupts, type Host } from '../../io/host.js';

export async function cleanupHandler(flags: RawFlags, host: Host): Promise<number> {
  const { io, redactor, out, err } = host;
  let config;
  try {
    const { parseCleanupPlan } = await import('./plan.js');
    config = parseCleanupPlan({ flags }, io.env, io.cwd);
  } catch (e) {
    return usageExit(err, e);
  }
  return withInterrupts(host, { kind: 'stop' }, async (signal) => {
    try {
      const { runCleanup } = await import('./run.js');
      return await runCleanup(config, { env: io.env, redactor, out, err, signal });
    } catch (e) {
      return failureExit(host, e, signal);
    }
  });
}
