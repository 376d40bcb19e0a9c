// The handler of `doctor` (docs/architecture.md, Handlers and the host; Doctor): its plan from the flags, then the
// checks (loaded with `await import()`), stopped by Ctrl-C or SIGTERM. Reads only; exit 0, 1 (a check failed) or 2
// (bad input, no credentials).
import type { RawFlags } from '../../config/flag.js';
import { failureExit, usageExit, withInterrupts, type Host } from '../../io/host.js';

export async function doctorHandler(flags: RawFlags, host: Host): Promise<number> {
  const { io, redactor, out, err } = host;
  let plan;
  try {
    const { parseDoctorPlan } = await import('./plan.js');
    plan = parseDoctorPlan({ flags }, io.env, io.cwd);
  } catch (e) {
    return usageExit(err, e, 'Run "gke-disk-image-builder doctor --help" for the flags.');
  }
  return withInterrupts(host, { kind: 'stop' }, async (signal) => {
    try {
      const { runDoctor } = await import('./command.js');
      return await runDoctor(plan, { env: io.env, redactor, out, err, signal, ...(io.tuning?.retry ? { retry: io.tuning.retry } : {}) });
    } catch (e) {
      return failureExit(host, e, signal);
    }
  });
}
