// The handler of `prune` (docs/architecture.md, Handlers and the host; Image lifetime): its plan from the flags,
// then the run (loaded with `await import()`). The first SIGINT/SIGTERM stops it between calls (the change in
// flight is finished, the rest skipped); a third exits at once.
import type { RawFlags } from '../../config/flag.js';
import { failureExit, usageExit, withInterrupts, type Host } from '../../io/host.js';

export async function pruneHandler(flags: RawFlags, host: Host): Promise<number> {
  const { io, redactor, out, err } = host;
  let config;
  try {
    const { parsePruneConfig } = await import('./parse.js');
    config = parsePruneConfig({ flags }, io.env, io.cwd);
  } catch (e) {
    return usageExit(err, e);
  }
  return withInterrupts(host, { kind: 'finish-in-flight' }, async (signal) => {
    try {
      const { runPrune } = await import('./run.js');
      return await runPrune(config, { env: io.env, redactor, out, err, signal, ...(io.tuning?.retry ? { retry: io.tuning.retry } : {}) });
    } catch (e) {
      return failureExit(host, e, signal);
    }
  });
}
